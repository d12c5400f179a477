"""Distillation overhead: 500 symbols against a teacher that answers in 100 ms, 4 calls in
flight. The ideal is 500 x 0.1 s / 4 = 12.5 s; claim (issue 4): within 1.3x of it.
The test server runs in its own process so it does not share our GIL.

    python bench/distill_overhead.py [--symbols 500] [--delay 0.1] [--concurrency 4] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, median  # noqa: E402


def make_workspace(root: Path, symbols: int) -> None:
    per_file = 25
    for m in range((symbols + per_file - 1) // per_file):
        count = min(per_file, symbols - m * per_file)
        (root / f"mod{m}.py").write_text("".join(
            f"def f_{m}_{n}(values):\n    total = 0\n    for v in values:\n        total += v * {n}\n    return total\n\n"
            for n in range(count)))


async def distill_once(root: Path, url: str, concurrency: int) -> tuple[float, int]:
    from trm_lsp.config import TeacherSettings
    from trm_lsp.distill.teacher import make_teacher
    from trm_lsp.distill.worker import Distiller
    from trm_lsp.indexer import index_workspace
    from trm_lsp.store import Store

    shutil.rmtree(root / ".trm-lsp", ignore_errors=True)
    store = Store.for_workspace(root)
    index_workspace(root, store)
    settings = TeacherSettings(host=url, concurrency=concurrency)
    teacher = make_teacher(settings)
    await teacher.check()
    distiller = Distiller(store, teacher, settings)
    started = time.perf_counter()
    distiller.plan()
    stats = await distiller.run()
    seconds = time.perf_counter() - started
    await teacher.close()
    store.close()
    return seconds, stats.answered


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--delay", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    server = subprocess.Popen([sys.executable, "-m", "tests.fake_teacher", "--delay", str(args.delay)],
                              cwd=REPO, stdout=subprocess.PIPE, text=True)
    root = Path(tempfile.mkdtemp(prefix="trm-lsp-distill-"))
    try:
        url = server.stdout.readline().strip()
        make_workspace(root, args.symbols)
        runs = [asyncio.run(distill_once(root, url, args.concurrency)) for _ in range(args.runs)]
        assert all(answered == args.symbols for _, answered in runs), runs
        ideal = args.symbols * args.delay / args.concurrency
        seconds = median([s for s, _ in runs])
        result = {"symbols": args.symbols, "teacher_delay_s": args.delay, "concurrency": args.concurrency,
                  "runs": args.runs, "ideal_s": ideal, "median_s": round(seconds, 2),
                  "ratio_to_ideal": round(seconds / ideal, 3), "all_s": [round(s, 2) for s, _ in runs]}
        print(json.dumps(result, indent=1))
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "distill_overhead.json").write_text(json.dumps(result, indent=1))
        return 0 if result["ratio_to_ideal"] <= 1.3 else 1
    finally:
        server.terminate()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
