"""How long a student takes to explain each of the corpus' 225 dev samples, as `eval` times it,
with the code of any checkout.

    python bench/explain_latency.py CHECKPOINT [--repo CHECKOUT]
    python bench/explain_latency.py CHECKPOINT --vs OLD_CHECKOUT [--rounds 2]
    python bench/explain_latency.py CHECKPOINT --data bench/results/other_languages/rust.dev.jsonl

With `--vs`, two workers (this checkout's code and the other's, the same checkpoint) explain
each sample in turn, the order swapped every sample, so the machine's drift (25% within an hour
here) falls on both alike; it prints both p50/p95, the ratio of the totals and whether the two
wrote the same texts. Runs of whole processes one after another (farm-bench) could not tell a
10% change from the drift. The workers use one BLAS thread each, so the ratio is the code's; the
p95 a user sees is the first form's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO  # noqa: E402

DEV = REPO.parent / "shared" / "corpus" / "stdlib_smollm2.dev.jsonl"


def _load(checkpoint: Path, repo: Path, data: Path):
    sys.path.insert(0, str(repo.resolve()))
    from trm_lsp.student.data import load_samples
    from trm_lsp.student.infer import Student

    return Student.load(checkpoint), load_samples(data).records


def _explain(student, record) -> tuple[float, str]:
    started = time.perf_counter()
    text = student.explain(record.input, record.name, symbol=record.symbol, kind=record.kind,
                           language=record.language).text
    return (time.perf_counter() - started) * 1000, text


def _worker(checkpoint: Path, repo: Path, data: Path) -> int:
    """Explain the sample whose index arrives on stdin; answer with its time and text."""
    student, records = _load(checkpoint, repo, data)
    print(f"ready {len(records)}", flush=True)  # the samples it read: the parent asks by index
    for line in sys.stdin:
        if line.strip() == "reset":  # a new round: the student forgets what it said
            student.forget()
            print("ok", flush=True)
            continue
        ms, text = _explain(student, records[int(line)])
        print(json.dumps([ms, text]), flush=True)
    return 0


def _compare(checkpoint: Path, other: Path, rounds: int, data: Path) -> dict:
    import numpy as np

    def spawn(repo: Path) -> subprocess.Popen:
        # One BLAS thread each: an idle worker's OpenBLAS threads spin for a while after each call
        # and took the other's core (both slowed by a third, the ratio blurred: 0.89 vs 0.81).
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
        proc = subprocess.Popen([sys.executable, __file__, str(checkpoint), "--repo", str(repo), "--data", str(data), "--worker"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        ready = proc.stdout.readline().split()
        if ready[:1] != ["ready"]:
            raise SystemExit(f"the worker for {repo} did not start")
        counts.append(int(ready[1]))
        return proc

    def ask(proc: subprocess.Popen, line: str) -> str:
        proc.stdin.write(line + "\n")
        proc.stdin.flush()
        return proc.stdout.readline()

    counts: list[int] = []
    workers = {"this": spawn(REPO), "other": spawn(other)}
    if counts[0] != counts[1]:
        raise SystemExit(f"the two checkouts read {counts[0]} and {counts[1]} samples of {data}")
    count = counts[0]
    times = {"this": [], "other": []}
    same = 0
    for round_ in range(rounds):
        for name in workers:
            ask(workers[name], "reset")
        for i in range(count):
            order = ["this", "other"] if (i + round_) % 2 == 0 else ["other", "this"]
            texts = {}
            for name in order:
                ms, texts[name] = json.loads(ask(workers[name], str(i)))
                times[name].append(ms)
            same += texts["this"] == texts["other"]
    for proc in workers.values():
        proc.stdin.close()
        proc.wait()
    a, b = np.asarray(times["this"]), np.asarray(times["other"])
    return {"checkpoint": str(checkpoint), "other": str(other), "explained": len(a), "same_text": same,
            "this_p50": round(float(np.percentile(a, 50)), 1), "other_p50": round(float(np.percentile(b, 50)), 1),
            "this_p95": round(float(np.percentile(a, 95)), 1), "other_p95": round(float(np.percentile(b, 95)), 1),
            "ratio_total": round(float(a.sum() / b.sum()), 3), "ratio_p95": round(float(np.percentile(a, 95) / np.percentile(b, 95)), 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout whose code answers (default: this one)")
    parser.add_argument("--vs", type=Path, help="another checkout: explain each sample with both, in turn")
    parser.add_argument("--rounds", type=int, default=1, help="with --vs: passes over the samples")
    parser.add_argument("--data", type=Path, default=DEV, help="the samples to explain (default: the corpus' dev set)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return _worker(args.checkpoint, args.repo, args.data)
    if args.vs is not None:
        print(json.dumps(_compare(args.checkpoint, args.vs, args.rounds, args.data)))
        return 0
    import numpy as np

    student, records = _load(args.checkpoint, args.repo, args.data)
    ms = [_explain(student, r)[0] for r in records]
    print(json.dumps({"repo": str(args.repo), "checkpoint": str(args.checkpoint), "n": len(ms),
                      "p50": round(float(np.percentile(ms, 50)), 1), "p95": round(float(np.percentile(ms, 95)), 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
