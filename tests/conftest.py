"""Shared fixtures: a scratch workspace and the real `trm-lsp` command."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
SHARED = Path(__file__).resolve().parents[2] / "shared"


def run_cli(*args: str, cwd: Path | None = None, check: bool = True, timeout: float = 120,
            env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `python -m trm_lsp ...` as a user would run `trm-lsp ...`."""
    full_env = {**os.environ, **(env or {})}
    result = subprocess.run([sys.executable, "-m", "trm_lsp", *args], cwd=cwd, capture_output=True,
                            text=True, timeout=timeout, env=full_env)
    if check and result.returncode != 0:
        raise AssertionError(f"trm-lsp {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result


def index_rows(workspace: Path, *extra: str) -> list[dict]:
    out = run_cli("index", str(workspace), "--json", *extra).stdout
    return [json.loads(line) for line in out.splitlines()]


def free_port() -> int:
    """A loopback port nothing listens on (for "connection refused" and for servers we start)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


def write(root: Path, rel: str, content: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path
