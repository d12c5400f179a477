"""Where the judge's surprise at a fine-tuned student's answer comes from, and what the gate
would gain by scoring it there too (tried at stop 35, not kept: see the README).

The gate's score (`gate.Readability`) is the base's mean log-probability of what follows the
answer's forced opening ("This Python method `Aifc_write._lin2sowt`"); the judge reads the whole
answer, name included. For each answers file of `trm-lsp eval --answers` this prints how well
each of these separates the answers the judge found unreadable (ROC AUC): the gate's score, the
judge's own log-probability of the opening alone, and the gate's score plus `WEIGHT` times the
base's log-probability of the opening. The first file also calibrates both gates
(`gate.calibrate`, as bench/calibrate_gate.py does), applied to every file.

    python bench/gate_opening.py CALIBRATION.answers.jsonl:DATA[:holdout] [OTHER.answers.jsonl:DATA[:holdout] ...]
        [--judge_cache FILE]

DATA is the JSONL the answers were written for (`--data_path`, or `--test_path` when given);
`holdout` when `eval` held out 20% of it. Needs the judge (the `e2e` extra).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, RESULTS  # noqa: E402

sys.path.insert(0, str(REPO))
from trm_lsp.student.data import header, load_samples, prefix_ids  # noqa: E402
from trm_lsp.student.evaluate import split_holdout  # noqa: E402
from trm_lsp.student.gate import Readability, calibrate  # noqa: E402
from trm_lsp.student.judge import Judge, Reference, judge_answer  # noqa: E402

#: The opening's log-probability enters as if spread over 50 tokens (chosen on the train split's
#: hold-outs and the Go corpus: 0.01-0.03 all separate better than 0; dev decided nothing).
WEIGHT = 0.02
CONFIDENCE_Z = 1.2816  # as bench/calibrate_gate.py


def auc(unreadable: list[bool], score: list[float]) -> float:
    """P(an unreadable answer scores lower than a readable one), ties counted half."""
    bad, s = np.asarray(unreadable, bool), np.asarray(score, float)
    low, high = s[bad][:, None], s[~bad][None, :]
    return float(((low < high).sum() + 0.5 * (low == high).sum()) / max(1, low.size * high.size))


def opening_of(answer: str) -> str:
    """Up to the closing backtick of the answer's first code span (the forced opening and name)."""
    first = answer.find("`")
    close = answer.find("`", first + 1) if first >= 0 else -1
    return answer[: close + 1] if close > 0 and first <= 40 else ""


def features(answers_path: Path, data: Path, holdout: bool, judge: Judge, base: Readability) -> list[dict]:
    records = load_samples(data).records
    if holdout:
        records = split_holdout(records)[1]
    by_id = {r.id or f"{r.path}::{r.symbol}": r for r in records}
    rows = [json.loads(line) for line in answers_path.read_text(encoding="utf-8").splitlines()]
    reference = Reference.of([judge.token_logprobs(row["teacher"]) for row in rows])
    tok, out = base.tok, []
    for row in rows:
        record, text = by_id[row["id"]], row["student"]
        opening = opening_of(text)
        judged = judge.token_logprobs(text)
        in_judge = len(judge.llm.tokenize(opening.encode("utf-8"), add_bos=False)) if opening else 0
        prefix = prefix_ids(tok, record.input, "", base.lengths, header(record.language, record.kind, record.symbol))
        ids = tok.encode(text)[: base.lengths.answer] + [tok.eos]
        forced = tok.encode(opening) if opening else []
        logps = base.engine.vocab_logprobs(prefix, [ids], base.steps)[0]
        k = len(forced) if forced and ids[: len(forced)] == forced else 0
        out.append({"symbol": row["symbol"], "unreadable": judge_answer(judged, reference).unreadable,
                    "readability": row["readability"], "opening_base": float(np.sum(logps[:k])),
                    "opening_judge": float(np.sum(judged[:in_judge]))})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sets", nargs="+", help="ANSWERS.jsonl:DATA[:holdout]; the first calibrates")
    parser.add_argument("--judge_cache", type=Path, default=RESULTS / "judge_cache.jsonl")
    args = parser.parse_args()
    judge, base = Judge.load(cache=args.judge_cache), Readability.of_base()
    scores = {"gate score": lambda f: f["readability"],
              f"gate score + {WEIGHT} x opening (base)": lambda f: f["readability"] + WEIGHT * f["opening_base"],
              "opening alone (the judge's own)": lambda f: f["opening_judge"]}
    gates = list(scores)[:2]
    thresholds: dict[str, float | None] = {}
    report = []
    for i, spec in enumerate(args.sets):
        path, data, *flag = spec.split(":")
        rows = features(Path(path), Path(data), flag == ["holdout"], judge, base)
        bad = [f["unreadable"] for f in rows]
        entry = {"answers": path, "n": len(rows), "unreadable": sum(bad),
                 "auc": {name: round(auc(bad, [f(r) for r in rows]), 3) for name, f in scores.items()}}
        for name in gates:
            values = [scores[name](r) for r in rows]
            if i == 0:
                thresholds[name] = calibrate(values, bad, z=CONFIDENCE_Z).threshold
            shown = [b for v, b in zip(values, bad) if thresholds[name] is None or v >= thresholds[name]]
            entry.setdefault("gate", {})[name] = {"threshold": thresholds[name], "shown": round(len(shown) / len(rows), 3),
                                                  "unreadable_shown": round(sum(shown) / max(1, len(shown)), 3)}
        report.append(entry)
        print(json.dumps(entry, indent=1))
    (RESULTS / "gate_opening.json").write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
