"""Shared fixtures: a scratch workspace and the real `trm-lsp` command."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fake_teacher import FakeTeacher

FIXTURES = Path(__file__).parent / "fixtures"
SHARED = Path(__file__).resolve().parents[2] / "shared"


def corpus_sample(path: Path, lines: int) -> Path:
    """The first `lines` samples of the shared corpus' training split, written to `path`; the test
    is skipped where ../shared is not beside the checkout (CI has it)."""
    corpus = SHARED / "corpus" / "stdlib_smollm2.train.jsonl"
    if not corpus.exists():
        pytest.skip("../shared/corpus is not beside this checkout")
    path.write_text("".join(corpus.read_text().splitlines(keepends=True)[:lines]))
    return path


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


def descendants(pid: int) -> set[int]:
    """Every process below `pid` now (from /proc), so a test can check none outlive it."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier and child not in found}
        found |= frontier
    return found


def alive(pids: set[int], within: float = 5.0) -> set[int]:
    """Those of `pids` still running (not zombies) after up to `within` seconds."""
    import time

    deadline = time.monotonic() + within
    while True:
        running = set()
        for pid in pids:
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state != "Z":
                running.add(pid)
        if not running or time.monotonic() > deadline:
            return running
        time.sleep(0.1)


@pytest.fixture
def fake_teacher():
    """The Ollama-speaking stand-in, on a free loopback port."""
    with FakeTeacher() as teacher:
        yield teacher
