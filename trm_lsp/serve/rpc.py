"""Where trm-lsp leans on pygls' JSON-RPC layer, and where it must not.

pygls 2.1 (pinned in pyproject.toml) frames stdio messages with a reader that never resyncs:
one wrongly sized message and every later one is read at the wrong offset, so the server lives
on and answers nothing. It also drops, with only a log line, requests whose params do not
deserialize (a hover at `line: -1`), requests before `initialize` and requests after
`shutdown`: the client then waits for a reply forever. This module owns those edges:

- `read_messages`: the stdio loop. Headers are parsed strictly; a bad or oversized
  `Content-Length`, or a body that is not JSON, is logged and the reader resyncs on the next
  `Content-Length` header (which a short body leaves glued to the end of a line).
- `TrmProtocol`: every request gets a reply (InvalidParams, ServerNotInitialized -32002,
  InvalidRequest after shutdown), as JSON-RPC and LSP require; an error reply carries its
  message, never the Python traceback pygls attaches (that goes to the log). A client's reply
  that cannot be read fails the request it answers, which pygls would leave waiting forever.

- `serve_stdio`: pygls' stdio server with `read_messages` as its reader.
- `cancel_other_requests`, `lsp_shutdown` and `exit_now`: the `shutdown` and `exit` workarounds
  (pygls 2.1 breaks cancelling requests at shutdown, answers `shutdown` before the requests it
  cancelled, and would wait at exit for an EOF that comes only after).
- `quiet_refusals`: a request its handler refused (InvalidParams) is not logged as a server error
  with a traceback; the reply says what was wrong.

The private pygls names this touches are listed in `PYGLS_INTERNALS` (and nothing outside this
module touches one); tests/serve/test_rpc.py fails when a pygls release moves one.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import os
import re
import signal
import threading
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from cattrs import transform_error
from lsprotocol import types
from pygls.exceptions import (JsonRpcException, JsonRpcInternalError, JsonRpcInvalidParams, JsonRpcInvalidRequest,
                              JsonRpcMethodNotFound, JsonRpcServerNotInitialized)
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.language_server import _prepare_command_arguments, lsp_method

log = logging.getLogger(__name__)

#: Private pygls attributes trm-lsp reads or calls (the test checks they still exist).
PYGLS_INTERNALS = {
    "JsonRPCProtocol": ("_shutdown", "_send_response", "_handle_response", "_request_futures", "msg_id", "_converter"),
    "JSONRPCServer": ("_stop_event",),
    "pygls.protocol.language_server": ("_prepare_command_arguments", "lsp_method"),
    "LanguageServerProtocol": ("lsp_workspace__execute_command", "lsp_shutdown"),
}
#: At `shutdown`, how long the requests it cancelled may take to be answered before it is.
SETTLE_SECONDS = 2.0
#: The largest message body accepted (a whole-file didOpen of a big generated file fits).
MAX_BODY = 64 * 1024 * 1024
_LENGTH = re.compile(rb"Content-Length:[ \t]*(\S*)[ \t]*\r?\n$", re.IGNORECASE)
_HEADER = re.compile(rb"^[A-Za-z][\w-]*:.*\r?\n$")


@dataclass
class _Unreadable:
    """A request that arrived but could not be turned into its params type."""

    id: Any
    method: str
    reason: str


class TrmProtocol(LanguageServerProtocol):
    """pygls' LSP protocol that answers every request it receives."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initialize_seen = False

    def structure_message(self, data: dict[str, Any]):
        try:
            return super().structure_message(data)
        except Exception as exc:
            if isinstance(data, dict) and "method" in data and "id" in data and _valid_id(data["id"]):
                reason = _cause(exc) if "params" in data else "params missing"
                return _Unreadable(data["id"], str(data["method"]), reason)
            if isinstance(data, dict) and "id" in data and "method" not in data and _valid_id(data["id"]):
                # The client's reply to our request (showDocument, configuration) that does not
                # read as its type: the request fails at once instead of waiting forever.
                log.warning("the editor's reply %r could not be read: %s", data["id"], _cause(exc))
                return types.ResponseErrorMessage(id=data["id"], error=types.ResponseError(
                    code=JsonRpcInternalError.CODE, message=f"unreadable reply: {_cause(exc)}"))
            raise

    def handle_message(self, message: Any) -> None:
        if isinstance(message, _Unreadable):
            if message.method not in self.fm.features and message.method not in self.fm.builtin_features:
                self._send_response(message.id, error=JsonRpcMethodNotFound.of(message.method).to_response_error())
                return
            log.warning("%s request %r has invalid params: %s", message.method, message.id, message.reason)
            self._send_response(message.id, error=JsonRpcInvalidParams(
                f"invalid params for {message.method}: {message.reason}").to_response_error())
            return
        method = getattr(message, "method", None)
        is_request = method is not None and getattr(message, "id", None) is not None
        if method == types.INITIALIZE:
            self.initialize_seen = True
        elif is_request and not self.initialize_seen:
            self._send_response(message.id, error=JsonRpcServerNotInitialized(
                f"{method} before initialize").to_response_error())
            return
        if is_request and self._shutdown and method != types.EXIT:
            self._send_response(message.id, error=JsonRpcInvalidRequest(
                f"{method} after shutdown").to_response_error())
            return
        super().handle_message(message)

    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    def lsp_workspace__execute_command(self, params: types.ExecuteCommandParams):
        """As pygls', but a command's wrongly typed arguments are refused with what is wrong
        ("trm-lsp.explain: uri: missing") instead of "While structuring ExplainArgs"."""
        handler = self.fm.commands.get(params.command)
        if params.arguments is None:  # optional in LSP; pygls would then call the handler short of one
            params = types.ExecuteCommandParams(command=params.command, arguments=[],
                                                work_done_token=params.work_done_token)
        if handler is not None:
            try:
                _prepare_command_arguments(handler, params, self._converter)
            except Exception as exc:
                raise JsonRpcInvalidParams(f"{params.command}: {_argument_problem(exc)}") from None
        return (yield from super().lsp_workspace__execute_command(params))

    def cancel_other_requests(self) -> list:
        """At `shutdown`: pygls 2.1 cancels the requests in flight while iterating the dict their
        callbacks remove them from ("dictionary changed size"): cancel them first, from a copy.
        Returns them (a running thread's cannot be cancelled: it finishes and answers)."""
        current = self.msg_id
        in_flight = [f for msg_id, f in list(self._request_futures.items()) if msg_id != current and not f.done()]
        for future in in_flight:
            future.cancel()
        return in_flight

    @lsp_method(types.SHUTDOWN)
    def lsp_shutdown(self, *args: Any):
        """As pygls', but the requests in flight are cancelled from a copy first
        (`cancel_other_requests`), and they (or those already finishing) are answered before
        `shutdown` is, for up to `SETTLE_SECONDS`: a client may send `exit` the moment `shutdown`
        is answered, and every request gets a reply."""
        in_flight = self.cancel_other_requests()  # before pygls' own pass, which then finds them done
        result = yield from super().lsp_shutdown(*args)
        if in_flight:
            yield _settle, (in_flight,), None
        return result

    def _handle_response(self, msg_id: Any, result: Any = None, error: Any = None) -> None:
        """As pygls', but a reply to a request we stopped waiting for (showDocument after its
        timeout) is dropped with a line at DEBUG: pygls would set a result on the cancelled
        future and log the InvalidStateError as a failure."""
        future = self._request_futures.get(msg_id)
        if future is not None and future.done():
            self._request_futures.pop(msg_id, None)
            log.debug("late reply to %r dropped: we stopped waiting for it", msg_id)
            return
        super()._handle_response(msg_id, result, error)

    def exit_now(self) -> None:
        """At `exit`, once everything is committed and closed: pygls would now join its stdin
        reader thread, which waits for an EOF the client only sends after we exit; end here
        instead, with 0 only after a `shutdown` (LSP's rule)."""
        logging.shutdown()
        os._exit(0 if self._shutdown else 1)

    def _send_response(self, msg_id: Any, result: Any = None, error: Any = None) -> None:
        if error is not None and isinstance(error.data, dict) and "traceback" in error.data:
            error = types.ResponseError(code=error.code, message=error.message)
        super()._send_response(msg_id, result=result, error=error)


async def _settle(futures: list) -> None:
    """Until these request futures are done (their replies go out from their own callbacks,
    which run first), or `SETTLE_SECONDS`."""
    waiting = [asyncio.wrap_future(f) if isinstance(f, concurrent.futures.Future) else f for f in futures]
    await asyncio.wait(waiting, timeout=SETTLE_SECONDS)


def quiet_refusals(record: logging.LogRecord) -> bool:
    """A filter for pygls' JSON-RPC logger, which logs at ERROR with a traceback, as if the
    server had failed, a request its handler refused (InvalidParams, "no indexed symbol at
    a.py:99": the reply already tells the client; one line at INFO) and a message it could not
    read (`TrmProtocol.structure_message` says what in one line; the traceback at DEBUG)."""
    exc = record.exc_info[1] if record.exc_info else None
    if isinstance(exc, JsonRpcException) and not isinstance(exc, JsonRpcInternalError):
        record.msg, record.args = "request %s refused: %s", (record.args[0] if record.args else "?", exc)
        record.levelno, record.levelname, record.exc_info, record.exc_text = logging.INFO, "INFO", None, None
    elif str(record.msg).startswith("Unable to deserialize message"):
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
    return True


def _valid_id(value: Any) -> bool:
    return isinstance(value, (int, str)) and not isinstance(value, bool)


def _argument_problem(exc: BaseException) -> str:
    """What is wrong with a command's arguments, in cattrs' words ("required field missing @
    argument.uri"), or pygls' count check ("Expected 1 arguments, got 0")."""
    if isinstance(exc, BaseExceptionGroup):
        problems = transform_error(exc, path="argument")
        if problems:
            return "; ".join(problems)[:300]
    return str(exc)[:200] or type(exc).__name__


def _cause(exc: BaseException) -> str:
    """The innermost message of a cattrs validation error, without the traceback."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    inner = getattr(exc, "exceptions", None)
    while inner:
        exc = inner[0]
        inner = getattr(exc, "exceptions", None)
    return (str(exc) or type(exc).__name__)[:200]


async def read_messages(readline: Callable[[], Awaitable[bytes]], read: Callable[[int], Awaitable[bytes]],
                        protocol: TrmProtocol, stop: threading.Event) -> None:
    """Frames LSP messages off a byte stream until EOF or `stop`, recovering from bad frames."""
    length: int | None = None
    bad_header = False
    while not stop.is_set():
        line = await readline()
        if not line:
            return
        match = _LENGTH.search(line)
        if match is not None:
            if match.start() != 0 or bad_header:
                log.warning("resynced on a Content-Length header after %d stray bytes", match.start())
            value = match.group(1)
            length = int(value) if value.isdigit() and len(value) < 12 else None
            bad_header = length is None or length > MAX_BODY
            if bad_header:
                log.warning("bad Content-Length %r: message skipped", value[:40].decode("ascii", "replace"))
                length = None
            continue
        if line in (b"\r\n", b"\n"):
            if length is None:
                continue  # the end of a skipped message's headers, or a blank line between
            body = await read(length)
            expected, length = length, None
            if len(body) < expected:  # the stream ended inside the body
                return
            _dispatch(body, protocol)
            continue
        if not _HEADER.match(line):  # body bytes of a wrongly sized message: look for the next header
            bad_header = True
            log.debug("skipping %d stray bytes", len(line))


def _dispatch(body: bytes, protocol: TrmProtocol) -> None:
    try:
        message = json.loads(body, object_hook=protocol.structure_message)
    except Exception as exc:  # not JSON, or not a message: the sender learns nothing, we log it
        log.warning("unreadable message of %d bytes skipped: %s", len(body), _cause(exc))
        return
    try:
        protocol.handle_message(message)
    except Exception:
        log.exception("unable to handle message")


async def serve_stdio(server, stdin, stdout, stop: Callable[[], Awaitable[None]], grace: float = 15.0) -> None:
    """The stdio loop (`read_messages`, which resyncs after a bad frame) in place of pygls' own,
    plus a graceful stop when the client goes away without `shutdown` (stdin closed): `stop`
    (MCP, then the daemons) runs before the loop's tasks are cancelled, which uvicorn does not
    survive cleanly."""
    from pygls.io_ import StdoutWriter

    server._stop_event = threading.Event()
    server.protocol.set_writer(StdoutWriter(stdout))
    loop = asyncio.get_running_loop()
    main, terminated, leaving = asyncio.current_task(), threading.Event(), threading.Event()

    def on_sigterm() -> None:
        # An editor that quits sends SIGTERM soon after `exit` (Neovim 0.7: 500 ms): the stop
        # then runs as on a closed stdin, or goes on if it has begun, instead of the process
        # dying with its daemon.json naming it. A second SIGTERM kills at once, as usual.
        loop.remove_signal_handler(signal.SIGTERM)
        if not leaving.is_set():
            terminated.set()
            main.cancel()

    try:
        loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    except NotImplementedError:  # Windows' event loop: no signal handlers, SIGTERM kills as before
        log.debug("no SIGTERM handler on this platform")
    try:
        # Lines are read at most 64 KiB at a time: a body with no newline never fills memory.
        await read_messages(lambda: loop.run_in_executor(server.thread_pool, stdin.readline, 65536),
                            lambda n: loop.run_in_executor(server.thread_pool, stdin.read, n),
                            server.protocol, server._stop_event)
    except BrokenPipeError:
        log.warning("the client closed the connection")
    except asyncio.CancelledError:
        if not terminated.is_set():
            raise
        log.info("terminated (SIGTERM): stopping")
    finally:
        leaving.set()
        try:
            await asyncio.wait_for(stop(), grace)
        except asyncio.TimeoutError:
            log.warning("stopping took more than %.0f s; exiting anyway", grace)
        finally:
            with contextlib.suppress(NotImplementedError):  # Windows: none was added
                loop.remove_signal_handler(signal.SIGTERM)
