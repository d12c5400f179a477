"""The loaded student: embeddings for retrieval and short explanations, on the CPU.

The MLX network is read once into `engine.Engine`, which answers in numpy (see its docstring
for why); explanations are conditioned on the nearest remembered teacher answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trm_lsp.student import checkpoint
from trm_lsp.student.data import CodeIndex, Lengths, Record, header, nearest_explanation, prefix_ids, retrieval_arrays
from trm_lsp.student.engine import Engine
from trm_lsp.student.model import TRM
from trm_lsp.student.openings import opening_for
from trm_lsp.student.tokenizer import Tokenizer

#: Every student answer says where it comes from.
LABEL = "TRM student"


@dataclass
class Explanation:
    text: str
    neighbour: str  # the symbol whose teacher explanation conditioned this one
    tokens: int
    hint: str = ""  # that explanation, its name swapped for ours, as the student read it


class Student:
    def __init__(self, model: TRM, tok: Tokenizer, meta: dict, memory: list[Record] | None = None) -> None:
        self.model, self.tok, self.meta = model, tok, meta
        self.engine = Engine(model)
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
            out.append(self.engine.embedding(ids, weights, self.sup_steps))
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
        opening = opening_for(self.meta, kind, language)
        forced = self.tok.encode(f"{opening}`{symbol or name}`") if opening else []
        prefix = prefix_ids(self.tok, code, hint, self.lengths, head)
        keep = (np.asarray(prefix) > self.tok.text).astype(np.float32)  # special tokens are never copied
        ids = self.engine.generate(prefix, limit, self.sup_steps, keep, forced, self.tok.eos)
        return Explanation(_tidy(self.tok.decode(ids)), neighbour, len(ids), hint)


_SPACES = re.compile(r"\s+")


def _tidy(text: str) -> str:
    """One or two sentences: cut after the second full stop, collapse whitespace."""
    text = _SPACES.sub(" ", text).strip()
    sentences = re.split(r"(?<=[.!?])\s", text)
    return " ".join(sentences[:2]).strip()
