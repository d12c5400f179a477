"""What the teacher-answer checks (`trm_lsp/distill/teacher.py`, `vetted`) do to real answers.

Every answer of the shared corpus (SmolLM2-135M explaining the Python standard library, the
kind of small model a laptop runs) is put through the checks the distiller applies before it
stores an answer: how many would be asked again, and why, and how many would lose a repeated
sentence and what follows it. Every affected answer is printed, before and after, to be read:
a check that refuses good answers costs teacher time, and one that passes junk shows it.

    python bench/teacher_vetting.py
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, write_report  # noqa: E402

sys.path.insert(0, str(REPO))
from trm_lsp.distill.teacher import Reply, TeacherError, vetted  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"


def main() -> None:
    rows = [json.loads(line) for split in ("train", "dev")
            for line in (CORPUS / f"stdlib_smollm2.{split}.jsonl").read_text().splitlines() if line.strip()]
    refused: Counter = Counter()
    affected = []
    for row in rows:
        try:
            kept, dropped = vetted(Reply(row["reasoning"], row["output"]), row["input"])
        except TeacherError as exc:
            refused[str(exc).split(":")[0]] += 1
            affected.append({"symbol": row["symbol"], "refused": str(exc), "answer": row["output"]})
            continue
        if dropped:
            affected.append({"symbol": row["symbol"], "dropped_sentences": dropped, "answer": row["output"],
                             "kept": kept.output})
    for case in affected:
        what = case.get("refused") or f"{case.get('dropped_sentences')} sentence(s) dropped"
        print(f"\n{case['symbol']}: {what}")
        print(f"  teacher: {case['answer'][:400]!r}")
        if "kept" in case:
            print(f"  kept:    {case['kept']!r}")
    write_report("teacher_vetting", {
        "answers": len(rows), "refused": dict(refused), "refused_total": sum(refused.values()),
        "stored_without_a_repeated_sentence": sum("kept" in c for c in affected), "cases": affected,
    }, shown={"answers": len(rows), "refused": dict(refused),
              "stored_without_a_repeated_sentence": sum("kept" in c for c in affected)})


if __name__ == "__main__":
    main()
