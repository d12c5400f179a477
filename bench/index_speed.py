"""Index speed against `ctags -R` on the Python standard library, in the same run.

Claims (issue 2): cold index <= 4x ctags wall; unchanged re-index <= 1x ctags; one edited
file re-indexed in < 50 ms; the SQLite file < 60 MB. Medians over --runs runs.

    python bench/index_speed.py [--runs 5] [--tree DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, clear_state, cpu_count, median, stdlib_copy, timed, trm_lsp_cmd  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tree", type=Path, default=None, help="default: a copy of the stdlib")
    args = parser.parse_args()
    ctags = shutil.which("ctags")
    if ctags is None:
        print("ctags not found: apt-get install universal-ctags", file=sys.stderr)
        return 1
    tree = args.tree or stdlib_copy()
    tags = Path("/tmp/trm-lsp-bench.tags")
    index = trm_lsp_cmd() + ["index", str(tree), "-q"]
    ctags_times, cold, warm = [], [], []
    for _ in range(args.runs):
        ctags_times.append(timed([ctags, "-R", "-f", str(tags), str(tree)]))
        clear_state(tree)
        cold.append(timed(index))
        warm.append(timed(index))
    edit = edit_one_file(tree, args.runs)
    db = tree / ".trm-lsp" / "index.sqlite3"
    result = {
        "tree": str(tree), "cores": cpu_count(), "runs": args.runs,
        "ctags_s": round(median(ctags_times), 3),
        "cold_s": round(median(cold), 3), "cold_ratio": round(median(cold) / median(ctags_times), 2),
        "unchanged_s": round(median(warm), 3), "unchanged_ratio": round(median(warm) / median(ctags_times), 2),
        "one_edit_ms_in_process": round(edit * 1000, 1),
        "db_mb": round(db.stat().st_size / 1e6, 1),
    }
    print(json.dumps(result, indent=2))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "index_speed.json").write_text(json.dumps(result, indent=2))
    return 0


def edit_one_file(tree: Path, runs: int) -> float:
    """Median time for `index_paths` on one edited file, in process (what the daemon does on save)."""
    from trm_lsp.indexer import index_paths
    from trm_lsp.store import Store

    rel = "json/encoder.py"
    path = tree / rel
    original = path.read_text()
    store = Store.for_workspace(tree)
    times = []
    try:
        for n in range(runs):
            path.write_text(original.replace("def encode(self, o):", f"def encode(self, o):\n        _edit = {n}", 1))
            started = time.perf_counter()
            report = index_paths(tree, [rel], store)
            times.append(time.perf_counter() - started)
            assert report.parsed == 1, report
    finally:
        path.write_text(original)
        index_paths(tree, [rel], store)
        store.close()
    return median(times)


if __name__ == "__main__":
    raise SystemExit(main())
