# The two commands a newcomer needs: `make demo` and `make test`. Both set up everything
# they need: a virtual environment in .venv, and the system packages where the machine lets us.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# System packages: tesseract (OCR), fonts for the OCR tests, ctags (benchmark baseline),
# OpenBLAS (MLX on Linux otherwise runs on a reference BLAS ~30x slower), Neovim (a real
# third-party LSP client for the tests).
APT_PACKAGES := tesseract-ocr tesseract-ocr-eng fonts-dejavu-core universal-ctags libopenblas0-pthread neovim

.PHONY: demo test e2e vsix bench system venv clean

demo: venv system
	$(PY) -m trm_lsp demo

test: venv system
	$(PY) -m pytest -q -m "not slow"

e2e: venv system $(VENV)/.installed-e2e
	$(PY) -m pytest -q -m slow

# The VS Code extension, packaged to editors/vscode/trm-lsp.vsix (needs Node.js 20+ and npm).
vsix:
	@command -v npm >/dev/null || bash scripts/install-system-packages.sh nodejs npm
	cd editors/vscode && npm ci --no-audit --no-fund && npm run compile && npx vsce package --out trm-lsp.vsix

# llama-cpp-python builds from source (about 8 minutes on 2 cores the first time; pip caches it).
$(VENV)/.installed-e2e: pyproject.toml $(STAMP)
	$(PY) -m pip install -q -e '.[test,e2e]'
	touch $@

bench: venv system
	$(PY) bench/index_speed.py
	$(PY) bench/python_ast_oracle.py
	$(PY) bench/ctags_compare.py
	$(PY) bench/documents_speed.py
	$(PY) bench/distill_overhead.py

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

system:
	@bash scripts/install-system-packages.sh $(APT_PACKAGES)

clean:
	rm -rf $(VENV) build *.egg-info bench/results editors/vscode/node_modules editors/vscode/out editors/vscode/*.vsix
