"""How long a student takes to explain each of the corpus' 225 dev samples, as `eval` times it,
with the code of any checkout: to tell a change from the machine's speed, run two checkouts on the
same checkpoint in turn under farm-bench and compare the p95 each run prints.

    python bench/explain_latency.py CHECKPOINT [--repo CHECKOUT]
    farm-bench -n 5 --vs "sh -c 'exec python bench/explain_latency.py CKPT --repo OLD >>/tmp/b 2>&1'" \
        -- sh -c 'exec python bench/explain_latency.py CKPT >>/tmp/a 2>&1'
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO  # noqa: E402

DEV = REPO.parent / "shared" / "corpus" / "stdlib_smollm2.dev.jsonl"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout whose code answers (default: this one)")
    args = parser.parse_args()
    sys.path.insert(0, str(args.repo.resolve()))
    import numpy as np

    from trm_lsp.student.data import load_samples
    from trm_lsp.student.infer import Student

    student = Student.load(args.checkpoint)
    ms = []
    for r in load_samples(DEV).records:
        started = time.perf_counter()
        student.explain(r.input, r.name, symbol=r.symbol, kind=r.kind, language=r.language)
        ms.append((time.perf_counter() - started) * 1000)
    print(json.dumps({"repo": str(args.repo), "checkpoint": str(args.checkpoint), "n": len(ms),
                      "p50": round(float(np.percentile(ms, 50)), 1), "p95": round(float(np.percentile(ms, 95)), 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
