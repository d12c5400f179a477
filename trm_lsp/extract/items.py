"""The one record every extractor produces: a symbol of code, a config section or a document part."""

from __future__ import annotations

from typing import NamedTuple


class Item(NamedTuple):
    """An indexed item. A NamedTuple, because a cold index ships ~100k of them between processes.

    Lines are 1-based and inclusive (start at the first decorator); the LSP range is 0-based
    with UTF-16 columns. `text` is kept only where it is not a plain slice of the file (documents);
    for code it is the file's lines `start_line..end_line` (its own bytes where it shares a line
    with another item: `code._sharing_a_line`), and `sha256` is the hash of that text.
    """

    kind: str
    name: str
    qualname: str
    parent: str | None
    start_line: int
    end_line: int
    start_byte: int
    end_byte: int
    range: tuple[int, int, int, int]
    signature: str
    doc: str
    sha256: str
    text: str | None = None
