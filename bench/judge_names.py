"""What the readability judge's verdicts on a fine-tuned student's answers are about: mostly the
code names they quote, not their English (stop 35; docs/student-notebook.md, "Tried at stop 35").

For each answers file of `trm-lsp eval --answers`:
- `unreadable`: the judge's share as defined (DESIGN.md), and again with every code span, in the
  teacher's answers and the system's alike, read as `f` ("This Python method `f` is used to ...").
  Only for systems that write in the teacher's frame: an answer without it (the base alone) is
  then held to openings the judge finds near-certain, and looks worse, not better;
- `auc`: how well each of these separates the answers the judge found unreadable: the gate's
  score (`gate.Readability`: the base's mean log-probability of what follows the answer's forced
  opening, "This Python method `Aifc_write._lin2sowt`"), the judge's own log-probability of that
  opening alone, and the gate's score plus `WEIGHT` times the base's log-probability of the opening;
- `gate`: both scores' thresholds calibrated on the first file (`gate.calibrate`, as
  bench/calibrate_gate.py does) and applied to every file, with the shares shown and unreadable.

    python bench/judge_names.py CALIBRATION.answers.jsonl:DATA[:holdout] [OTHER.answers.jsonl:DATA[:holdout] ...]
        [--judge_cache FILE]

DATA is the JSONL the answers were written for (`--data_path`, or `--test_path` when given);
`holdout` when `eval` held out 20% of it. Needs the judge (the `e2e` extra).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, RESULTS  # noqa: E402
from calibrate_gate import CONFIDENCE_Z  # noqa: E402  the same bound as the shipped gate's calibration

sys.path.insert(0, str(REPO))
from trm_lsp.student.data import header, load_samples  # noqa: E402
from trm_lsp.student.evaluate import split_holdout  # noqa: E402
from trm_lsp.student.gate import Readability, calibrate, opening_of  # noqa: E402
from trm_lsp.student.judge import Judge, Reference, judge_answer  # noqa: E402

#: The opening's log-probability enters as if spread over 50 tokens (chosen on the train split's
#: hold-outs and the Go corpus: 0.01-0.03 all separate better than 0; dev decided nothing).
WEIGHT = 0.02


def auc(unreadable: list[bool], score: list[float]) -> float:
    """P(an unreadable answer scores lower than a readable one), ties counted half."""
    bad, s = np.asarray(unreadable, bool), np.asarray(score, float)
    low, high = s[bad][:, None], s[~bad][None, :]
    return float(((low < high).sum() + 0.5 * (low == high).sum()) / max(1, low.size * high.size))


def spans_as_f(text: str) -> str:
    """The text with each code span read as `f`: what the judge says of the rest."""
    return re.sub(r"`[^`\n]*`", "`f`", text)


READINGS = {"as defined": lambda text: text, "code spans as `f`": spans_as_f}


def unreadable_shares(rows: list[dict], judge: Judge) -> tuple[dict, dict[str, list[bool]]]:
    """Per reading (`READINGS`) and system, the judge's unreadable share; and per reading its
    verdict on each of the student's answers."""
    out, student = {}, {}
    for name, read in READINGS.items():
        reference = Reference.of([judge.token_logprobs(read(row["teacher"])) for row in rows])
        out[name] = {}
        for system in ("teacher", "student", "nearest_neighbour"):
            verdicts = [judge_answer(judge.token_logprobs(read(row[system])), reference).unreadable for row in rows]
            out[name][system] = round(sum(verdicts) / len(rows), 3)
            if system == "student":
                student[name] = verdicts
    return out, student


def features(rows: list[dict], data: Path, holdout: bool, judge: Judge, base: Readability) -> list[dict]:
    """Per student answer: the gate's score, and the log-probability of its opening under the
    base (as the gate reads, `Readability.token_logprobs`) and under the judge."""
    records = load_samples(data).records
    if holdout:
        records = split_holdout(records)[1]
    by_id = {r.id or f"{r.path}::{r.symbol}": r for r in records}
    out = []
    for row in rows:
        record, text = by_id[row["id"]], row["student"]
        opening = opening_of(text)
        in_judge = len(judge.llm.tokenize(opening.encode("utf-8"), add_bos=False)) if opening else 0
        [(logps, forced)] = base.token_logprobs(record.input, header(record.language, record.kind, record.symbol),
                                                [text], opening)
        out.append({"readability": row["readability"], "opening_base": float(np.sum(logps[:forced])),
                    "opening_judge": float(np.sum(judge.token_logprobs(text)[:in_judge]))})
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
    # Calibrated on the first file; the gate score's shipped threshold too (a fine-tuned student's, unshifted).
    thresholds: dict[str, float | None] = {"gate score, shipped threshold": base.meta.get("gate_finetuned")}
    scores_of_gates = {name: scores[name] for name in gates} | {"gate score, shipped threshold": scores["gate score"]}
    report = []
    for i, spec in enumerate(args.sets):
        path, data, *flag = spec.split(":")
        answers = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]
        rows = features(answers, Path(data), flag == ["holdout"], judge, base)
        shares, verdicts = unreadable_shares(answers, judge)
        bad, as_f = verdicts["as defined"], verdicts["code spans as `f`"]
        entry = {"answers": path, "n": len(rows), "unreadable": shares,
                 "auc": {name: round(auc(bad, [f(r) for r in rows]), 3) for name, f in scores.items()}}
        for name, score in scores_of_gates.items():
            values = [score(r) for r in rows]
            if i == 0 and name in gates:
                thresholds[name] = calibrate(values, bad, z=CONFIDENCE_Z).threshold
            kept = [k for k, v in enumerate(values) if thresholds[name] is None or v >= thresholds[name]]
            entry.setdefault("gate", {})[name] = {
                "threshold": thresholds[name], "shown": round(len(kept) / len(rows), 3),
                "unreadable_shown": round(sum(bad[k] for k in kept) / max(1, len(kept)), 3),
                "unreadable_shown_code_spans_as_f": round(sum(as_f[k] for k in kept) / max(1, len(kept)), 3)}
        report.append(entry)
        print(json.dumps(entry, indent=1))
    (RESULTS / "judge_names.json").write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
