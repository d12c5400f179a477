"""Symbols as the rest of the program reads them: one typed record, one query, one way to read a
symbol's text.

The `symbols JOIN files` query lives here only. Hover, code lens, MCP, search, distillation and
the command line all get `Symbol` records from these functions, so a column added to the index
is added in one place, and nothing outside `store/` handles a `sqlite3.Row`.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Iterator

from trm_lsp.store.db import Store
from trm_lsp.store.schema import MAX_LINE


@dataclass(frozen=True, slots=True)
class Symbol:
    """One indexed function, class, document section or diagram, with its file."""

    id: int
    file_id: int
    kind: str
    name: str
    qualname: str
    parent: str | None
    start_line: int  # 1-based, inclusive
    end_line: int
    start_byte: int
    end_byte: int
    sl: int  # 0-based line and UTF-16 column of the start and end, as LSP counts them
    sc: int
    el: int
    ec: int
    signature: str
    doc: str
    sha256: str  # of the symbol's text: the teacher cache's key
    text: str | None  # documents keep their text in the store; code is read from the file
    path: str  # workspace-relative, `/`-separated
    language: str
    machine_made: str | None = None  # the file's: why the teacher is not asked (extract/machine_made.py)


_COLUMNS = ", ".join(f"s.{f.name}" for f in fields(Symbol) if f.name not in ("path", "language", "machine_made"))
_SELECT = f"SELECT {_COLUMNS}, f.path, f.language, f.machine_made FROM symbols s JOIN files f ON f.id = s.file_id"


def each(db: Store | sqlite3.Connection, where: str = "", params: tuple | list = ()) -> Iterator[Symbol]:
    """Symbols with their file's path and language, one at a time; `where` is the SQL after the
    join (`s.` is the symbol, `f.` its file). `db` may be another connection to the same file (a
    thread's own)."""
    connection = db.db if isinstance(db, Store) else db
    for row in connection.execute(f"{_SELECT} {where}", params):
        yield Symbol(*row)


def select(db: Store | sqlite3.Connection, where: str = "", params: tuple | list = ()) -> list[Symbol]:
    return list(each(db, where, params))


def in_file(store: Store, rel: str) -> list[Symbol]:
    return select(store, "WHERE f.path = ? ORDER BY s.start_line, s.id", (rel,))


def under(store: Store, folder: str, kind: str | None = None, limit: int = 1000) -> list[Symbol]:
    """The first `limit` symbols (of one `kind`) of the files under a workspace folder ("." for
    all), by path and line."""
    where, params = [], []
    prefix = folder_prefix(folder)
    if prefix:  # the paths from "dir/" up to "dir0" ("0" sorts right after "/")
        where.append("f.path >= ? AND f.path < ?")
        params += [prefix, prefix[:-1] + "0"]
    if kind is not None:
        where.append("s.kind = ?")
        params.append(kind)
    clause = f"WHERE {' AND '.join(where)} " if where else ""
    return select(store, f"{clause}ORDER BY f.path, s.start_line, s.id LIMIT ?", (*params, limit))


def folder_prefix(folder: str) -> str:
    """What the paths of the files under a workspace folder start with ("" for the workspace)."""
    return "" if folder in ("", ".") else folder.rstrip("/") + "/"


def at_line(store: Store, rel: str, line: int) -> Symbol | None:
    """The innermost symbol whose lines (1-based) hold `line`."""
    if not 0 < line <= MAX_LINE:
        return None
    found = select(store, "WHERE f.path = ? AND s.start_line <= ? AND s.end_line >= ?"
                   " ORDER BY s.end_line - s.start_line, s.start_line DESC LIMIT 1", (rel, line, line))
    return found[0] if found else None


def by_qualname(store: Store, qualname: str, rel: str | None = None) -> Symbol | None:
    """The symbol of this qualified name in `rel`, or in the first file that has one."""
    if rel is not None:
        found = select(store, "WHERE f.path = ? AND s.qualname = ? LIMIT 1", (rel, qualname))
    else:
        found = select(store, "WHERE s.qualname = ? ORDER BY f.path LIMIT 1", (qualname,))
    return found[0] if found else None


def by_sha(store: Store, sha256: str) -> Symbol | None:
    """One symbol with this text (any of them: identical text gets one answer)."""
    found = select(store, "WHERE s.sha256 = ? ORDER BY f.path LIMIT 1", (sha256,))
    return found[0] if found else None


def docs(store: Store) -> dict[str, str]:
    """The doc comment of each documented symbol, by its text's hash (a sample's `sha256`)."""
    return dict(store.db.execute("SELECT sha256, doc FROM symbols WHERE doc != '' ORDER BY id"))


def by_ids(store: Store, ids: list[int]) -> list[Symbol]:
    return select(store, f"WHERE s.id IN ({','.join('?' * len(ids))})", ids) if ids else []


def now(store: Store, symbol: Symbol) -> Symbol | None:
    """The symbol as the index holds it now: the same one if its text and place are unchanged,
    else the symbol of the same name in the same file (it moved or was edited), else None."""
    found = select(store, "WHERE s.id = ?", (symbol.id,))
    if found and found[0].sha256 == symbol.sha256 and found[0].start_line == symbol.start_line:
        return found[0]
    return by_qualname(store, symbol.qualname, symbol.path)


def text_of(store: Store, symbol: Symbol | None) -> str | None:
    """The symbol's text, from the store (documents) or the file, checked against its hash:
    None when the file changed since it was indexed."""
    if symbol is None:
        return None
    if symbol.text is not None:
        return symbol.text
    try:
        with open(Path(store.workspace) / symbol.path, "rb") as fh:
            fh.seek(symbol.start_byte)
            raw = fh.read(symbol.end_byte - symbol.start_byte)
    except OSError:
        return None
    return verified_text(raw, symbol.sha256)


def verified_text(raw: bytes, sha256: str) -> str | None:
    """The symbol's text if these bytes still hash to what the index recorded, else None
    (the file changed since it was indexed)."""
    if hashlib.sha256(raw).hexdigest() != sha256:
        return None
    return raw.decode("utf-8", "replace")
