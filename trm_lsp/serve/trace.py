"""Who calls a symbol and what it calls, from the index and the files: names, not types, so a
call through a variable of another class with a method of the same name counts too (said in
the tool's description). A caller is a call in the file's parse tree: a comment, a string, a
definition or a declaration that only names it is not one."""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Mapping
from pathlib import Path

from trm_lsp.distill.context import CALL
from trm_lsp.extract.languages import BY_ID, ts_parser
from trm_lsp.store import Store, symbols
from trm_lsp.store.symbols import Symbol

log = logging.getLogger(__name__)

MAX_CALLERS = 50
#: Parse-tree nodes of a call in the indexed languages: `call` (Python), `call_expression`,
#: `method_invocation` and `object_creation_expression` (Java), `new_expression` (JS/TS).
_CALL = re.compile(r"call|invocation|creation|new_expression")
#: The field of each of those that holds what is called (Python's and C's `function`, Java's
#: method `name`, JS's `new` `constructor`, Java's `new` `type`, Rust's `macro`).
_CALLEE_FIELDS = ("function", "name", "constructor", "type", "macro")
#: Nodes a called name is never inside: comments, strings, definitions and declarations.
_NOT_A_CALL = re.compile(r"comment|string|definition|declaration|declarator|function_item|function_expression")
_CODE_KINDS = ("function", "method", "constructor", "class")


def callees(store: Store, sym: Symbol, limit: int = 50) -> list[Symbol]:
    """Known symbols whose names this symbol's text calls, nearest file first."""
    text = symbols.text_of(store, sym) or ""
    names = list(dict.fromkeys(m for m in CALL.findall(text) if m != sym.name))[:limit]
    if not names:
        return []
    found = symbols.select(
        store, f"WHERE s.name IN ({','.join('?' * len(names))}) AND s.kind IN ({','.join('?' * len(_CODE_KINDS))}) "
        "ORDER BY (f.path = ?) DESC, f.path", (*names, *_CODE_KINDS, sym.path))
    best: dict[str, Symbol] = {}
    for candidate in found:
        best.setdefault(candidate.name, candidate)
    return [best[n] for n in names if n in best]


def callers(root: Path, db_path: Path, sym: Symbol, buffers: Mapping[str, str] | None = None) -> list[dict]:
    """`path:line` and enclosing symbol of each call of this name in indexed code files, one
    per line; a file with an unsaved buffer in the editor (`buffers`, by path) is read as the
    buffer holds it, as the index does. Runs in a worker thread with its own read-only connection."""
    buffers = buffers or {}
    # `name(`, `name<T>(`, Rust's `name::<T>(`; the parse tree then keeps only the calls
    pattern = re.compile(rf"\b{re.escape(sym.name)}\s*(?:(?:::)?<[^<>()]*>)?\s*\(".encode())
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        code = [lang for lang, spec in BY_ID.items() if spec.family == "code"]
        files = db.execute(f"SELECT id, path, language FROM files WHERE language IN ({','.join('?' * len(code))})",
                           code).fetchall()
        out: list[dict] = []
        for file_id, rel, language in files:
            try:
                data = buffers[rel].encode("utf-8") if rel in buffers else (root / rel).read_bytes()
            except OSError:
                continue
            if not pattern.search(data):
                continue
            tree = _parse(language, data)
            lines: set[int] = set()
            for match in pattern.finditer(data):
                line = data.count(b"\n", 0, match.start()) + 1
                if line in lines or not _is_call(tree, match.start(), len(sym.name)):
                    continue
                lines.add(line)
                enclosing = db.execute(
                    "SELECT qualname, start_line FROM symbols WHERE file_id = ? AND start_line <= ? AND end_line >= ? "
                    "ORDER BY end_line - start_line LIMIT 1", (file_id, line, line)).fetchone()
                if enclosing and enclosing[0] == sym.qualname and enclosing[1] == sym.start_line \
                        and rel == sym.path:
                    continue  # a recursive call
                out.append({"path": rel, "line": line, "in": enclosing[0] if enclosing else ""})
                if len(out) >= MAX_CALLERS:
                    return out
        return out
    finally:
        db.close()


def _parse(language: str, data: bytes):
    try:
        return ts_parser(language).parse(data)
    except Exception as exc:  # no grammar: every textual match counts, as before there was a tree
        log.debug("callers: %s not parsed: %s", language, exc)
        return None


def _is_call(tree, start: int, length: int) -> bool:
    """Whether the name at `start` is the callee of a call there: not a comment, a string, a
    definition or a declaration (`long gcd(long a, long b);`, a named callback
    `app.get('/', function handler(req) {...})`) that only looks like one."""
    if tree is None:
        return True
    node = tree.root_node.descendant_for_byte_range(start, start + length)
    for _ in range(4):  # `ns::gcd<int>(` is three nodes below its call_expression
        if node is None or _NOT_A_CALL.search(node.type):
            return False
        parent = node.parent
        if parent is not None and _CALL.search(parent.type):
            callee = next((c for c in map(parent.child_by_field_name, _CALLEE_FIELDS) if c is not None), None)
            return callee is not None and callee.start_byte <= start < callee.end_byte
        node = parent
    return False
