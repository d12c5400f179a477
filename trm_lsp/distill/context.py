"""What a prompt says around the code: the names it calls, the types it uses (TypeScript and
JavaScript), and the document items (specs, diagrams) most related to it by BM25."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from trm_lsp.store import Store
from trm_lsp.textutil import words

DOCUMENT_KINDS = frozenset({"page", "section", "diagram", "image"})
_TYPE_KINDS = ("interface", "type", "class", "enum")
#: `name(` or `name<T>(`: a call, in every language we index.
CALL = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*(?:<[^<>()]*>)?\s*\(")
_WORD = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*\b")
_NOT_CALLS = frozenset({"if", "for", "while", "switch", "return", "catch", "def", "function", "sizeof", "print",
                        "super", "self", "this", "new", "await", "typeof", "and", "or", "not", "in", "elif"})


@dataclass
class Neighbour:
    kind: str
    qualname: str
    signature: str
    path: str
    language: str
    sha256: str


@dataclass
class DocumentHit:
    path: str
    name: str
    text: str


class ContextIndex:
    """Built once per distillation run from the store."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.by_name: dict[str, list[Neighbour]] = {}
        cur = store.db.execute(
            "SELECT s.kind, s.name, s.qualname, s.signature, f.path, f.language, s.sha256 FROM symbols s "
            "JOIN files f ON f.id = s.file_id WHERE s.kind NOT IN ('page', 'section', 'diagram', 'image')")
        for kind, name, qualname, signature, path, language, sha in cur:
            self.by_name.setdefault(name, []).append(Neighbour(kind, qualname, signature, path, language, sha))
        self._docs: list[DocumentHit] = []
        self._bm25 = None
        rows = store.db.execute(
            "SELECT f.path, s.name, s.text FROM symbols s JOIN files f ON f.id = s.file_id "
            f"WHERE s.kind IN ({','.join('?' * len(DOCUMENT_KINDS))}) AND s.text IS NOT NULL",
            sorted(DOCUMENT_KINDS)).fetchall()
        if rows:
            import bm25s

            self._docs = [DocumentHit(*row) for row in rows]
            self._bm25 = bm25s.BM25()
            self._bm25.index([words(f"{d.name} {d.text}") or ["_"] for d in self._docs], show_progress=False)

    def callees(self, text: str, own_name: str) -> list[Neighbour]:
        """Workspace symbols this text calls, in order of first call."""
        seen, out = {own_name}, []
        for name in CALL.findall(text):
            if name in seen or name in _NOT_CALLS:
                continue
            seen.add(name)
            candidates = [n for n in self.by_name.get(name, []) if n.kind in ("function", "method", "macro", "class")]
            if candidates:
                out.append(candidates[0])
        return out

    def types_used(self, text: str, language: str, own_name: str) -> list[Neighbour]:
        """TypeScript/JavaScript types, interfaces, classes and enums this text names."""
        family = {"typescript", "tsx", "javascript"}
        if language not in family:
            return []
        seen, out = {own_name}, []
        for name in _WORD.findall(text):
            if name in seen:
                continue
            seen.add(name)
            hits = [n for n in self.by_name.get(name, []) if n.kind in _TYPE_KINDS and n.language in family]
            if hits:
                out.append(hits[0])
        return out

    def related_documents(self, query: str, k: int = 2) -> list[DocumentHit]:
        if self._bm25 is None:
            return []
        tokens = words(query)
        if not tokens:
            return []
        k = min(k, len(self._docs))
        results, scores = self._bm25.retrieve([tokens], k=k, show_progress=False)
        return [self._docs[int(i)] for i, score in zip(results[0], scores[0]) if score > 0]

    def text_of(self, sha256: str) -> str | None:
        return symbol_text(self.store, sha256)


def symbol_row(store: Store, sha256: str) -> sqlite3.Row | None:
    """One symbol with this text (any of them: identical text gets one answer)."""
    cur = store.db.cursor()
    cur.row_factory = sqlite3.Row
    return cur.execute(
        "SELECT s.*, f.path, f.language FROM symbols s JOIN files f ON f.id = s.file_id WHERE s.sha256 = ? "
        "ORDER BY f.path LIMIT 1", (sha256,)).fetchone()


def symbol_text(store: Store, sha256: str, row: sqlite3.Row | None = None) -> str | None:
    """The symbol's text, from the store (documents) or the file, checked against its hash:
    None when the file changed since it was indexed."""
    row = row if row is not None else symbol_row(store, sha256)
    if row is None:
        return None
    if row["text"] is not None:
        return row["text"]
    try:
        with open(Path(store.workspace) / row["path"], "rb") as fh:
            fh.seek(row["start_byte"])
            raw = fh.read(row["end_byte"] - row["start_byte"])
    except OSError:
        return None
    return verified_text(raw, sha256)


def verified_text(raw: bytes, sha256: str) -> str | None:
    """The symbol's text if these bytes still hash to what the index recorded, else None
    (the file changed since it was indexed)."""
    if hashlib.sha256(raw).hexdigest() != sha256:
        return None
    return raw.decode("utf-8", "replace")
