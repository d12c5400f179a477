"""A third-party LSP client: Debian's Neovim, headless, with only editors/neovim's config."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.serve.conftest import position_of

EDITORS = Path(__file__).resolve().parents[2] / "editors"
LAB = Path(__file__).resolve().parents[2] / "data" / "logic_lab"

pytestmark = pytest.mark.skipif(shutil.which("nvim") is None, reason="neovim is not installed (make system)")


def nvim_hover(root: Path, file: Path, needle: str, offset: int, tmp_path: Path) -> str:
    line, col = position_of(file, needle)
    out = tmp_path / "hover.md"
    env = {**os.environ, "TRM_EDITORS": str(EDITORS), "TRM_OUT": str(out), "TRM_FILE": str(file),
           "TRM_LINE": str(line), "TRM_COL": str(col + offset), "TRM_PYTHON": sys.executable,
           "TRM_LSP_BLAS": "reference"}
    subprocess.run(["nvim", "--headless", "--clean", "-c", f"luafile {Path(__file__).parent / 'nvim_hover.lua'}"],
                   cwd=root, env=env, timeout=180, check=False, capture_output=True)
    return out.read_text(encoding="utf-8") if out.exists() else "ERROR: neovim wrote nothing"


def test_neovim_gets_a_hover_on_a_standard_library_file(tmp_path):
    root = tmp_path / "stdlib-json"
    shutil.copytree(Path(sysconfig.get_paths()["stdlib"]) / "json", root / "json")
    (root / ".git").mkdir()  # a root marker, as in a real checkout
    decoder = root / "json" / "decoder.py"
    text = nvim_hover(root, decoder, "def py_scanstring", 6, tmp_path)
    assert "**py_scanstring**" in text and "json/decoder.py" in text, text


def test_neovim_hover_in_the_demo_workspace(tmp_path):
    root = tmp_path / "logic_lab"
    shutil.copytree(LAB, root, ignore=shutil.ignore_patterns(".trm-lsp", "*.png"))
    (root / "trm-lsp.toml").write_text("[serve]\ndistill = false\n", encoding="utf-8")
    text = nvim_hover(root, root / "factorial.py", "def factorial_iterative", 6, tmp_path)
    assert "**factorial_iterative**" in text and "factorial.py:13" in text, text
