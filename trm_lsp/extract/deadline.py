"""A time budget for extracting one file (`index.extractSeconds`).

Size caps do not bound time: a 3 MB DOCX of 120 MB of XML, a 10 KB PDF whose pages share one
content stream of 300,000 text operations, a 1 MB HTML file of unclosed tags (quadratic in
tree-sitter's error recovery) each held the indexer for minutes to hours. Extractors call
`check()` between pages, paragraphs and diagram pages, and tree-sitter reads through `reader`,
which ends the text once the budget is spent; the file is then skipped with `TooSlow`'s reason.
Per thread: the daemon extracts an editor's buffer on a worker thread."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

_local = threading.local()
_CHUNK = 1 << 13  # bytes tree-sitter reads per call of `reader`: small, as it asks for more only as it goes


class TooSlow(BaseException):
    """The file took longer than its budget to extract; the message is the skip reason. Not an
    `Exception`, as `KeyboardInterrupt` is not: the handlers that make a library's failure cost
    one file (`except Exception`) must let it through to `extract_data`."""


@contextmanager
def budget(seconds: float) -> Iterator[None]:
    _local.deadline, _local.seconds = time.monotonic() + seconds, seconds
    try:
        yield
    finally:
        _local.deadline = None


def check() -> None:
    deadline = getattr(_local, "deadline", None)
    if deadline is not None and time.monotonic() > deadline:
        raise TooSlow(f"took over {_local.seconds:g} s to extract (index.extractSeconds)")


def reader(data: bytes) -> Callable[[int, object], bytes]:
    """`data` for `Parser.parse` in chunks, ended early once the budget is spent (parse then
    returns at once; call `check()` after it)."""
    def read(offset: int, _point) -> bytes:
        deadline = getattr(_local, "deadline", None)
        if deadline is not None and time.monotonic() > deadline:
            return b""
        return data[offset:offset + _CHUNK]
    return read
