"""The student on the real corpus: train on stdlib_smollm2.train.jsonl, test on the dev set,
with the baselines of the same run (issue 5's claims). Writes bench/results/student_eval.json.

    python bench/student_eval.py [--max_minutes 9] [extra `trm-lsp eval` flags...]
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, RESULTS  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"


def main() -> int:
    train, dev = CORPUS / "stdlib_smollm2.train.jsonl", CORPUS / "stdlib_smollm2.dev.jsonl"
    if not train.exists():
        print(f"corpus not found at {CORPUS}", file=sys.stderr)
        return 1
    cmd = [sys.executable, "-m", "trm_lsp", "eval", "--data_path", str(train), "--test_path", str(dev), "--json",
           *sys.argv[1:]]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    report = json.loads(out)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "student_eval.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
