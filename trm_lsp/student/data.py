"""Samples -> training arrays. Reads the sample format (JSONL) with bad lines reported by
number, and builds fixed-shape batches (fixed shapes let MLX compile the step once)."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trm_lsp.student.tokenizer import Tokenizer
from trm_lsp.textutil import sentences, split_identifier, words



@dataclass
class Record:
    symbol: str
    kind: str
    language: str
    path: str
    input: str
    output: str
    reasoning: str = ""
    source: str = ""  # where a harvested pair came from ("go", "python-venv", ...)
    id: str = ""

    @property
    def name(self) -> str:
        return self.symbol.rsplit(".", 1)[-1]


@dataclass
class LoadReport:
    records: list[Record] = field(default_factory=list)
    bad_lines: list[str] = field(default_factory=list)


def load_samples(path: Path) -> LoadReport:
    report = LoadReport()
    with open(path, encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                record = Record(symbol=str(obj["symbol"]), kind=str(obj.get("kind", "function")),
                                language=str(obj.get("language", "")), path=str(obj.get("path", "")),
                                input=str(obj["input"]), output=str(obj["output"]),
                                reasoning=str(obj.get("reasoning") or ""), source=str(obj.get("source") or ""),
                                id=str(obj.get("id") or ""))
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                report.bad_lines.append(f"line {number}: {type(exc).__name__}: {exc}")
                continue
            if not record.output.strip() or not record.input.strip():
                report.bad_lines.append(f"line {number}: empty input or output")
                continue
            report.records.append(record)
    return report


def swap_name(text: str, old: str, new: str) -> str:
    """The neighbour's explanation with its symbol's name replaced by ours (whole words, and
    the qualified forms the teacher writes, like `Class.method` or `Class_method`)."""
    if not old or old == new:
        return text
    return re.sub(rf"(?<![A-Za-z0-9]){re.escape(old)}(?![A-Za-z0-9])", new, text)


def mask_name(text: str, symbol: str) -> str:
    """A question without the symbol's name or its sub-words: how users ask."""
    banned = {symbol.lower(), *(p.lower() for p in re.split(r"[._]", symbol) if p)}
    for part in re.split(r"[._]", symbol):
        banned.update(split_identifier(part))
    banned = {b for b in banned if len(b) > 2}
    return " ".join(w for w in re.findall(r"\S+", text) if not any(b in w.lower() for b in banned))


class CodeIndex:
    """BM25 over code: the neighbour a student answer is conditioned on, and the baseline."""

    def __init__(self, codes: list[str]) -> None:
        import bm25s

        self.size = len(codes)
        self.bm25 = bm25s.BM25()
        self.bm25.index([words(c) or ["_"] for c in codes], show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for this query."""
        return np.asarray(self.bm25.get_scores(words(query) or ["_"]), dtype=np.float32)

    def nearest(self, query: str, k: int = 1, exclude: int | None = None) -> list[int]:
        tokens = words(query) or ["_"]
        want = min(self.size, k + (1 if exclude is not None else 0))
        ids, _ = self.bm25.retrieve([tokens], k=want, show_progress=False)
        out = [int(i) for i in ids[0] if exclude is None or int(i) != exclude]
        return out[:k]


def nearest_explanation(records: list[Record], index: CodeIndex, code: str, name: str,
                        exclude: int | None = None) -> tuple[str, str]:
    """The teacher explanation of the sample whose code is closest by BM25, its symbol's name
    replaced by `name`, and that sample's symbol. The hint the explainer is conditioned on, and
    the nearest-neighbour baseline."""
    nearest = index.nearest(code, 1, exclude=exclude)
    if not nearest:
        return "", ""
    record = records[nearest[0]]
    return swap_name(record.output, record.name, name), record.symbol


@dataclass
class Lengths:
    code: int = 64      # code tokens seen by the retriever and the explainer
    text: int = 48      # explanation tokens seen by the retriever
    hint: int = 24      # tokens of the neighbour's explanation given to the explainer
    answer: int = 64    # most tokens the explainer writes (teacher answers run to ~60)
    header: int = 16    # "<language> <kind> <qualified name>"

    @property
    def prefix(self) -> int:
        return 1 + self.header + self.code + 1 + self.hint + 1  # <code> header code <sep> hint <bos>

    @property
    def lm(self) -> int:
        return self.prefix + self.answer + 1


def header(language: str, kind: str, symbol: str) -> str:
    """What the explainer is told about the symbol besides its code: the name to write about."""
    return f"{language} {kind} {symbol}\n"


def prefix_ids(tok: Tokenizer, code: str, hint: str, n: Lengths, head: str = "",
               cut: Counter | None = None) -> list[int]:
    """`cut` counts code longer than the model reads ("code")."""
    head_ids = tok.encode(head)[: n.header]
    code_ids = tok.encode(code)
    if cut is not None:
        cut["code"] += len(code_ids) > n.code
    code_ids = code_ids[: n.code]
    hint_ids = tok.encode(hint)[: n.hint]
    return [tok.code, *head_ids, *code_ids, tok.sep, *hint_ids, tok.bos]


def lm_arrays(tok: Tokenizer, records: list[Record], hints: list[str],
              n: Lengths) -> tuple[np.ndarray, np.ndarray, Counter]:
    """Prefix left-padded to `n.prefix`, then the answer, right-padded: every answer starts at
    the same position, so the prompt (what the pointer head may copy) is exactly the first
    `n.prefix` positions. Weights: 1 where the next token is an answer token or <eos>. And how
    many samples were cut to fit: their code ("code") or the teacher's answer ("answers")."""
    seqs = np.full((len(records), n.lm), tok.pad, dtype=np.int32)
    weights = np.zeros((len(records), n.lm), dtype=np.float32)
    cut: Counter = Counter(code=0, answers=0)
    for i, (record, hint) in enumerate(zip(records, hints)):
        prefix = prefix_ids(tok, record.input, hint, n, header(record.language, record.kind, record.symbol), cut)
        answer, shortened = whole_sentences(tok, record.output, n.answer)
        cut["answers"] += shortened
        seqs[i, n.prefix - len(prefix) : n.prefix] = prefix
        seqs[i, n.prefix : n.prefix + len(answer)] = answer
        weights[i, n.prefix - 1 : n.prefix - 1 + len(answer)] = 1.0
    return seqs, weights, cut


def whole_sentences(tok: Tokenizer, text: str, limit: int) -> tuple[list[int], bool]:
    """The answer's token ids as the student learns to write them: the whole sentences that fit
    in `limit` tokens, then <eos>. Two answers in three of the teacher's run past 64 tokens; cut
    there with an <eos> after, they taught the student to stop in mid-sentence. A first sentence
    longer than `limit` is cut with no <eos>, so the student never learns to end one unfinished.
    And whether anything was left out."""
    ids = tok.encode(text)
    if len(ids) <= limit:
        return ids + [tok.eos], False
    kept: list[int] = []
    said = ""
    for sentence in sentences(text):
        said = f"{said} {sentence}".strip()
        longer = tok.encode(said)
        if len(longer) > limit:
            break
        kept = longer
    return (kept + [tok.eos] if kept else ids[:limit]), True


def retrieval_arrays(tok: Tokenizer, texts: list[str], marker: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    ids = np.full((len(texts), length), tok.pad, dtype=np.int32)
    weights = np.zeros((len(texts), length), dtype=np.float32)
    for i, encoded in enumerate(tok.encode_batch(texts)):
        row = [marker, *encoded[: length - 1]]
        ids[i, : len(row)] = row
        weights[i, : len(row)] = 1.0
    return ids, weights
