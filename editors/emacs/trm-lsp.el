;;; trm-lsp.el --- trm-lsp with eglot (Emacs 29+ ships eglot)  -*- lexical-binding: t; -*-
;;
;; (load "/path/to/trm-lsp/editors/emacs/trm-lsp.el")
;; then M-x eglot in a Python, Go, Rust, Java, C/C++, JS/TS or shell buffer.
;; Hover shows in the echo area / eldoc buffer; code lenses need Emacs 30's eglot.

(require 'eglot)

(defgroup trm-lsp nil "Local code explainer." :group 'tools)

(defcustom trm-lsp-command '("trm-lsp" "serve" "--stdio")
  "The command that starts the trm-lsp language server."
  :type '(repeat string))

(defcustom trm-lsp-settings nil
  "Settings sent as initializationOptions: the same keys as trm-lsp.toml, e.g.
'(:teacher (:model \"deepseek-r1:1.5b\"))."
  :type 'plist)

(defun trm-lsp--contact (_interactive)
  (append trm-lsp-command (when trm-lsp-settings (list :initializationOptions trm-lsp-settings))))

(dolist (mode '(python-mode python-ts-mode go-mode go-ts-mode rust-mode rust-ts-mode java-mode java-ts-mode
                c-mode c-ts-mode c++-mode c++-ts-mode js-mode js-ts-mode typescript-mode typescript-ts-mode
                tsx-ts-mode sh-mode bash-ts-mode))
  (add-to-list 'eglot-server-programs `(,mode . trm-lsp--contact)))

(provide 'trm-lsp)
;;; trm-lsp.el ends here
