"""Finding the symbols a question is about: BM25 over names, signatures, docstrings and teacher
answers, re-ranked with the student's embeddings where a student is loaded (`student/fusion.py`:
both scores standardised over the candidates, the student's at half weight)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import dataclass

import numpy as np

from trm_lsp.distill.context import symbol_text
from trm_lsp.serve import lookup
from trm_lsp.serve.lookup import symbol_rows
from trm_lsp.store import Store
from trm_lsp.textutil import words

_CANDIDATES = 50
_REBUILD_SECONDS = 30.0
#: Weight of the question's similarity to a candidate's teacher explanation (standardised over
#: the explained candidates), beside BM25 and the similarity to its code (bench/agent_answers.py).
EXPLANATION_WEIGHT = 0.5


@dataclass
class Hit:
    row: sqlite3.Row
    score: float


class SymbolSearch:
    """BM25 over every symbol, built in a thread on its own connection (seconds on a large
    workspace), and rebuilt at most every `_REBUILD_SECONDS` while answers and edits land:
    queries meanwhile use the previous index."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._bm25 = None
        self._ids: list[int] = []
        self._keys: list[tuple[str, str]] = []  # (path, qualname) of each id, to re-find a moved symbol
        self._embeddings: dict[str, np.ndarray] = {}
        self._explanations: dict[str, np.ndarray] = {}
        self._stale = True
        self._built_at = 0.0
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._stale = True

    async def ready(self) -> None:
        if self._bm25 is not None and not (self._stale and time.monotonic() - self._built_at > _REBUILD_SECONDS):
            return
        async with self._lock:
            if self._bm25 is not None and not self._stale:
                return
            self._stale = False
            self._ids, self._keys, self._bm25 = await asyncio.to_thread(self._build)
            self._built_at = time.monotonic()

    def _build(self):
        import bm25s

        db = sqlite3.connect(f"file:{self.store.path}?mode=ro", uri=True)
        try:
            rows = db.execute(
                "SELECT s.id, s.qualname, s.signature, s.doc, f.path, group_concat(sm.output, ' ') FROM symbols s "
                "JOIN files f ON f.id = s.file_id LEFT JOIN samples sm ON sm.sha256 = s.sha256 GROUP BY s.id").fetchall()
        finally:
            db.close()
        corpus = [words(" ".join(part or "" for part in r[1:])) or ["_"] for r in rows]
        bm25 = bm25s.BM25()
        if corpus:
            bm25.index(corpus, show_progress=False)
        return [r[0] for r in rows], [(r[4], r[1]) for r in rows], bm25

    def search(self, query: str, k: int = _CANDIDATES) -> list[Hit]:
        """BM25 candidates, best first (after `await ready()`); runs on the loop thread."""
        if self._bm25 is None or not self._ids:
            return []
        tokens = words(query) or ["_"]
        ids, scores = self._bm25.retrieve([tokens], k=min(len(self._ids), k), show_progress=False)
        ranked = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if s > 0]
        rows = {row["id"]: row for row in self._rows([self._ids[i] for i, _ in ranked])}
        hits = []
        for i, score in ranked:
            row = rows.get(self._ids[i])
            if row is None:  # re-indexed since the last build (edited or moved): find it by name
                row = lookup.symbol_by_qualname(self.store, self._keys[i][1], self._keys[i][0])
            if row is not None:
                hits.append(Hit(row, score))
        return hits

    def texts_to_embed(self, hits: list[Hit]) -> dict[str, tuple[str, str]]:
        """sha256 -> (code, teacher explanation or "") of the candidates whose embeddings are
        not cached yet (loop thread: reads the store)."""
        from trm_lsp.store.samples import Samples

        samples = Samples(self.store)
        out = {}
        for h in hits:
            sha = h.row["sha256"]
            if sha not in self._embeddings:
                sample = samples.best_for(sha) if EXPLANATION_WEIGHT else None
                out[sha] = (symbol_text(self.store, sha, h.row) or h.row["qualname"], sample.output if sample else "")
        return out

    def fuse(self, query: str, hits: list[Hit], student, texts: dict[str, tuple[str, str]]) -> list[Hit]:
        """Re-rank BM25 candidates with the student's similarity of the question to their code
        and, where the teacher explained them, to that explanation (a question reads like a
        description of code more than like code). Runs on the student's thread; no store."""
        from trm_lsp.student.fusion import fuse

        if texts:
            shas = list(texts)
            for sha, vector in zip(shas, student.embed([texts[s][0] for s in shas], "code")):
                self._embeddings[sha] = vector
            explained = [s for s in shas if texts[s][1]]
            for sha, vector in zip(explained, student.embed([texts[s][1] for s in explained], "text")):
                self._explanations[sha] = vector
        q = student.embed([query], "text")[0]
        similarity = np.array([float(q @ self._embeddings[h.row["sha256"]]) for h in hits])
        fused = fuse(np.array([h.score for h in hits]), similarity)
        described = [i for i, h in enumerate(hits) if h.row["sha256"] in self._explanations]
        if EXPLANATION_WEIGHT and len(described) > 1:
            sims = np.array([float(q @ self._explanations[hits[i].row["sha256"]]) for i in described])
            fused[described] += EXPLANATION_WEIGHT * (sims - sims.mean()) / (sims.std() + 1e-9)
        return [Hit(hits[i].row, float(fused[i])) for i in np.argsort(-fused, kind="stable")]

    def _rows(self, ids: list[int]) -> list[sqlite3.Row]:
        return symbol_rows(self.store, f"WHERE s.id IN ({','.join('?' * len(ids))})", ids) if ids else []
