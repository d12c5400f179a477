"""MCP from the daemon's own event loop: fastmcp over streamable HTTP on 127.0.0.1.

Loopback only; fastmcp's Host/Origin guard refuses DNS-rebinding requests; an optional bearer
token (setting `serve.mcpToken`) is checked before anything reaches the MCP session.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import socket
from contextlib import nullcontext
from pathlib import Path

from typing import Annotated, Callable, Literal

from typing_extensions import TypedDict  # pydantic reads typing.TypedDict only on Python >= 3.12

from pydantic import Field

from fastmcp import FastMCP
from fastmcp.exceptions import ToolError
from fastmcp.tools.base import ToolResult

from trm_lsp.distill.prompts import question_prompt
from trm_lsp.serve import consult, lookup
from trm_lsp.store import symbols
from trm_lsp.store.schema import MAX_LINE
from trm_lsp.store.symbols import Symbol
from trm_lsp.serve.answers import Answer
from trm_lsp.serve.consult import CONSULT_SCHEMA
from trm_lsp.serve.daemon import Daemon
from trm_lsp.serve.tasks import supervise

log = logging.getLogger(__name__)


def refused(message: str) -> ToolError:
    """A call the caller got wrong (an empty query, a file that is not there): said to the caller
    as the tool's error and logged at DEBUG (fastmcp prints its INFO), not as its ERROR "Error
    calling tool", which an editor that logs a server's stderr (Neovim's lsp.log) shows as a
    server error each time."""
    return ToolError(message, log_level=logging.DEBUG)

MAX_QUERY_CHARS = 2000
#: Every string argument is bounded before a tool runs: a 3.6 MB symbol name once took the
#: search 6 s on the loop. Names and paths are refused past this; a longer query is cut.
MAX_NAME_CHARS = 1000
Name = Annotated[str, Field(max_length=MAX_NAME_CHARS)]
Query = Annotated[str, Field(max_length=100 * MAX_QUERY_CHARS)]
Line = Annotated[int, Field(ge=1, le=MAX_LINE, description="1-based, as editors show it")]
_SOURCES = 5


def build_mcp(served: Daemon | Callable[[], Daemon]) -> FastMCP:
    """The MCP tools over `served`: a daemon, or a function that gives the current one (the LSP
    server replaces a folder's daemon when its store had to be rebuilt)."""
    current = served if callable(served) else (lambda: served)
    mcp = FastMCP("trm-lsp", instructions=(
        "Explains the code of the workspace this daemon serves: what a function, class or document section "
        "does and why, with the path:line of every symbol it used."))

    @mcp.tool(output_schema=CONSULT_SCHEMA)
    async def consult_logic_model(query: Query, file: Name | None = None, symbol: Name | None = None,
                                  line: Line | None = None, detail: Literal["brief", "full"] = "brief") -> ToolResult:
        """Answer a question about the workspace's code (what does X do, where is Y handled): a
        short answer first, then at most 5 sources as `path:line`. `file`, `symbol` and `line`
        narrow it to one place; `detail="full"` allows a longer answer and the sources' code."""
        daemon = current()
        question, note = _bounded(query)
        if not question:
            raise refused("query is empty")
        full = detail == "full"
        # Before the first index of a workspace: wait for it. A store indexed before (a restart,
        # a re-index after a branch switch) answers at once.
        unready = await daemon.until_indexed(daemon.settings.serve.explain_wait_ms / 1000) \
            if daemon.store.empty() else ""
        if unready:
            result = consult.Consultation(f"No answer yet: {unready}.", note=note.strip())
            return ToolResult(content=result.text(), structured_content=result.structured())
        await daemon.search.ready()
        rel = _indexed_file(daemon, _workspace_path(daemon, file)) if file else None
        found: list[Symbol] = []
        if rel is not None and line is not None:
            at = symbols.at_line(daemon.store, rel, int(line))
            found += [at] if at is not None else []
            last = max((s.end_line for s in symbols.in_file(daemon.store, rel)), default=0) if at is None else 0
            if last and line > last:  # said, as a missing symbol is
                note = f"\n\n(Line {line} is past the last symbol of {rel}, which ends at line {last}.)" + note
        if symbol:
            named = await lookup.find(daemon.store, daemon.search, lookup.Target(rel, symbol))
            found += [named] if named is not None else []
            if named is None:  # said, so the answer about other symbols is not taken for this one's
                note = f"\n\n(No symbol named {symbol!r}{f' in {rel}' if rel else ''}: answered from the question.)" + note
        for hit in await _retrieve(daemon, question):
            if len(found) >= 2 * _SOURCES:
                break
            if rel is None or hit.symbol.path == rel:
                found.append(hit.symbol)
        # Grounded: each source as the index holds it now, never at a stale line.
        now_found = [g for g in (symbols.now(daemon.store, s) for s in found) if g is not None]
        cited = consult.most_specific(now_found)[:_SOURCES]
        if not cited:
            result = consult.Consultation(f"No symbol in {daemon.root.name} matches this question.", note=note.strip())
            return ToolResult(content=result.text(), structured_content=result.structured())
        wait = daemon.settings.serve.consult_wait_ms / 1000
        answers = [await daemon.engine.answer(r, wait) if rank < consult.SPOKEN else daemon.engine.at_hand(r)
                   for rank, r in enumerate(cited)]
        budget = consult.FULL_WORDS if full else consult.BRIEF_WORDS
        live = await _ask_teacher_live(daemon, question, cited, answers, budget)
        codes = [symbols.text_of(daemon.store, r) or "" for r in cited] if full else [""] * len(cited)
        result = consult.Consultation(
            answer=live or consult.compose(question, answers, budget),
            sources=[consult.source_of(a, r, full, c) for a, r, c in zip(answers, cited, codes)],
            declined="the student declined" in answers[0].note, note=note.strip())
        return ToolResult(content=result.text(), structured_content=result.structured())

    @mcp.tool
    async def explain_symbol(symbol: Name, file: Name | None = None) -> Explained:
        """The explanation of one symbol (qualified name, e.g. `Parser.parse`), with its source:
        the teacher, the TRM student, or the structure alone when neither has answered yet."""
        daemon = current()
        rel = _workspace_path(daemon, file) if file else None
        try:
            return (await daemon.explain(lookup.Target(rel, symbol))).as_dict()
        except lookup.NotFound:
            if rel is not None:
                _indexed_file(daemon, rel)  # when the file is what is wrong, say so
            raise refused(f"no symbol named {symbol!r}" + (f" in {rel}" if rel else "")) from None

    @mcp.tool
    async def list_symbols(file: Name | None = None, query: Query | None = None, kind: Name | None = None,
                           limit: Annotated[int, Field(ge=1, le=1000)] = 100) -> list[SymbolBrief]:
        """Indexed symbols: of one file or folder, or those matching `query` (BM25 over names
        and docs)."""
        daemon = current()
        limit = max(1, min(int(limit), 1000))
        rel = _workspace_path(daemon, file) if file else None
        folder = rel is not None and (daemon.root / rel).is_dir()
        if rel is not None and not folder:
            _indexed_file(daemon, rel)
        if query:  # within the file or folder when one is given too
            await daemon.search.ready()
            prefix = symbols.folder_prefix(rel) if folder else None
            rows = [h.symbol for h in daemon.search.search(_bounded(query)[0])
                    if rel is None or h.symbol.path == rel or (prefix is not None and h.symbol.path.startswith(prefix))]
        elif folder:
            rows = symbols.under(daemon.store, rel, kind, limit)
        elif rel is not None:
            rows = symbols.in_file(daemon.store, rel)
        else:
            raise refused("give a file or a query")
        if not rows and folder and not symbols.under(daemon.store, rel, limit=1):
            raise refused(f"{rel}: no indexed file in this folder")
        return [_brief(r) for r in rows if kind is None or r.kind == kind][:limit]

    @mcp.tool
    async def trace_logic(symbol: Name, file: Name | None = None) -> Trace:
        """Callers and callees of a symbol, from the index: who calls it (path:line) and which
        known symbols it calls."""
        daemon = current()
        rel = _workspace_path(daemon, file) if file else None
        found = await lookup.find(daemon.store, daemon.search, lookup.Target(rel, symbol))
        if found is None:
            if rel is not None:
                _indexed_file(daemon, rel)  # when the file is what is wrong, say so
            raise refused(f"no symbol named {symbol!r}" + (f" in {rel}" if rel else ""))
        from trm_lsp.serve.trace import callees, callers

        return {"symbol": _brief(found), "callees": [_brief(r) for r in callees(daemon.store, found)],
                "callers": await asyncio.get_running_loop().run_in_executor(
                    None, callers, daemon.root, daemon.store.path, found, daemon.unsaved_buffers())}

    @mcp.tool
    async def status() -> dict:
        """The daemon: workspace, teacher queue, teacher state, student version, MCP URL."""
        daemon = current()
        return daemon.status()

    return mcp


def _bounded(query: str) -> tuple[str, str]:
    query = (query or "").strip()
    if len(query) > MAX_QUERY_CHARS:
        return query[:MAX_QUERY_CHARS], f"\n\n(The question was cut to its first {MAX_QUERY_CHARS} characters.)"
    return query, ""


def _workspace_path(daemon: Daemon, file: str) -> str:
    """A path the client named, as workspace-relative; refused when it leads outside."""
    candidate = Path(file)
    if not candidate.is_absolute():
        candidate = daemon.root / candidate
    try:
        return candidate.resolve().relative_to(daemon.root).as_posix()
    except (ValueError, OSError):
        raise refused(f"{file}: outside the workspace {daemon.root}") from None


def _indexed_file(daemon: Daemon, rel: str) -> str:
    """`rel`, refused when the index holds no such file (a typo, a folder, a file that is
    ignored or not of an indexed kind), so an answer is never about everything else."""
    if daemon.store.has_file(rel):
        return rel
    skipped = daemon.store.skip_reason(rel)
    place = daemon.root / rel
    why = (f"skipped when indexing: {skipped}" if skipped else "a folder, not a file" if place.is_dir()
           else "not indexed (ignored, or not a kind of file trm-lsp reads)" if place.exists() else "no such file")
    raise refused(f"{rel}: {why}")


class SymbolBrief(TypedDict):
    symbol: str
    kind: str
    path: str
    line: int
    end_line: int
    signature: str | None


#: A call site: `in` is the enclosing symbol's name ("" at module level); a keyword, hence this form.
Caller = TypedDict("Caller", {"path": str, "line": int, "in": str})


class Trace(TypedDict):
    symbol: SymbolBrief
    callees: list[SymbolBrief]
    callers: list[Caller]


class Explained(TypedDict):
    symbol: str
    kind: str
    path: str
    line: int
    signature: str
    explanation: str
    source: str  # "teacher" | "student" | "structure"
    teacher: str
    reasoning: str
    provenance: str


def _brief(symbol: Symbol) -> SymbolBrief:
    return {"symbol": symbol.qualname, "kind": symbol.kind, "path": symbol.path, "line": symbol.start_line,
            "end_line": symbol.end_line, "signature": symbol.signature}


async def _retrieve(daemon: Daemon, question: str):
    hits = daemon.search.search(question)
    student = daemon.student.student
    if student is None or len(hits) < 2:
        return hits
    texts = daemon.search.texts_to_embed(hits)
    try:
        return await daemon.student.run(daemon.search.fuse, question, hits, student, texts)
    except Exception as exc:  # the student's ranking is a refinement: BM25 alone still answers
        log.warning("student retrieval failed: %s", exc)
        return hits


async def _ask_teacher_live(daemon: Daemon, question: str, cited: list[Symbol], answers: list[Answer],
                            budget: int) -> str:
    """A free-form question with no exact symbol behind it goes to the teacher unless it is down
    or busy (`live.py`), with the retrieved code as context, its reply held to `budget` words;
    any failure falls back to the stored answers."""
    teacher, live = daemon.teacher, daemon.live
    if teacher is None or live is None or daemon.distiller is None or daemon.distiller.teacher_state == "down":
        return ""
    if not live.available():
        return ""
    sources = [(f"{s.path}:{s.start_line} {s.qualname}", (symbols.text_of(daemon.store, s) or "")[:1500], answer.text)
               for s, answer in zip(cited[:3], answers)]
    reply = await live.ask(teacher, question_prompt(question, sources, budget), question)
    if reply is None:
        return ""
    words = reply.output.split()
    text = " ".join(words[:budget]) + (" …" if len(words) > budget else "")
    return f"{text} (answered live by teacher {teacher.name})"


# -- serving -------------------------------------------------------------------------------------

class BearerToken:
    """ASGI middleware: every request must carry `Authorization: Bearer <token>`."""

    def __init__(self, app, token: str) -> None:
        self.app, self.token = app, token.encode()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            scheme, _, given = headers.get(b"authorization", b"").strip().partition(b" ")
            # The scheme is case-insensitive (RFC 9110 11.1); the token is compared in constant time.
            if scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(), self.token):
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"text/plain"), (b"www-authenticate", b"Bearer")]})
                await send({"type": "http.response.body", "body": b"missing or wrong bearer token\n"})
                return
        await self.app(scope, receive, send)


def bind_loopback(port: int) -> tuple[socket.socket, bool]:
    """A listening socket on 127.0.0.1: `port` if free, else any free port (and False)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
        wanted = True
    except OSError:
        sock.bind(("127.0.0.1", 0))
        wanted = False
    sock.listen(64)
    sock.setblocking(False)
    return sock, wanted


async def start_mcp(daemon: Daemon, port: int | None = None,
                    current: Callable[[], Daemon] | None = None) -> "McpHandle | None":
    """Start serving; record the URL in daemon.json. Never stops the LSP: a failure is shown."""
    import uvicorn
    from starlette.middleware import Middleware

    wanted = daemon.settings.serve.mcp_port if port is None else port
    try:
        sock, got_wanted = bind_loopback(wanted)
    except OSError as exc:
        daemon.reporter.notify("error", f"trm-lsp: MCP not started: cannot listen on 127.0.0.1: {exc}")
        return None
    actual = sock.getsockname()[1]
    if not got_wanted and wanted:
        daemon.reporter.notify("warning", f"trm-lsp: port {wanted} is busy; MCP serves on 127.0.0.1:{actual} instead "
                                          f"(recorded in {daemon.daemon_file})")
    middleware = [Middleware(BearerToken, token=daemon.settings.serve.mcp_token)] if daemon.settings.serve.mcp_token else []
    app = build_mcp(current or daemon).http_app(path="/mcp", middleware=middleware, host_origin_protection=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False, log_config=None)
    server = uvicorn.Server(config)
    server.capture_signals = nullcontext  # the LSP owns the process's signals, not uvicorn
    daemon.mcp_url = f"http://127.0.0.1:{actual}/mcp"
    daemon.write_daemon_file()
    log.info("MCP at %s", daemon.mcp_url)

    task = supervise(_serve(server, sock), "the MCP server", _SERVING,
                     lambda what, exc: daemon.reporter.notify("error", f"trm-lsp: {what} stopped: {exc}"))
    return McpHandle(server, task)


_SERVING: set[asyncio.Task] = set()


async def _serve(server, sock: socket.socket) -> None:
    try:
        await server.serve(sockets=[sock])
    finally:
        sock.close()


class McpHandle:
    def __init__(self, server, task: asyncio.Task) -> None:
        self.server, self.task = server, task

    async def stop(self, grace: float = 3.0) -> None:
        """Let uvicorn close its sessions and lifespan; cancel only if it hangs."""
        self.server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self.task), grace)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
