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
  message, never the Python traceback pygls attaches (that goes to the log).

The private pygls names this touches are listed in `PYGLS_INTERNALS`; tests/serve/test_rpc.py
fails when a pygls release moves one of them.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams, JsonRpcInvalidRequest, JsonRpcServerNotInitialized
from pygls.protocol import LanguageServerProtocol

log = logging.getLogger(__name__)

#: Private pygls attributes trm-lsp reads or calls (the test checks they still exist).
PYGLS_INTERNALS = {
    "JsonRPCProtocol": ("_shutdown", "_send_response", "_request_futures", "msg_id"),
    "JSONRPCServer": ("_stop_event",),
}
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
                return _Unreadable(data["id"], str(data["method"]), _cause(exc))
            raise

    def handle_message(self, message: Any) -> None:
        if isinstance(message, _Unreadable):
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

    def _send_response(self, msg_id: Any, result: Any = None, error: Any = None) -> None:
        if error is not None and isinstance(error.data, dict) and "traceback" in error.data:
            error = types.ResponseError(code=error.code, message=error.message)
        super()._send_response(msg_id, result=result, error=error)


def _valid_id(value: Any) -> bool:
    return isinstance(value, (int, str)) and not isinstance(value, bool)


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
