"""Who calls a symbol and what it calls, from the index and the files: names, not types, so a
call through a variable of another class with a method of the same name counts too (said in
the tool's description)."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from trm_lsp.distill.context import CALL
from trm_lsp.extract.languages import BY_ID
from trm_lsp.store import Store, symbols
from trm_lsp.store.symbols import Symbol

MAX_CALLERS = 50
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


def callers(root: Path, db_path: Path, sym: Symbol) -> list[dict]:
    """`path:line` and enclosing symbol of each call of this name in indexed code files. Runs in
    a worker thread with its own read-only connection."""
    pattern = re.compile(rf"\b{re.escape(sym.name)}\s*(?:<[^<>()]*>)?\s*\(".encode())
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        code = [lang for lang, spec in BY_ID.items() if spec.family == "code"]
        files = db.execute(f"SELECT id, path FROM files WHERE language IN ({','.join('?' * len(code))})",
                           code).fetchall()
        out: list[dict] = []
        for file_id, rel in files:
            try:
                data = (root / rel).read_bytes()
            except OSError:
                continue
            if not pattern.search(data):
                continue
            for match in pattern.finditer(data):
                line = data.count(b"\n", 0, match.start()) + 1
                enclosing = db.execute(
                    "SELECT qualname, start_line FROM symbols WHERE file_id = ? AND start_line <= ? AND end_line >= ? "
                    "ORDER BY end_line - start_line LIMIT 1", (file_id, line, line)).fetchone()
                if enclosing and enclosing[0] == sym.qualname and enclosing[1] == sym.start_line \
                        and rel == sym.path:
                    continue  # the definition itself, or a recursive call
                out.append({"path": rel, "line": line, "in": enclosing[0] if enclosing else ""})
                if len(out) >= MAX_CALLERS:
                    return out
        return out
    finally:
        db.close()
