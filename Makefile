# The two commands a newcomer needs: `make demo` and `make test`. Both set up everything
# they need: a virtual environment in .venv, and the system packages where the machine lets us.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# System packages: tesseract (OCR), fonts for the OCR tests, ctags (benchmark baseline),
# OpenBLAS (MLX on Linux otherwise runs on a reference BLAS ~30x slower), Neovim (a real
# third-party LSP client for the tests), a word list (the model-free readability check).
APT_PACKAGES := tesseract-ocr tesseract-ocr-eng fonts-dejavu-core universal-ctags libopenblas0-pthread neovim wamerican nginx-light

.PHONY: demo test e2e vsix bench pretrain system venv clean

demo: venv system
	$(PY) -m trm_lsp demo

test: venv system
	$(PY) -m pytest -q -m "not slow"

e2e: venv system $(VENV)/.installed-e2e
	$(PY) scripts/e2e_smoke.py
	$(PY) -m pytest -q -m slow
	TRM_FUZZ_PROFILE=deep $(PY) -m pytest -q tests/test_fuzz.py

# The VS Code extension, packaged to editors/vscode/trm-lsp.vsix (needs Node.js 20+ and npm).
vsix:
	@command -v npm >/dev/null || bash scripts/install-system-packages.sh nodejs npm
	cd editors/vscode && npm ci --no-audit --no-fund && npm run compile && npx vsce package --out trm-lsp.vsix

# llama-cpp-python (the e2e teacher and the readability judge) has no CPU wheels on PyPI, so pip
# builds it from source: about 6 minutes on 2 cores.
#
# Portable, not native. llama.cpp builds for the build machine's CPU by default (GGML_NATIVE=ON,
# -march=native). On a CPU that reports AMX (amx_int8/amx_tile: Sapphire Rapids and later) that
# compiles ggml's AMX kernels (`__AMX_INT8__ && __AVX512VNNI__`), and SmolLM2's Q4_1 weights are
# one of the types they repack (`qtype_has_amx_kernels`). ggml asks the kernel for AMX tile state
# with arch_prctl(ARCH_REQ_XCOMP_PERM) on the loading thread only, and the worker threads that
# run `ggml_backend_amx_mul_mat` fault on their first tile instruction in VMs that enforce it
# per thread: loading works, the first evaluation dies with SIGSEGV (llama.cpp PR #26954; DSPy
# CI dropped the AMX variant for the same crash). The same 0.3.36 built with AVX-512 and without
# AMX runs on AVX-512 machines (an AMD EPYC with AVX-512 and no AMX). GGML_NATIVE=OFF builds
# the x86-64-v3 kernels (AVX2, FMA, F16C, BMI2; no AVX-512, no AMX) on x86-64 and the baseline
# armv8 kernels on arm64, so one wheel runs on every machine of this kind; for a 135M test teacher
# and judge the AVX-512 kernels it gives up matter little.
#
# The pin is exact: a new upstream release changes the vendored llama.cpp and must be tried here
# first. The wheel is built into the venv with pip's cache off, so a wheel cached from another
# machine (or from a native build) is never reused; `rm -rf .venv` rebuilds it.
LLAMA_CPP_PYTHON := llama-cpp-python==0.3.36
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF
$(VENV)/.installed-e2e: pyproject.toml $(STAMP)
	rm -rf $(VENV)/wheels
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PY) -m pip wheel -q --no-deps --no-cache-dir -w $(VENV)/wheels '$(LLAMA_CPP_PYTHON)'
	$(PY) -m pip install -q $(VENV)/wheels/llama_cpp_python-*.whl
	$(PY) -m pip install -q -e '.[test,e2e]'
	touch $@

# The pretrained base student shipped in trm_lsp/student/base/: harvest (code, doc comment) pairs
# from the sources installed here (Debian's Go, Rust and JDK sources, npm packages, the venv's and
# Debian's Python packages; never Python's standard library), then pretrain on them. At most
# 2 hours on 2 cores; stop it at any time and run it again to resume (state in .pretrain/).
pretrain: venv system
	bash scripts/install-pretrain-sources.sh
	$(PY) -m trm_lsp pretrain --out .pretrain --resume
	rm -rf trm_lsp/student/base
	cp -r .pretrain/base trm_lsp/student/base

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
