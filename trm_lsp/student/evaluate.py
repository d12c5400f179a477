"""`trm-lsp eval`: train on one set, answer the other, and score the student against the
baselines computed in the same run.

Explanation: ROUGE-L F1 (`rouge-score`) and chrF (`sacrebleu`) against the teacher's output.
Baselines: `nearest_neighbour` (the teacher output of the training sample whose code is closest
by BM25, its symbol name replaced by ours) and `template` (a sentence from name, kind,
signature and the docstring's first line).
Retrieval: each test sample's teacher output is the query over all train+test code; MRR@10.
`mrr10_name_masked` removes the symbol's name and sub-words from the query (how users ask),
the headline figure, since the teacher repeats the name in nearly every answer.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass

import numpy as np

from trm_lsp.student.data import CodeIndex, Record, mask_name, nearest_explanation
from trm_lsp.student.fusion import fuse
from trm_lsp.student.openings import spelled_name


def split_holdout(records: list[Record], fraction: float = 0.2, seed: int = 1234) -> tuple[list[Record], list[Record]]:
    """A deterministic hold-out: the same records go to test on every run."""
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    cut = max(1, int(round(len(records) * fraction))) if len(records) > 1 else 0
    test = {order[i] for i in range(cut)}
    return [r for i, r in enumerate(records) if i not in test], [r for i, r in enumerate(records) if i in test]


def template_answer(record: Record) -> str:
    from trm_lsp.extract.code import extract_code

    signature, doc = "", ""
    try:
        items = extract_code(record.language or "python", record.input.encode("utf-8"))
    except Exception:  # a corpus record in a language we cannot parse: name and kind only
        items = []
    if items:
        signature, doc = items[0].signature, items[0].doc.splitlines()[0] if items[0].doc else ""
    language = spelled_name(record.language) if record.language else ""
    text = f"This {language} {record.kind} `{record.symbol}`"
    text += f" is defined as `{signature}`." if signature else "."
    if doc:
        text += f" {doc}"
    return text


def rouge_l(references: list[str], predictions: list[str]) -> float:
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"])
    return statistics.fmean(scorer.score(r, p)["rougeL"].fmeasure for r, p in zip(references, predictions))


def copies(hints: list[str], predictions: list[str], threshold: float = 0.9) -> int:
    """Answers that are (nearly) the neighbour's teacher answer they were conditioned on: ROUGE-L
    precision against it at or above `threshold`. The student must edit, not copy."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"])
    return sum(scorer.score(h, p)["rougeL"].precision >= threshold for h, p in zip(hints, predictions) if p)


def chrf(references: list[str], predictions: list[str]) -> float:
    from sacrebleu.metrics import CHRF

    metric = CHRF()
    return statistics.fmean(metric.sentence_score(p, [r]).score for r, p in zip(references, predictions))


def mrr10(rankings: list[list[int]], gold: list[int]) -> float:
    total = 0.0
    for ranking, target in zip(rankings, gold):
        top = ranking[:10]
        total += 1.0 / (top.index(target) + 1) if target in top else 0.0
    return total / max(len(gold), 1)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else 0.0


@dataclass
class RetrievalScores:
    student: float
    bm25: float
    hybrid: float
    hybrid_top50: float  # as the daemon ranks: the fusion over BM25's best 50 only


def retrieval_scores(student, corpus_codes: list[str], queries: list[str], gold: list[int],
                     code_vectors: np.ndarray | None = None) -> RetrievalScores:
    index = CodeIndex(corpus_codes)
    if code_vectors is None:
        code_vectors = student.embed(corpus_codes, "code")
    query_vectors = student.embed(queries, "text")
    sims = query_vectors @ code_vectors.T
    student_rank, bm25_rank, fused_rank, top50_rank = [], [], [], []
    for query, row in zip(queries, sims):
        lexical = index.scores(query)
        student_rank.append(list(np.argsort(-row)[:10]))
        bm25_rank.append(list(np.argsort(-lexical)[:10]))
        fused_rank.append(list(np.argsort(-fuse(lexical, row))[:10]))
        top = np.argsort(-lexical)[:50]
        top50_rank.append(list(top[np.argsort(-fuse(lexical[top], row[top]), kind="stable")][:10]))
    return RetrievalScores(mrr10(student_rank, gold), mrr10(bm25_rank, gold), mrr10(fused_rank, gold),
                           mrr10(top50_rank, gold))


def neighbour_answers(train: list[Record], test: list[Record]) -> list[str]:
    index = CodeIndex([r.input for r in train])
    return [nearest_explanation(train, index, r.input, r.name)[0] for r in test]


def evaluate(student, train: list[Record], test: list[Record], latency_samples: int = 60) -> dict:
    references = [r.output for r in test]
    started = time.perf_counter()
    answers, explain_ms = [], []
    for record in test:
        t0 = time.perf_counter()
        answers.append(student.explain(record.input, record.name, symbol=record.symbol, kind=record.kind,
                                       language=record.language))
        explain_ms.append((time.perf_counter() - t0) * 1000)
    explanations = [a.text for a in answers]
    neighbours = neighbour_answers(train, test)
    templates = [template_answer(r) for r in test]
    corpus = [r.input for r in train] + [r.input for r in test]
    gold = [len(train) + i for i in range(len(test))]
    code_vectors = student.embed(corpus, "code")
    plain = retrieval_scores(student, corpus, references, gold, code_vectors)
    masked = retrieval_scores(student, corpus, [mask_name(r.output, r.symbol) for r in test], gold, code_vectors)
    retrieve_ms = retrieval_latency(student, code_vectors, references[:latency_samples])
    return {
        "n_test": len(test),
        "eval_seconds": round(time.perf_counter() - started, 1),
        "explain": {
            "student": {"rougeL": round(rouge_l(references, explanations), 4), "chrf": round(chrf(references, explanations), 2)},
            "nearest_neighbour": {"rougeL": round(rouge_l(references, neighbours), 4), "chrf": round(chrf(references, neighbours), 2)},
            "template": {"rougeL": round(rouge_l(references, templates), 4), "chrf": round(chrf(references, templates), 2)},
            "copies_of_the_neighbour": copies([a.hint for a in answers], explanations),
        },
        "retrieval": {
            "student": {"mrr10": round(plain.student, 4), "mrr10_name_masked": round(masked.student, 4)},
            "student_bm25_fused": {"mrr10": round(plain.hybrid, 4), "mrr10_name_masked": round(masked.hybrid, 4)},
            "student_bm25_fused_top50": {"mrr10": round(plain.hybrid_top50, 4),
                                         "mrr10_name_masked": round(masked.hybrid_top50, 4)},
            "bm25": {"mrr10": round(plain.bm25, 4), "mrr10_name_masked": round(masked.bm25, 4)},
        },
        "latency_ms": {
            "explain_p50": round(percentile(explain_ms, 50), 1), "explain_p95": round(percentile(explain_ms, 95), 1),
            "retrieve_p50": round(percentile(retrieve_ms, 50), 2), "retrieve_p95": round(percentile(retrieve_ms, 95), 2),
            "retrieve_index_size": 10_000,
        },
        "examples": [{"symbol": r.symbol, "student": e, "teacher": r.output[:300]} for r, e in list(zip(test, explanations))[:3]],
    }


def retrieval_latency(student, code_vectors: np.ndarray, queries: list[str], size: int = 10_000) -> list[float]:
    """Query embedding plus ranking against `size` indexed symbols (the corpus vectors tiled)."""
    reps = -(-size // max(len(code_vectors), 1))
    matrix = np.ascontiguousarray(np.tile(code_vectors, (reps, 1))[:size])
    times = []
    for query in queries:
        t0 = time.perf_counter()
        vector = student.embed([query], "text")[0]
        scores = matrix @ vector
        top = np.argpartition(-scores, 10)[:10]
        top[np.argsort(-scores[top])]
        times.append((time.perf_counter() - t0) * 1000)
    return times
