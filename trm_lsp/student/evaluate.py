"""`trm-lsp eval`: train on one set, answer the other, and score the student against the
baselines computed in the same run.

Explanation: ROUGE-L F1 (`rouge-score`) and chrF (`sacrebleu`) against the teacher's output.
Baselines: `nearest_neighbour` (the teacher output of the training sample whose code is closest
by BM25, its symbol name replaced by ours) and `template` (a sentence from name, kind,
signature and the docstring's first line).
Retrieval: each test sample's teacher output is the query over all train+test code; MRR@10.
`mrr10_name_masked` removes the symbol's name and sub-words from the query (how users ask),
the headline figure, since the teacher repeats the name in nearly every answer. Rankings:
`bm25` (the baseline: BM25 over code), `student` (embeddings alone), `student_bm25_fused` (both,
over every symbol), and `served` as the daemon serves `consult_logic_model` (serve/search.py: its
stemmed BM25 over names, code and the teacher's answers of the training samples, best 50
re-ranked with the student), with `served_bm25` its BM25 alone, so the student's share shows.
"""

from __future__ import annotations

import json
import math
import random
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trm_lsp.student import fluency
from trm_lsp.student.judge import summarise

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
    bm25: float  # the baseline: BM25 over each symbol's code
    hybrid: float  # that BM25 and the student fused, over every symbol
    served_lexical: float  # the daemon's BM25 alone (serve/search.py), the student's share left out
    served: float  # as the daemon serves it: its BM25's best candidates re-ranked with the student


def retrieval_scores(student, corpus_codes: list[str], documents: list[str], explanations: list[str],
                     question_sets: list[list[str]], gold: list[int],
                     code_vectors: np.ndarray | None = None) -> list[RetrievalScores]:
    """MRR@10 of each ranking, for each set of questions (plain, name-masked) over the same
    indexes. `documents`: what the daemon indexes of each symbol (`search.document`);
    `explanations`: the teacher answers it has, from which it learns the words that every
    explanation uses (`search.Terms`)."""
    import bm25s

    from trm_lsp.serve.search import Terms, candidates  # the daemon's own ranking, not a copy

    index = CodeIndex(corpus_codes)
    terms = Terms(explanations)
    served_index = bm25s.BM25()
    served_index.index([terms(d) for d in documents], show_progress=False)
    if code_vectors is None:
        code_vectors = student.embed(corpus_codes, "code")
    out = []
    for queries in question_sets:
        sims = student.embed(queries, "text") @ code_vectors.T
        ranks: dict[str, list[list[int]]] = {name: [] for name in ("student", "bm25", "hybrid", "served_lexical", "served")}
        for query, row in zip(queries, sims):
            lexical = index.scores(query)
            ranks["student"].append(list(np.argsort(-row)[:10]))
            ranks["bm25"].append(list(np.argsort(-lexical)[:10]))
            ranks["hybrid"].append(list(np.argsort(-fuse(lexical, row))[:10]))
            found = candidates(served_index, terms(query), len(documents))
            top = np.array([i for i, _ in found], dtype=int)
            ranks["served_lexical"].append(list(top[:10]))
            fused = top[np.argsort(-fuse(np.array([s for _, s in found]), row[top]), kind="stable")] if len(top) else top
            ranks["served"].append(list(fused[:10]))
        out.append(RetrievalScores(**{name: mrr10(ranked, gold) for name, ranked in ranks.items()}))
    return out


def neighbour_answers(train: list[Record], test: list[Record]) -> list[str]:
    if not train:  # nothing to be the neighbour of: the baseline has no answer
        return [""] * len(test)
    index = CodeIndex([r.input for r in train])
    return [nearest_explanation(train, index, r.input, r.name)[0] for r in test]


def evaluate(student, train: list[Record], test: list[Record], latency_samples: int = 60,
             judge=None, judge_missing: str = "not installed", answers_path: Path | None = None) -> dict:
    """Every figure of `trm-lsp eval` for a trained student: explanation quality (ROUGE-L, chrF,
    readability) for the student, the baselines and the teacher's own answers; the confidence
    gate; retrieval; latency. `judge`: a `judge.Judge`, or None to skip the perplexity figures."""
    references = [r.output for r in test]
    started = time.perf_counter()
    answers, explain_ms = [], []
    for record in test:
        t0 = time.perf_counter()
        answers.append(student.explain(record.input, record.name, symbol=record.symbol, kind=record.kind,
                                       language=record.language))
        explain_ms.append((time.perf_counter() - t0) * 1000)
    systems = {"student": [a.text for a in answers], "nearest_neighbour": neighbour_answers(train, test),
               "template": [template_answer(r) for r in test]}
    shown = [i for i, a in enumerate(answers) if not a.declined]
    # What the readability score alone would show (the gate): the answers said of another
    # symbol or saying nothing, which read well, are declined for what they say, not how.
    by_score = [i for i, a in enumerate(answers) if not a.doc and not student.reads_badly(a.readability)]
    explain = {name: {"rougeL": round(rouge_l(references, texts), 4), "chrf": round(chrf(references, texts), 2)}
               for name, texts in systems.items()}
    explain["teacher"] = {}
    codes, symbols = [r.input for r in test], [r.symbol for r in test]
    for name, texts in {**systems, "teacher": references}.items():
        explain[name]["fluency_check"] = fluency.report(texts, codes, symbols)
    gate = {"threshold": student.gate, "declined": len(answers) - len(shown),
            "declined_as_said_of_another": sum(bool(a.same_as) for a in answers),
            "declined_as_saying_nothing": sum(bool(a.says_nothing) for a in answers),
            "declined_as_unlike_the_doc": sum(bool(a.unlike_doc) for a in answers),
            "left_to_the_doc_comment": sum(bool(a.doc) for a in answers),
            "shown_share": round(len(shown) / max(len(answers), 1), 4),
            "score_alone_shown_share": round(len(by_score) / max(len(answers), 1), 4)}
    # Read well and said of no other symbol word for word, the shown may still be one frame.
    frame, frame_share = fluency.commonest_opening([systems["student"][i] for i in shown], [symbols[i] for i in shown])
    gate["shown_commonest_opening"] = {"opening": frame, "share": frame_share}
    if judge is not None:
        scores = judge_readability(judge, references, systems)
        for name, figures in scores["summary"].items():
            explain[name].update(figures)
        verdicts = scores["verdicts"]["student"]
        gate["shown"] = summarise([verdicts[i] for i in shown])
        gate["score_alone_shown"] = summarise([verdicts[i] for i in by_score])
    else:
        explain["judge"] = judge_missing
    explain["student"]["gate"] = gate
    explain["copies_of_the_neighbour"] = copies([a.hint for a in answers], systems["student"])
    if answers_path is not None:
        write_answers(answers_path, test, systems, answers, scores["verdicts"] if judge is not None else None)
    from trm_lsp.serve.search import document  # retrieval is measured as the daemon serves it

    corpus = [r.input for r in train] + [r.input for r in test]
    # As the daemon sees the workspace: the training samples are symbols the teacher explained.
    documents = [document(r.symbol, r.input, r.output, r.path) for r in train] + [
        document(r.symbol, r.input, "", r.path) for r in test]
    explanations = [r.output for r in train]
    gold = [len(train) + i for i in range(len(test))]
    code_vectors = student.embed(corpus, "code")
    plain, masked = retrieval_scores(student, corpus, documents, explanations,
                                     [references, [mask_name(r.output, r.symbol) for r in test]], gold, code_vectors)
    retrieve_ms = retrieval_latency(student, code_vectors, references[:latency_samples])
    return {
        "n_test": len(test),
        "eval_seconds": round(time.perf_counter() - started, 1),
        "explain": explain,
        "retrieval": {
            "student": {"mrr10": round(plain.student, 4), "mrr10_name_masked": round(masked.student, 4)},
            "student_bm25_fused": {"mrr10": round(plain.hybrid, 4), "mrr10_name_masked": round(masked.hybrid, 4)},
            "served_bm25": {"mrr10": round(plain.served_lexical, 4),
                            "mrr10_name_masked": round(masked.served_lexical, 4)},
            "served": {"mrr10": round(plain.served, 4), "mrr10_name_masked": round(masked.served, 4)},
            "bm25": {"mrr10": round(plain.bm25, 4), "mrr10_name_masked": round(masked.bm25, 4)},
        },
        "latency_ms": {
            "explain_p50": round(percentile(explain_ms, 50), 1), "explain_p95": round(percentile(explain_ms, 95), 1),
            "retrieve_p50": round(percentile(retrieve_ms, 50), 2), "retrieve_p95": round(percentile(retrieve_ms, 95), 2),
            "retrieve_index_size": 10_000,
        },
        "examples": [{"symbol": r.symbol, "student": e, "teacher": r.output[:300]}
                     for r, e in list(zip(test, systems["student"]))[:3]],
    }


def judge_readability(judge, teacher: list[str], systems: dict[str, list[str]]) -> dict:
    """Per system (and the teacher): the judge's summary, and each answer's verdict."""
    from trm_lsp.student.judge import Reference, judge_answer

    teacher_lp = [judge.token_logprobs(t) for t in teacher]
    reference = Reference.of(teacher_lp)
    verdicts = {"teacher": [judge_answer(lp, reference) for lp in teacher_lp]}
    for name, texts in systems.items():
        verdicts[name] = [judge_answer(judge.token_logprobs(t), reference) for t in texts]
    return {"summary": {name: summarise(v) for name, v in verdicts.items()}, "verdicts": verdicts}


def write_answers(path: Path, test: list[Record], systems: dict[str, list[str]], answers,
                  verdicts: dict | None = None) -> None:
    """One JSON object per test sample, for judging with other tools; with the judge's verdicts
    (perplexity, unreadable) per system when it ran."""
    with open(path, "w", encoding="utf-8") as fh:
        for i, record in enumerate(test):
            row = {"id": record.id or f"{record.path}::{record.symbol}",
                   "symbol": record.symbol, "teacher": record.output,
                   **{name: texts[i] for name, texts in systems.items()},
                   "declined": answers[i].declined, "same_as": answers[i].same_as,
                   "says_nothing": answers[i].says_nothing, "left_to_doc": bool(answers[i].doc),
                   "unlike_doc": answers[i].unlike_doc,
                   "confidence": round(answers[i].confidence, 4),
                   "readability": round(answers[i].readability, 4)}
            for name, per_answer in (verdicts or {}).items():
                ppl = per_answer[i].ppl
                row[f"{name}_ppl"] = round(ppl, 2) if math.isfinite(ppl) else None
                row[f"{name}_unreadable"] = per_answer[i].unreadable
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


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
