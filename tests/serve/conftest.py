"""A real LSP client (pytest-lsp) over stdio against `trm-lsp serve`, on a copy of the sample
workspace, with the Ollama-speaking stand-in as the teacher."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import time
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import ClientServerConfig

from tests.conftest import free_port, run_cli
from tests.fake_teacher import FakeTeacher

LAB = Path(__file__).resolve().parents[2] / "data" / "logic_lab"
TINY_ARGS = ["--from-scratch", "--dim", "32", "--heads", "2", "--layers", "1", "--latent", "1", "--epochs", "1",
             "--batch_size", "4",
             "--vocab", "400"]


def lab_copy(tmp_path: Path, teacher_url: str, *, distill: bool = True, mcp_port: int | None = None,
             extra: str = "", documents: bool = False) -> Path:
    """The sample workspace (code only unless `documents`: OCR is slow), configured for tests."""
    root = tmp_path / "ws"
    # Never the state a `make demo` left in data/logic_lab: each test starts from the files alone.
    skipped = (".trm-lsp",) if documents else (".trm-lsp", "*.png", "*.pdf", "*.docx", "*.vsdx", "*.drawio")
    ignore = shutil.ignore_patterns(*skipped)
    shutil.copytree(LAB, root, ignore=ignore)
    (root / "trm-lsp.toml").write_text(f"""
[teacher]
host = "{teacher_url}"
probe_interval = 0.5
backoff_initial = 0.1
breaker_failures = 1
timeout = 20

[serve]
distill = {str(distill).lower()}
retrain_after = 0
mcp_port = {mcp_port if mcp_port is not None else free_port()}
debounce_ms = 100
{extra}
""", encoding="utf-8")
    return root


def train_tiny_student(root: Path) -> None:
    """Teacher answers from `trm-lsp distill` (run before), a tiny student trained on them."""
    run_cli("export", str(root), "-o", str(root / ".trm-lsp" / "train.jsonl"))
    run_cli("train", "--data_path", str(root / ".trm-lsp" / "train.jsonl"), "--out", str(root / ".trm-lsp" / "student"),
            *TINY_ARGS, timeout=300)


@pytest.fixture
def teacher():
    with FakeTeacher() as fake:
        yield fake


@asynccontextmanager
async def lsp(root: Path | None, *, capabilities: types.ClientCapabilities | None = None, options: dict | None = None,
              args: tuple[str, ...] = (), command: list[str] | None = None, cwd: Path | None = None,
              env: dict[str, str] | None = None, handlers: dict | None = None, folders: list[Path] | None = None):
    """A started, initialized client; shut down cleanly on exit. `command`, `cwd` and `env`
    start the server as an editor does (the `trm-lsp` script, in the workspace folder); `root`
    None opens no folder; `folders` opens these instead of `root` alone; `handlers` answer the
    server's requests (method -> function)."""
    config = ClientServerConfig(server_command=command or [sys.executable, "-m", "trm_lsp", "serve", *args])
    client = config.client_factory()
    for method, handler in (handlers or {}).items():
        client.feature(method)(handler)
    await client.start_io(*config.server_command, cwd=cwd, env=env)
    caps = capabilities or types.ClientCapabilities(
        window=types.WindowClientCapabilities(work_done_progress=True,
                                              show_document=types.ShowDocumentClientCapabilities(support=True)),
        workspace=types.WorkspaceClientCapabilities(code_lens=types.CodeLensWorkspaceClientCapabilities(
            refresh_support=True), configuration=False))
    await client.initialize_session(types.InitializeParams(
        capabilities=caps, root_uri=root.as_uri() if root else None, initialization_options=options,
        workspace_folders=[types.WorkspaceFolder(uri=f.as_uri(), name=f.name) for f in folders or [root]] if root else None))
    try:
        yield client
    finally:
        if client.error is None:
            await client.shutdown_session()
        await client.stop()


async def status(client) -> dict:
    return await client.workspace_execute_command_async(types.ExecuteCommandParams(command="trm-lsp.status"))


async def wait_for(client, predicate, timeout: float = 60.0) -> dict:
    """Poll `trm-lsp.status` until `predicate(status)` holds."""
    deadline = time.monotonic() + timeout
    while True:
        state = await status(client)
        if predicate(state):
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; last status {json.dumps(state)}")
        await asyncio.sleep(0.1)


async def hover(client, path: Path, line: int, character: int) -> types.Hover | None:
    return await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=path.as_uri()),
        position=types.Position(line=line, character=character)))


def position_of(path: Path, needle: str) -> tuple[int, int]:
    """0-based (line, column) of the first occurrence of `needle`."""
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines()):
        column = text.find(needle)
        if column >= 0:
            return number, column
    raise AssertionError(f"{needle!r} not in {path}")


def type_unsaved(client, path: Path, text: str) -> None:
    """Open `path` in the editor as it is on disk, then make its buffer `text` (not saved)."""
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=path.as_uri(), language_id="python", version=1, text=path.read_text(encoding="utf-8"))))
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=path.as_uri(), version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))
