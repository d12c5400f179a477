"""Finding the symbols a question is about: BM25 over names, signatures, docstrings, code and
teacher answers, re-ranked with the student's embeddings where a student is loaded
(`student/fusion.py`: both scores standardised over the candidates, the student's at half weight).

Questions are matched on stems, without the words every explanation uses (`Terms`): agents ask
in the words of an explanation ("This Python method ... takes ... and returns ..."), and those
words, present only in the symbols somebody explained, pulled them above the right one.
Name-masked top-5 of `consult_logic_model` 0.471 -> 0.644 on the dev corpus with both
(bench/agent_answers.py; the README has the runs that chose them)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trm_lsp.store import Store, symbols
from trm_lsp.store.symbols import Symbol
from trm_lsp.student.code_input import with_doc
from trm_lsp.textutil import words

#: BM25 candidates the student re-ranks.
CANDIDATES = 50
_REBUILD_SECONDS = 30.0
#: Words that say nothing about which symbol is meant, in any question.
_ENGLISH = frozenset("a an and are as at be by can do does for from how in is it its of on or that the this "
                     "to what when where which who why will with".split())
#: A word in at least this share of the workspace's explanations is how explanations are
#: phrased ("python", "method", "returns", "takes"), not what they are about. Chosen before
#: measuring; 0.1 and 0.3 rank within 0.02 of it (top-5).
TEMPLATE_SHARE = 0.2
#: Fewer explanations than this say too little about their phrasing: only `_ENGLISH` is dropped.
_TEMPLATE_MIN = 30


def candidates(bm25, terms: list[str], size: int, k: int = CANDIDATES) -> list[tuple[int, float]]:
    """The `k` best of a BM25 index of `size` documents for the question's `terms`, best first,
    those that match at all: what the student re-ranks (the daemon's search and `trm-lsp eval`'s
    served ranking alike)."""
    ids, scores = bm25.retrieve([terms], k=min(size, k), show_progress=False)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if s > 0]


class Terms:
    """What BM25 indexes and matches: identifiers and their sub-words (`textutil.words`),
    stemmed (Snowball English), without stop words."""

    def __init__(self, explanations: list[str] = ()) -> None:
        import Stemmer

        self._stem = Stemmer.Stemmer("english").stemWords
        self.stop = set(_ENGLISH)
        if len(explanations) >= _TEMPLATE_MIN:
            seen: dict[str, int] = {}
            for text in explanations:
                for word in set(words(text)):
                    seen[word] = seen.get(word, 0) + 1
            self.stop |= {w for w, n in seen.items() if n >= TEMPLATE_SHARE * len(explanations)}

    def __call__(self, text: str) -> list[str]:
        return self._stem([w for w in words(text) if w not in self.stop]) or ["_"]


def document(qualname: str, code: str, explanation: str = "", path: str = "", signature: str = "",
             doc: str = "") -> str:
    """What BM25 indexes of one symbol (before `Terms`): the daemon's index and `trm-lsp eval`'s
    measure of it are built from this one text."""
    return f"{qualname} {signature} {doc} {path} {explanation} {code}"


@dataclass
class Hit:
    symbol: Symbol
    score: float


class SymbolSearch:
    """BM25 over every symbol, built in a thread on its own connection (seconds on a large
    workspace), and rebuilt at most every `_REBUILD_SECONDS` while answers and edits land:
    queries meanwhile use the previous index."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._bm25 = None
        self._terms = Terms()
        self._ids: list[int] = []
        self._keys: list[tuple[str, str]] = []  # (path, qualname) of each id, to re-find a moved symbol
        self._embeddings: dict[str, np.ndarray] = {}
        self._built_at = 0.0
        #: Changes counted by `invalidate`: how many the current index has seen (stale while
        #: fewer), and the last that asked for a rebuild at once (one landing mid-build is kept).
        self._changes = self._built_from = self._urgent = 0
        self._lock = asyncio.Lock()

    def invalidate(self, at_once: bool = False) -> None:
        """The store changed. `at_once`: the next query rebuilds (a whole index just landed:
        a question asked in the first seconds must not be held to the empty store for 30 s)."""
        self._changes += 1
        if at_once:
            self._urgent = self._changes

    async def ready(self) -> None:
        if self._bm25 is not None and not (self._changes > self._built_from and (
                self._urgent > self._built_from or time.monotonic() - self._built_at > _REBUILD_SECONDS)):
            return
        async with self._lock:
            if self._bm25 is not None and self._changes == self._built_from:
                return
            changes = self._changes  # what lands while building is still to be seen
            self._ids, self._keys, self._bm25, self._terms = await asyncio.to_thread(self._build)
            self._built_at, self._built_from = time.monotonic(), changes

    def _build(self):
        import bm25s

        db = sqlite3.connect(f"file:{self.store.path}?mode=ro", uri=True)
        try:
            found = symbols.select(db, "ORDER BY s.id")
            explained = dict(db.execute("SELECT sha256, group_concat(output, ' ') FROM samples GROUP BY sha256"))
        finally:
            db.close()
        codes = self._code_texts(found)
        terms = Terms([text for text in explained.values() if text])
        corpus = [terms(document(s.qualname, code, explained.get(s.sha256) or "", s.path, s.signature, s.doc))
                  for s, code in zip(found, codes)]
        bm25 = bm25s.BM25()
        if corpus:
            bm25.index(corpus, show_progress=False)
        return [s.id for s in found], [(s.path, s.qualname) for s in found], bm25, terms

    def _code_texts(self, found: list[Symbol]) -> list[str]:
        """Each symbol's code, each file read once: questions seldom name a symbol but often the
        names it uses (name-masked top-5 0.342 -> 0.471 with the code in the index: bench/agent_answers.py)."""
        by_file: dict[str, bytes] = {}
        out = []
        for s in found:
            if s.text is not None:  # documents keep their text in the store
                out.append(s.text)
                continue
            if s.path not in by_file:
                try:
                    with open(Path(self.store.workspace) / s.path, "rb") as fh:
                        by_file[s.path] = fh.read()
                except OSError:
                    by_file[s.path] = b""
            out.append(by_file[s.path][s.start_byte:s.end_byte].decode("utf-8", "replace"))
        return out

    def search(self, query: str, k: int = CANDIDATES) -> list[Hit]:
        """BM25 candidates, best first (after `await ready()`); runs on the loop thread."""
        if self._bm25 is None or not self._ids:
            return []
        ranked = candidates(self._bm25, self._terms(query), len(self._ids), k)
        rows = {sym.id: sym for sym in self._rows([self._ids[i] for i, _ in ranked])}
        hits = []
        for i, score in ranked:
            sym = rows.get(self._ids[i])
            if sym is None:  # re-indexed since the last build (edited or moved): find it by name
                sym = symbols.by_qualname(self.store, self._keys[i][1], self._keys[i][0])
            if sym is not None:
                hits.append(Hit(sym, score))
        return hits

    def texts_to_embed(self, hits: list[Hit]) -> dict[str, str]:
        """sha256 -> code text of the candidates whose embedding is not cached yet (loop thread).

        Not kept: also matching the question against the teacher's explanations of the candidates
        (weight 0.5). Questions are mostly about symbols nobody explained yet, and that channel
        lifted the explained ones over them: top-5 0.329 vs 0.342 without it
        (bench/agent_answers.py, README). Measured again with stems and template words dropped,
        and with the student's own explanation for every unexplained symbol so that each has one
        (the workspace's 1,218 took 63 s): code embeddings 0.653, explanation embeddings 0.604,
        both summed 0.627; BM25 over the student's explanations too, +0.009, not worth a student
        pass over every symbol."""
        return {h.symbol.sha256: with_doc(symbols.text_of(self.store, h.symbol) or h.symbol.qualname,
                                          h.symbol.doc or "", h.symbol.language)
                for h in hits if h.symbol.sha256 not in self._embeddings}

    def fuse(self, query: str, hits: list[Hit], student, texts: dict[str, str]) -> list[Hit]:
        """Re-rank BM25 candidates with the student's embedding similarity. Runs on the
        student's thread; touches no store."""
        from trm_lsp.student.fusion import fuse

        if texts:
            shas = list(texts)
            for sha, vector in zip(shas, student.embed([texts[s] for s in shas], "code")):
                self._embeddings[sha] = vector
        q = student.embed([query], "text")[0]
        similarity = np.array([float(q @ self._embeddings[h.symbol.sha256]) for h in hits])
        fused = fuse(np.array([h.score for h in hits]), similarity)
        return [Hit(hits[i].symbol, float(fused[i])) for i in np.argsort(-fused, kind="stable")]

    def _rows(self, ids: list[int]) -> list[Symbol]:
        return symbols.by_ids(self.store, ids)
