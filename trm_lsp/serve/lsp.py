"""The language server (pygls 2): hover, code lens, the `trm-lsp.*` commands, document sync
and settings, each answered from the `Daemon` of the workspace folder the document lives in."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sqlite3
import stat
import uuid
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from lsprotocol import types
from pygls.exceptions import JsonRpcInternalError, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer

from trm_lsp import __version__
from trm_lsp.config import Settings
from trm_lsp.serve import lookup
from trm_lsp.serve.daemon import Daemon
from trm_lsp.serve.render import explanation_document, hover_markdown
from trm_lsp.serve.rpc import TrmProtocol
from trm_lsp.serve.tasks import supervise
from trm_lsp.store.recover import is_damage, mark_damaged

log = logging.getLogger(__name__)

SECTION = "trm-lsp"
#: Keys of the client's `trm-lsp` section that configure the editor extension, not the server.
CLIENT_KEYS = frozenset({"serverCommand", "trace"})
COMMANDS = ("trm-lsp.explain", "trm-lsp.status", "trm-lsp.distill", "trm-lsp.train")
_LEVELS = {"error": types.MessageType.Error, "warning": types.MessageType.Warning, "info": types.MessageType.Info}


class TrmLanguageServer(LanguageServer):
    def __init__(self, mcp: bool = True, mcp_port: int | None = None) -> None:
        super().__init__("trm-lsp", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
                         protocol_cls=TrmProtocol)
        self.daemons: dict[Path, Daemon] = {}
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
        await _open_folder(self, old.root)
        new = self.daemons.get(old.root)
        if new is not None and old.mcp_url:  # MCP keeps serving (it asks `daemons` for the current one)
            new.mcp_url = old.mcp_url
            new.write_daemon_file()

    # -- reporter (what a Daemon needs from its front end) -----------------------------------------

    def begin(self, title: str, cancel: Callable[[], None] | None = None) -> "ProgressTask":
        return ProgressTask(self, title, cancel)

    def notify(self, level: str, message: str) -> None:
        log.log(logging.WARNING if level != "info" else logging.INFO, "%s", message)
        self.window_show_message(types.ShowMessageParams(type=_LEVELS.get(level, types.MessageType.Info),
                                                         message=message))

    def answers_changed(self) -> None:
        caps = self.client_capabilities.workspace
        if caps and caps.code_lens and caps.code_lens.refresh_support:
            self.workspace_code_lens_refresh(None)

    def supports_progress(self) -> bool:
        window = self.client_capabilities.window
        return bool(window and window.work_done_progress)


class ProgressTask:
    """`$/progress` begin/report/end on a server-created token, in order, once the client
    accepted the token; cancellable from the client's UI where `cancel` is given."""

    def __init__(self, ls: TrmLanguageServer, title: str, cancel: Callable[[], None] | None) -> None:
        self.ls, self.title = ls, title
        self.token = f"trm-lsp/{title.lower().replace(' ', '-')}/{uuid.uuid4().hex[:8]}"
        self.enabled = ls.supports_progress()
        self._last_pct = -1
        self._chain: asyncio.Future | None = None
        log.info("%s: started", title)
        if self.enabled:
            self._chain = asyncio.ensure_future(self._create(cancel))
            self._then(lambda: ls.work_done_progress.begin(self.token, types.WorkDoneProgressBegin(
                title=f"trm-lsp: {title}", cancellable=cancel is not None, percentage=0)))

    async def _create(self, cancel: Callable[[], None] | None) -> None:
        await self.ls.work_done_progress.create_async(self.token)
        future: Future | None = self.ls.work_done_progress.tokens.get(self.token)
        if future is not None and cancel is not None:
            # pygls cancels this future on the loop thread when the user presses "Cancel".
            future.add_done_callback(lambda f: cancel() if f.cancelled() else None)

    def _then(self, send: Callable[[], None]) -> None:
        previous = self._chain

        async def step() -> None:
            try:
                await previous
            except Exception as exc:  # the client refused the token: progress stays in the log
                log.debug("progress %s not shown: %s", self.token, exc)
                return
            send()

        self._chain = asyncio.ensure_future(step())

    def report(self, message: str, percentage: int | None = None) -> None:
        if not self.enabled:
            return
        if percentage is not None:
            if percentage == self._last_pct and not message:
                return
            self._last_pct = percentage
        self._then(lambda: self.ls.work_done_progress.report(
            self.token, types.WorkDoneProgressReport(message=message, percentage=percentage)))

    def end(self, message: str) -> None:
        log.info("%s: %s", self.title, message)
        if self.enabled:
            self._then(lambda: (self.ls.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message)),
                                self.ls.work_done_progress.tokens.pop(self.token, None)))


class ClientLog(logging.Handler):
    """trm-lsp's log records at INFO and above, also as `window/logMessage` (the editor's
    output panel); sent from the loop thread whichever thread logged."""

    def __init__(self, ls: TrmLanguageServer, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(logging.INFO)
        self.ls, self.loop = ls, loop

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith("trm_lsp"):
            return
        kind = (types.MessageType.Error if record.levelno >= logging.ERROR else types.MessageType.Warning
                if record.levelno >= logging.WARNING else types.MessageType.Info)
        params = types.LogMessageParams(type=kind, message=self.format(record))
        try:
            self.loop.call_soon_threadsafe(self.ls.window_log_message, params)
        except RuntimeError:  # the loop is closing
            return


def build_server(mcp: bool = True, mcp_port: int | None = None) -> TrmLanguageServer:
    server = TrmLanguageServer(mcp, mcp_port)

    @server.feature(types.INITIALIZE)
    def initialize(ls: TrmLanguageServer, params: types.InitializeParams) -> None:
        options = params.initialization_options or {}
        if isinstance(options, dict) and isinstance(options.get(SECTION), dict):
            options = options[SECTION]
        ls.options = options if isinstance(options, dict) else {}

    @server.feature(types.INITIALIZED)
    async def initialized(ls: TrmLanguageServer, params: types.InitializedParams) -> None:
        handler = ClientLog(ls, asyncio.get_running_loop())
        logging.getLogger("trm_lsp").addHandler(handler)
        options = await _client_configuration(ls) or ls.options
        ls.options = options
        for root in _roots(ls):
            await _open_folder(ls, root)
        primary = next(iter(ls.daemons.values()), None)
        if primary is not None and ls.mcp_enabled and primary.settings.serve.mcp:
            from trm_lsp.serve.mcp_server import start_mcp

            root = primary.root
            ls.mcp = await start_mcp(primary, ls.mcp_port, current=lambda: ls.daemons.get(root) or primary)

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    async def folders_changed(ls: TrmLanguageServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
        for folder in params.event.removed:
            root = lookup.uri_to_path(folder.uri)
            daemon = ls.daemons.pop(root, None) if root else None
            if daemon is not None:
                await daemon.stop()
        for folder in params.event.added:
            root = lookup.uri_to_path(folder.uri)
            if root is not None and root not in ls.daemons:
                await _open_folder(ls, root)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def configuration_changed(ls: TrmLanguageServer, params: types.DidChangeConfigurationParams) -> None:
        settings = params.settings.get(SECTION) if isinstance(params.settings, dict) else None
        options = settings if isinstance(settings, dict) else await _client_configuration(ls)
        if options is None:
            return
        ls.options = options
        for daemon in list(ls.daemons.values()):
            await daemon.apply_settings(ls.settings_for(daemon.root, options))

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: TrmLanguageServer, params: None) -> None:
        # Not awaited here: pygls cancels the requests in flight after this returns, and an
        # awaiting handler lets them finish under it. Stopping completes before `exit`.
        ls.stopping = asyncio.ensure_future(stop_all(ls))
        # pygls 2.1 cancels the other requests while iterating the dict their callbacks remove
        # them from ("dictionary changed size"): cancel them first, from a copy.
        current = ls.protocol.msg_id
        for msg_id, future in list(ls.protocol._request_futures.items()):
            if msg_id != current and not future.done():
                future.cancel()

    @server.feature(types.EXIT)
    async def exit_(ls: TrmLanguageServer, params: None) -> None:
        """pygls exits the process after this: let the MCP server and the daemons finish first."""
        if ls.stopping is None:
            ls.stopping = asyncio.ensure_future(stop_all(ls))
        try:
            await asyncio.wait_for(asyncio.shield(ls.stopping), 10)
        except asyncio.TimeoutError:
            log.warning("stopping took more than 10 s; exiting anyway")
        # Everything is committed and closed. pygls would now join its stdin reader thread,
        # which waits for an EOF the client only sends after we exit: end here instead.
        logging.shutdown()
        os._exit(0 if ls.protocol._shutdown else 1)

    # -- documents -------------------------------------------------------------------------------

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: TrmLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        daemon, rel = ls.daemon_for(params.text_document.uri)
        if daemon is not None:
            daemon.engine.warm(lookup.symbols_in(daemon.store, rel))

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: TrmLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        daemon, rel = ls.daemon_for(params.text_document.uri)
        if daemon is not None:
            daemon.buffer_changed(rel, ls.workspace.get_text_document(params.text_document.uri).source)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    async def did_save(ls: TrmLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        daemon, rel = ls.daemon_for(params.text_document.uri)
        if daemon is not None:
            await daemon.files_changed([rel])

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    async def did_close(ls: TrmLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        daemon, rel = ls.daemon_for(params.text_document.uri)
        if daemon is not None:  # unsaved edits are gone with the buffer: back to the file on disk
            await daemon.files_changed([rel])

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    async def watched_files(ls: TrmLanguageServer, params: types.DidChangeWatchedFilesParams) -> None:
        by_daemon: dict[Daemon, list[str]] = {}
        for change in params.changes:
            daemon, rel = ls.daemon_for(change.uri)
            if daemon is not None and not rel.startswith(".trm-lsp/"):
                by_daemon.setdefault(daemon, []).append(rel)
        for daemon, rels in by_daemon.items():
            await daemon.files_changed(rels)

    # -- hover and code lens -----------------------------------------------------------------------

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: TrmLanguageServer, params: types.HoverParams) -> types.Hover | None:
        daemon, rel = ls.daemon_for(params.text_document.uri)
        if daemon is None:
            return None
        lines = await _lines(ls, params.text_document.uri)
        with ls.store_guard(daemon):
            row = lookup.symbol_at_position(daemon.store, rel, params.position.line, params.position.character, lines)
            if row is None:
                return None
            answer = await daemon.engine.answer(row, daemon.settings.serve.student_wait_ms / 1000)
        return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown,
                                                        value=hover_markdown(answer, row["language"])))

    @server.feature(types.TEXT_DOCUMENT_CODE_LENS, types.CodeLensOptions(resolve_provider=True))
    def code_lens(ls: TrmLanguageServer, params: types.CodeLensParams) -> list[types.CodeLens]:
        daemon, rel = ls.daemon_for(params.text_document.uri)
        if daemon is None or not daemon.settings.serve.code_lens:
            return []
        with ls.store_guard(daemon):
            rows = lookup.symbols_in(daemon.store, rel)
        lenses = []
        for row in rows:
            what = lookup.LENS_KINDS.get(row["kind"])
            if what is None:
                continue
            position = types.Position(line=row["sl"], character=row["sc"])
            lenses.append(types.CodeLens(range=types.Range(start=position, end=position), data={
                "uri": params.text_document.uri, "line": row["start_line"], "qualname": row["qualname"], "what": what}))
        return lenses

    @server.feature(types.CODE_LENS_RESOLVE)
    def code_lens_resolve(ls: TrmLanguageServer, lens: types.CodeLens) -> types.CodeLens:
        data = lens.data if isinstance(lens.data, dict) else {}
        lens.command = types.Command(title=f"Explain this {data.get('what', 'function')}", command="trm-lsp.explain",
                                     arguments=[{"uri": data.get("uri"), "qualname": data.get("qualname"),
                                                 "line": data.get("line")}])
        return lens

    # -- commands --------------------------------------------------------------------------------

    @server.command("trm-lsp.explain")
    async def explain(ls: TrmLanguageServer, *args: Any) -> dict:
        target = args[0] if args and isinstance(args[0], dict) else {}
        uri = target.get("uri")
        daemon, rel = ls.daemon_for(uri) if isinstance(uri, str) else (None, None)
        if daemon is None:
            raise JsonRpcInvalidParams("trm-lsp.explain needs {uri, line} or {uri, qualname} of a file in the workspace")
        row = None
        with ls.store_guard(daemon):
            if target.get("qualname"):
                row = lookup.symbol_by_qualname(daemon.store, str(target["qualname"]), rel)
            if row is None and isinstance(target.get("line"), int):
                row = lookup.symbol_at_line(daemon.store, rel, int(target["line"]))
        if row is None:
            raise JsonRpcInvalidParams(f"no indexed symbol at {rel}:{target.get('line') or target.get('qualname')}")
        if daemon.distiller is not None and daemon.engine.samples.best_for(row["sha256"]) is None:
            daemon.distiller.prioritize(row["sha256"])
        answer = await daemon.engine.answer(row, max(daemon.settings.serve.student_wait_ms / 1000, 10.0))
        await _show(ls, daemon, answer, row["language"])
        return answer.as_dict()

    @server.command("trm-lsp.status")
    def status(ls: TrmLanguageServer, *args: Any) -> dict:
        folders = [daemon.status() for daemon in ls.daemons.values()]
        return {**(folders[0] if folders else {}), "folders": folders}

    @server.command("trm-lsp.distill")
    async def distill(ls: TrmLanguageServer, *args: Any) -> dict:
        for daemon in ls.daemons.values():
            await daemon.resume_distilling()
        return status(ls)

    @server.command("trm-lsp.train")
    async def train(ls: TrmLanguageServer, *args: Any) -> dict:
        messages = [await daemon.maybe_train(force=True) for daemon in ls.daemons.values()]
        return {"result": messages}

    return server


async def stop_all(ls: TrmLanguageServer) -> None:
    if ls.mcp is not None:
        await ls.mcp.stop()
        ls.mcp = None
    for daemon in list(ls.daemons.values()):
        await daemon.stop()
    ls.daemons.clear()


async def _open_folder(ls: TrmLanguageServer, root: Path) -> None:
    daemon = Daemon(root, ls.settings_for(root, ls.options), reporter=ls)
    ls.daemons[daemon.root] = daemon
    await daemon.start()


async def _client_configuration(ls: TrmLanguageServer) -> dict | None:
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


def _roots(ls: TrmLanguageServer) -> list[Path]:
    folders = list(ls.workspace.folders.values())
    uris = [f.uri for f in folders] or ([ls.workspace.root_uri] if ls.workspace.root_uri else [])
    return [p for p in (lookup.uri_to_path(u) for u in uris) if p is not None and p.is_dir()]


async def _lines(ls: TrmLanguageServer, uri: str) -> list[str]:
    """The lines of an open buffer, else of the file on disk read off the loop, and only when it
    is a regular file (a FIFO or a device under the workspace would block the read forever)."""
    document = ls.workspace.text_documents.get(uri)
    if document is not None:
        return document.lines
    path = lookup.uri_to_path(uri)
    if path is None:
        return []
    return await asyncio.to_thread(_regular_file_lines, path)


def _regular_file_lines(path: Path, limit: int = 8 * 1024 * 1024) -> list[str]:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # never blocks, even on a FIFO
    except OSError:
        return []
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return []
        return fh.read(limit).decode("utf-8", "replace").splitlines(keepends=True)


_UNSAFE = re.compile(r"[^\w.-]+")


async def _show(ls: TrmLanguageServer, daemon: Daemon, answer, language: str) -> None:
    """A markdown page beside the code where the client can show documents, else a message."""
    window = ls.client_capabilities.window
    if window and window.show_document and window.show_document.support:
        folder = daemon.state / "explanations"
        folder.mkdir(exist_ok=True)
        page = folder / f"{_UNSAFE.sub('_', answer.symbol)[:80]}.md"
        page.write_text(explanation_document(answer, language), encoding="utf-8")
        try:
            await ls.window_show_document_async(types.ShowDocumentParams(uri=page.as_uri(), take_focus=False))
            return
        except Exception as exc:  # shown as a message below
            log.debug("showDocument failed: %s", exc)
    ls.window_show_message(types.ShowMessageParams(
        type=types.MessageType.Info, message=f"{answer.symbol}: {answer.text.strip()} ({answer.provenance()})"))
