"""What a symbol's doc comment is worth to the student, measured where the corpus has one.

The corpus is Python, whose docstrings sit inside a function's text; Go, Rust, Java, C, C++ and
JSDoc comments sit above a definition, outside it, and the student reads them as a comment line
on top (`trm_lsp/student/code_input.py`). One trained checkpoint answers the dev set three ways:
as it is, with each docstring taken out of the code, and with it put back as that comment line.
Reported: ROUGE-L and the judge's unreadable share on the samples that have a docstring, and on
all samples the answers said of another symbol too and retrieval as the daemon serves it.

    python bench/doc_comment.py CHECKPOINT    # e.g. bench/results/student_eval.base_all.checkpoint
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, RESULTS  # noqa: E402

sys.path.insert(0, str(REPO))
from trm_lsp.student.code_input import with_doc  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"
TRAIN, DEV = CORPUS / "stdlib_smollm2.train.jsonl", CORPUS / "stdlib_smollm2.dev.jsonl"


def without_docstring(code: str) -> tuple[str, str]:
    """(the code with its own docstring taken out, that docstring); ("", "") when it has none."""
    try:
        tree = ast.parse(textwrap.dedent(code))
    except SyntaxError:
        return "", ""
    node = tree.body[0] if tree.body else None
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return "", ""
    doc = ast.get_docstring(node)
    if not doc:
        return "", ""
    first = node.body[0]
    lines = code.splitlines(keepends=True)
    if len(node.body) == 1:  # the docstring was the whole body: keep it valid
        line = lines[first.lineno - 1]
        lines[first.lineno - 1 : first.end_lineno] = [line[: len(line) - len(line.lstrip())] + "pass\n"]
    else:
        del lines[first.lineno - 1 : first.end_lineno]
    return "".join(lines), doc


def variants(work: Path) -> tuple[dict[str, Path], list[int]]:
    rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    out = {"as in the corpus": DEV, "docstring taken out": work / "dev.no_doc.jsonl",
           "as a comment line on top": work / "dev.doc_comment.jsonl"}
    documented = []
    with open(out["docstring taken out"], "w") as bare, open(out["as a comment line on top"], "w") as commented:
        for i, row in enumerate(rows):
            code, doc = without_docstring(row["input"])
            if doc:
                documented.append(i)
            bare.write(json.dumps({**row, "input": code or row["input"]}, ensure_ascii=False) + "\n")
            moved = with_doc(code, doc, "python") if doc else row["input"]
            commented.write(json.dumps({**row, "input": moved}, ensure_ascii=False) + "\n")
    return out, documented


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", type=Path)
    args = parser.parse_args()
    from rouge_score import rouge_scorer

    RESULTS.mkdir(parents=True, exist_ok=True)
    paths, documented = variants(RESULTS)
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    report = {"checkpoint": str(args.checkpoint), "documented": len(documented), "n": None}
    for name, path in paths.items():
        answers = RESULTS / f"doc_comment.{name.replace(' ', '_')}.answers.jsonl"
        cmd = [sys.executable, "-m", "trm_lsp", "eval", "--data_path", str(TRAIN), "--test_path", str(path),
               "--student", str(args.checkpoint), "--json", "--answers", str(answers),
               "--judge_cache", str(RESULTS / "judge_cache.jsonl")]
        print(f"{name}: {' '.join(cmd[2:])}", file=sys.stderr, flush=True)
        result = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
        rows = [json.loads(line) for line in answers.read_text().splitlines()]
        report["n"] = len(rows)
        student = result["explain"]["student"]
        report[name] = {
            "documented_rougeL": round(sum(scorer.score(rows[i]["teacher"], rows[i]["student"])["rougeL"].fmeasure
                                           for i in documented) / len(documented), 4),
            "documented_unreadable": round(sum(bool(rows[i].get("student_unreadable")) for i in documented)
                                           / len(documented), 4) if "student_unreadable" in rows[0] else None,
            "said_of_another": student["fluency_check"]["said_of_another"],
            "served_mrr10": result["retrieval"]["served"],
        }
    (RESULTS / "doc_comment.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
