"""The language server's core: which folder's `Daemon` a document belongs to, settings, the
reporter a daemon talks through, the client log, and `build_server`, which registers each
feature module (`lifecycle`, `documents`, `hover`, `code_lens`, `commands`)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from lsprotocol import types
from pygls.exceptions import JsonRpcInternalError
from pygls.lsp.server import LanguageServer

from trm_lsp import __version__
from trm_lsp.config import Settings
from trm_lsp.serve import lookup
from trm_lsp.serve.daemon import Daemon
from trm_lsp.serve.lsp.progress import ProgressTask
from trm_lsp.serve.rpc import TrmProtocol, quiet_refusals
from trm_lsp.serve.tasks import supervise
from trm_lsp.store import StoreError
from trm_lsp.store.recover import is_damage, mark_damaged

log = logging.getLogger(__name__)

SECTION = "trm-lsp"
#: A log record's attribute: the user was shown it already (`window/showMessage`).
SHOWN = "trm_lsp_shown"
#: Keys of the client's `trm-lsp` section that configure the editor extension, not the server.
CLIENT_KEYS = frozenset({"serverCommand", "trace"})
_LEVELS = {"error": types.MessageType.Error, "warning": types.MessageType.Warning, "info": types.MessageType.Info}


class TrmLanguageServer(LanguageServer):
    def __init__(self, mcp: bool = True, mcp_port: int | None = None) -> None:
        super().__init__("trm-lsp", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
                         protocol_cls=TrmProtocol)
        self.daemons: dict[Path, Daemon] = {}
        self.unserved: dict[Path, str] = {}  # folders that could not be opened, and why (`trm-lsp.status`)
        self.options: dict[str, Any] = {}
        self.mcp_enabled, self.mcp_port = mcp, mcp_port
        self.mcp = None  # McpHandle once MCP serves
        self.stopping: asyncio.Future | None = None
        self.tasks: set[asyncio.Task] = set()  # the server's own background work (serve/tasks.py)

    # -- routing ---------------------------------------------------------------------------------

    def daemon_for(self, uri: str) -> tuple[Daemon, str] | tuple[None, None]:
        """The daemon whose folder holds this document, and its workspace-relative path."""
        for root in sorted(self.daemons, key=lambda p: -len(p.parts)):
            rel = lookup.uri_to_rel(uri, root)
            if rel is not None:
                return self.daemons[root], rel
        return None, None

    def settings_for(self, root: Path, options: dict[str, Any]) -> Settings:
        """The folder's settings: its trm-lsp.toml, then the client's options; a bad key falls
        back to its default alone, and the editor is told which."""
        options = {k: v for k, v in options.items() if k not in CLIENT_KEYS}
        settings, problems = Settings.load_lenient(root, options)
        for problem in problems:
            self.notify("error", f"trm-lsp: bad setting: {problem}; using the default for it")
        return settings

    def spawn(self, coro, name: str) -> asyncio.Task:
        return supervise(coro, name, self.tasks, lambda what, exc: self.notify("error", f"trm-lsp: {what} failed: {exc}"))

    @contextmanager
    def store_guard(self, daemon: Daemon) -> Iterator[None]:
        """Around a request's store reads: an error that means the file is damaged becomes
        `damaged(...)`'s reply (and the rebuild); any other error passes unchanged."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                raise
            raise self.damaged(daemon, exc) from None

    def damaged(self, daemon: Daemon, exc: BaseException) -> JsonRpcInternalError:
        """The store broke under a request: mark it, start the folder afresh (the new daemon's
        open rebuilds the store, keeping every readable teacher answer, and says so once), and
        give the request an error that says what is happening."""
        if self.daemons.get(daemon.root) is daemon:
            log.error("the index of %s is damaged (%s); rebuilding it", daemon.root, exc)
            mark_damaged(daemon.store.path, str(exc))
            del self.daemons[daemon.root]
            self.spawn(self._reopen(daemon), "rebuilding the index")
        return JsonRpcInternalError(f"the index of {daemon.root.name} is damaged and is being rebuilt; try again shortly")

    async def _reopen(self, old: Daemon) -> None:
        await old.stop()
        await open_folder(self, old.root)
        new = self.daemons.get(old.root)
        if new is not None and old.mcp_url:  # MCP keeps serving (it asks `daemons` for the current one)
            new.mcp_url = old.mcp_url
            new.write_daemon_file()

    # -- reporter (what a Daemon needs from its front end) -----------------------------------------

    def begin(self, title: str, cancel: Callable[[], None] | None = None) -> "ProgressTask":
        return ProgressTask(self, title, cancel)

    def notify(self, level: str, message: str) -> None:
        # To stderr (whose format names trm-lsp already); not to the output panel as well
        # (`ClientLog`), where it would say it twice.
        log.log(logging.WARNING if level != "info" else logging.INFO, "%s", message.removeprefix("trm-lsp: "),
                extra={SHOWN: True})
        self.window_show_message(types.ShowMessageParams(type=_LEVELS.get(level, types.MessageType.Info),
                                                         message=message))

    def answers_changed(self) -> None:
        caps = self.client_capabilities.workspace
        if caps and caps.code_lens and caps.code_lens.refresh_support:
            self.workspace_code_lens_refresh(None)

    def supports_progress(self) -> bool:
        window = self.client_capabilities.window
        return bool(window and window.work_done_progress)


class ClientLog(logging.Handler):
    """trm-lsp's log records at INFO and above, also as `window/logMessage` (the editor's
    output panel); sent from the loop thread whichever thread logged."""

    def __init__(self, ls: TrmLanguageServer, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(logging.INFO)
        self.ls, self.loop = ls, loop

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith("trm_lsp") or getattr(record, SHOWN, False):
            return
        kind = (types.MessageType.Error if record.levelno >= logging.ERROR else types.MessageType.Warning
                if record.levelno >= logging.WARNING else types.MessageType.Info)
        params = types.LogMessageParams(type=kind, message=self.format(record))
        try:
            self.loop.call_soon_threadsafe(self.ls.window_log_message, params)
        except RuntimeError:  # the loop is closing
            return


def build_server(mcp: bool = True, mcp_port: int | None = None) -> TrmLanguageServer:
    from trm_lsp.serve.lsp import code_lens, commands, documents, hover, lifecycle

    server = TrmLanguageServer(mcp, mcp_port)
    logging.getLogger("pygls.protocol.json_rpc").addFilter(quiet_refusals)
    for feature in (lifecycle, documents, hover, code_lens, commands):
        feature.register(server)
    return server


def begin_stop(ls: TrmLanguageServer) -> asyncio.Future:
    """The one stop of everything, started once: `shutdown`, `exit` and the end of the stdio loop
    (stdin closed, SIGTERM) all wait on it. Two stops at once left the first cancelled half-way
    when the second ended the loop: its daemons never closed, their daemon.json stayed."""
    if ls.stopping is None:
        ls.stopping = asyncio.ensure_future(_stop_everything(ls))
    return ls.stopping


async def stop_all(ls: TrmLanguageServer) -> None:
    await asyncio.shield(begin_stop(ls))


async def _stop_everything(ls: TrmLanguageServer) -> None:
    if ls.mcp is not None:
        await ls.mcp.stop()
        ls.mcp = None
    for daemon in list(ls.daemons.values()):
        await daemon.stop()
    ls.daemons.clear()


async def open_folder(ls: TrmLanguageServer, root: Path) -> None:
    """Serve one workspace folder; one that cannot be served is said so and the others go on."""
    try:
        daemon = Daemon(root, ls.settings_for(root, ls.options), reporter=ls)
    except StoreError as exc:
        ls.unserved[root] = str(exc)
        ls.notify("error", f"trm-lsp: {root.name} is not indexed, and its hovers stay empty: {exc}")
        return
    ls.unserved.pop(root, None)
    ls.daemons[daemon.root] = daemon
    await daemon.start()


async def client_configuration(ls: TrmLanguageServer) -> dict | None:
    caps = ls.client_capabilities.workspace
    if not (caps and caps.configuration):
        return None
    try:
        result = await asyncio.wait_for(ls.workspace_configuration_async(types.ConfigurationParams(
            items=[types.ConfigurationItem(section=SECTION)])), 5)
    except Exception as exc:  # a client that says it can and then cannot: keep initializationOptions
        log.warning("workspace/configuration failed: %s", exc)
        return None
    return result[0] if result and isinstance(result[0], dict) and result[0] else None


def roots(ls: TrmLanguageServer) -> list[Path]:
    folders = list(ls.workspace.folders.values())
    uris = [f.uri for f in folders] or ([ls.workspace.root_uri] if ls.workspace.root_uri else [])
    return [p for p in (lookup.uri_to_path(u) for u in uris) if p is not None]  # open_folder says which it cannot serve


