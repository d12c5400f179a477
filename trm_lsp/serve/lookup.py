"""From an editor position, a path:line or a name to the indexed symbol it means.

Every lookup is one indexed SQLite query on the loop thread: a hover must cost a millisecond,
so nothing here parses or reads files.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from urllib.parse import unquote, urlparse

from trm_lsp.store import Store
from trm_lsp.store.schema import MAX_LINE

_SELECT = "SELECT s.*, f.path, f.language FROM symbols s JOIN files f ON f.id = s.file_id"
_WORD = re.compile(r"[A-Za-z_$][\w$]*")
#: Kinds that get an "Explain" code lens.
LENS_KINDS = {"function": "function", "method": "function", "constructor": "function", "class": "class",
              "struct": "class", "interface": "class", "trait": "class", "enum": "class", "impl": "class"}


def symbol_rows(store: Store, where: str = "", params: tuple | list = ()) -> list[sqlite3.Row]:
    """Symbols joined with their file's path and language: `where` is the SQL after the join."""
    cur = store.db.cursor()
    cur.row_factory = sqlite3.Row
    return cur.execute(f"{_SELECT} {where}", params).fetchall()


def uri_to_path(uri: str) -> Path | None:
    """The resolved local path of a `file:` URI (None for `untitled:` and the like)."""
    parsed = urlparse(uri)
    return Path(unquote(parsed.path)).resolve() if parsed.scheme == "file" else None


def uri_to_rel(uri: str, root: Path) -> str | None:
    """The workspace-relative `/` path of a `file:` URI, or None when it lies outside."""
    try:
        path = uri_to_path(uri)
        return path.relative_to(root).as_posix() if path is not None else None
    except (ValueError, OSError):
        return None


def symbols_in(store: Store, rel: str) -> list[sqlite3.Row]:
    return symbol_rows(store, "WHERE f.path = ? ORDER BY s.start_line, s.id", (rel,))


def symbol_at_line(store: Store, rel: str, line: int) -> sqlite3.Row | None:
    """The innermost symbol whose lines (1-based) hold `line`."""
    if not 0 < line <= MAX_LINE:
        return None
    rows = symbol_rows(store, "WHERE f.path = ? AND s.start_line <= ? AND s.end_line >= ?"
                       " ORDER BY s.end_line - s.start_line, s.start_line DESC LIMIT 1", (rel, line, line))
    return rows[0] if rows else None


def symbol_by_qualname(store: Store, qualname: str, rel: str | None = None) -> sqlite3.Row | None:
    if rel is not None:
        rows = symbol_rows(store, "WHERE f.path = ? AND s.qualname = ? LIMIT 1", (rel, qualname))
    else:
        rows = symbol_rows(store, "WHERE s.qualname = ? ORDER BY f.path LIMIT 1", (qualname,))
    return rows[0] if rows else None


def word_at(line_text: str, character: int) -> str:
    """The identifier under a 0-based UTF-16 column of `line_text`."""
    column = _utf16_to_index(line_text, character)
    for match in _WORD.finditer(line_text):
        if match.start() <= column <= match.end():
            return match.group()
    return ""


def symbol_at_position(store: Store, rel: str, line: int, character: int, lines: list[str]) -> sqlite3.Row | None:
    """What a hover at (0-based line, UTF-16 column) is about: the symbol defined there when the
    cursor is on its name, else a known symbol of that name (same file first, then anywhere)."""
    if not 0 <= line < len(lines):
        return None
    word = word_at(lines[line], character)
    if not word:
        return None
    enclosing = symbol_rows(store, "WHERE f.path = ? AND s.name = ? AND s.sl <= ? AND ? <= s.el ORDER BY s.sl DESC",
                            (rel, word, line, line))
    for row in enclosing:
        if _first_line_naming(row, word, lines) == line:  # its definition, not a use in its body
            return row
    same_file = symbol_rows(store, "WHERE f.path = ? AND s.name = ? ORDER BY s.start_line LIMIT 1", (rel, word))
    if same_file:
        return same_file[0]
    anywhere = symbol_rows(store, "WHERE s.name = ? ORDER BY length(f.path), f.path LIMIT 1", (word,))
    return anywhere[0] if anywhere else None


def _first_line_naming(row: sqlite3.Row, word: str, lines: list[str]) -> int | None:
    """The first line of the symbol (after decorators, attributes) that holds its name."""
    pattern = re.compile(rf"(?<![\w$]){re.escape(word)}(?![\w$])")
    for number in range(row["sl"], min(row["el"], len(lines) - 1) + 1):
        if pattern.search(lines[number]):
            return number
    return None


def _utf16_to_index(text: str, units: int) -> int:
    if text.isascii():
        return min(units, len(text))
    count = 0
    for index, char in enumerate(text):
        if count >= units:
            return index
        count += 2 if ord(char) > 0xFFFF else 1
    return len(text)
