"""`python -m trm_lsp`: the current directory (often the user's workspace) leaves `sys.path`
before anything else is imported; see `trm_lsp.interpreter`."""

from trm_lsp.interpreter import drop_current_directory

drop_current_directory()

from trm_lsp.cli import main  # noqa: E402 (after the path is safe)

if __name__ == "__main__":
    raise SystemExit(main())
