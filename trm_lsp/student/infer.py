"""The loaded student: embeddings for retrieval and short explanations, on the CPU.

Generation is greedy and left to right with one KV cache per (supervision step, cycle, call of
f, layer): every call of f is causal, so the cached decode is exact, and each new token costs
one position through the recursion instead of the whole sequence again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import mlx.core as mx
import numpy as np

from trm_lsp.student import checkpoint
from trm_lsp.student.data import CodeIndex, Lengths, Record, header, nearest_explanation, prefix_ids, retrieval_arrays
from trm_lsp.student.model import TRM, causal_mask, padding_mask
from trm_lsp.student.tokenizer import Tokenizer

#: Every student answer says where it comes from.
LABEL = "TRM student"


@dataclass
class Explanation:
    text: str
    neighbour: str  # the symbol whose teacher explanation conditioned this one
    tokens: int


class Student:
    def __init__(self, model: TRM, tok: Tokenizer, meta: dict, memory: list[Record] | None = None) -> None:
        self.model, self.tok, self.meta = model, tok, meta
        self.lengths = Lengths(**meta.get("lengths", {}))
        # Checkpoints from before `infer_sup_steps` answer with every supervision step.
        self.sup_steps = int(meta.get("infer_sup_steps", meta.get("sup_steps", 2)))
        self.version = meta.get("version_tag", "")
        self.memory: list[Record] = memory or []
        self._index = CodeIndex([r.input for r in self.memory]) if self.memory else None

    @classmethod
    def load(cls, directory: Path, memory: list[Record] | None = None) -> "Student":
        model, tok, meta = checkpoint.load(directory)
        if memory is None:
            memory_file = Path(directory) / "memory.jsonl"
            if memory_file.exists():
                from trm_lsp.student.data import load_samples

                memory = load_samples(memory_file).records
        return cls(model, tok, meta, memory)

    # -- retrieval -----------------------------------------------------------------------------

    def embed(self, texts: list[str], kind: str = "code", batch: int = 64) -> np.ndarray:
        """Unit vectors, one per text; `kind` is "code" or "text" (a question, an explanation)."""
        marker = self.tok.code if kind == "code" else self.tok.text
        length = self.lengths.code if kind == "code" else self.lengths.text
        out = []
        for start in range(0, len(texts), batch):
            ids, weights = retrieval_arrays(self.tok, texts[start : start + batch], marker, length)
            x, w = mx.array(ids), mx.array(weights)
            y, z = self.model.initial_state((x.shape[0], length, self.model.cfg.dim))
            xe = self.model.embed_input(x)
            mask = padding_mask(w)
            for _ in range(self.sup_steps):
                y, z = self.model.recurse(xe, y, z, mask)
            e = self.model.embedding(y, w)
            mx.eval(e)
            out.append(np.array(e))
        return np.concatenate(out) if out else np.zeros((0, self.model.cfg.embed_dim), dtype=np.float32)

    # -- explanation ---------------------------------------------------------------------------

    def neighbour(self, code: str, name: str) -> tuple[str, str]:
        """The nearest remembered teacher explanation, with its symbol's name replaced by ours."""
        if self._index is None:
            return "", ""
        return nearest_explanation(self.memory, self._index, code, name)

    def explain(self, code: str, name: str, max_tokens: int | None = None, symbol: str | None = None,
                kind: str = "function", language: str = "python") -> Explanation:
        hint, neighbour = self.neighbour(code, name)
        limit = min(max_tokens or self.lengths.answer, self.lengths.answer)
        head = header(language, kind, symbol or name)
        # The teacher's usual opening for this kind, then the name: the student writes the rest.
        opening = self.meta.get("openings", {}).get(kind)
        forced = self.tok.encode(f"{opening}`{symbol or name}`") if opening else []
        ids = self._generate(prefix_ids(self.tok, code, hint, self.lengths, head), limit, forced)
        return Explanation(_tidy(self.tok.decode(ids)), neighbour, len(ids))

    def _generate(self, prefix: list[int], limit: int, forced: list[int] | None = None) -> list[int]:
        m, cfg = self.model, self.model.cfg
        calls = cfg.n_latent + 1
        caches = [[[[[None, None] for _ in range(cfg.layers)] for _ in range(calls)] for _ in range(cfg.cycles)]
                  for _ in range(self.sup_steps)]
        forced = list(forced or [])[:limit]
        tokens = mx.array([prefix + forced])
        src_ids = mx.array([prefix])
        keep = (src_ids > self.tok.text).astype(mx.float32)  # special tokens are never copied
        y_src = None
        offset = 0
        out: list[int] = list(forced)
        while True:
            length = tokens.shape[1]
            mask = causal_mask(length) if length > 1 else None
            xe = m.embed_input(tokens)
            y, z = m.initial_state((1, length, cfg.dim))
            for s in range(self.sup_steps):
                for c in range(cfg.cycles):
                    y, z = m.cycle(xe, y, z, mask, caches[s][c], offset)
            if y_src is None:
                y_src = y[:, : len(prefix)]
            if len(out) >= limit:
                break
            scores = np.array(m.next_token_probs(y[:, -1:], y_src, src_ids, keep)[0, 0])
            for banned in _repeats(out):  # no trigram twice: greedy decoding loops otherwise
                scores[banned] = -np.inf
            nxt = int(np.argmax(scores))
            if nxt == self.tok.eos:
                break
            out.append(nxt)
            offset += length
            tokens = mx.array([[nxt]])
        return out


def _repeats(out: list[int]) -> set[int]:
    """Tokens that would complete a trigram already written."""
    if len(out) < 2:
        return set()
    last = tuple(out[-2:])
    return {out[i + 2] for i in range(len(out) - 2) if (out[i], out[i + 1]) == last}


_SPACES = re.compile(r"\s+")


def _tidy(text: str) -> str:
    """One or two sentences: cut after the second full stop, collapse whitespace."""
    text = _SPACES.sub(" ", text).strip()
    sentences = re.split(r"(?<=[.!?])\s", text)
    return " ".join(sentences[:2]).strip()
