"""Shared by the bench scripts: the trees they measure and a median timer."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"


def stdlib_copy() -> Path:
    """A private copy of the interpreter's standard library without site-packages (the index
    writes `.trm-lsp/` into the tree, and the real one may be read-only)."""
    source = Path(sysconfig.get_paths()["stdlib"])
    target = Path(tempfile.gettempdir()) / f"trm-lsp-bench-stdlib-{sys.version_info[0]}{sys.version_info[1]}"
    if not (target / "os.py").exists():
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("site-packages", "__pycache__", "*.pyc"),
                        symlinks=True)
    return target


def write_report(name: str, report: dict, shown: dict | None = None) -> None:
    """`bench/results/<name>.json`, and the report (or `shown`, a shorter view) on stdout."""
    import json

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report if shown is None else shown, indent=1))


def timed(cmd: list[str], **kwargs) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kwargs)
    return time.perf_counter() - started


def median(values: list[float]) -> float:
    return statistics.median(values)


def trm_lsp_cmd() -> list[str]:
    return [sys.executable, "-m", "trm_lsp"]


def clear_state(tree: Path) -> None:
    shutil.rmtree(tree / ".trm-lsp", ignore_errors=True)


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def with_openblas() -> None:
    """Re-run this benchmark with Debian's OpenBLAS preloaded, as `trm-lsp train` runs (MLX's
    bundled BLAS is ~10x slower); no-op where it is loaded already or not installed."""
    sys.path.insert(0, str(REPO))
    from trm_lsp.student.blas import openblas_path

    path = openblas_path()
    if sys.platform == "linux" and path and "openblas" not in os.environ.get("LD_PRELOAD", ""):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "LD_PRELOAD": path})
