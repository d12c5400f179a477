"""What a prompt says around the code: the names it calls, the types it uses (TypeScript and
JavaScript), and the document items (specs, diagrams) most related to it by BM25."""

from __future__ import annotations

import re
from dataclasses import dataclass

from trm_lsp.store import Store, symbols
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
        marks = ",".join("?" * len(DOCUMENT_KINDS))
        # One at a time: on the standard library a list of every symbol cost the daemon 40 MB.
        for s in symbols.each(store, f"WHERE s.kind NOT IN ({marks})", sorted(DOCUMENT_KINDS)):
            self.by_name.setdefault(s.name, []).append(Neighbour(s.kind, s.qualname, s.signature, s.path,
                                                                 s.language, s.sha256))
        self._docs: list[DocumentHit] = []
        self._bm25 = None
        documents = symbols.select(store, f"WHERE s.kind IN ({marks}) AND s.text IS NOT NULL", sorted(DOCUMENT_KINDS))
        if documents:
            import bm25s

            self._docs = [DocumentHit(d.path, d.name, d.text or "") for d in documents]
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
        return symbols.text_of(self.store, symbols.by_sha(self.store, sha256))
