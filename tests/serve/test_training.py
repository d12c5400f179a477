"""The daemon's background training: a child process at a lower priority, started safely from a
daemon whose student thread is busy in BLAS."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

import numpy as np

from trm_lsp.serve.progress import LogTask
from trm_lsp.serve.training import TRAINING_NICE, TrainingRun

DATA = Path(__file__).resolve().parents[2] / "data" / "logic_lab.distilled.jsonl"


def test_training_starts_beside_a_busy_blas_thread_and_runs_below_the_daemons_priority(tmp_path):
    """The daemon froze for good when a training started while the student answered a hover
    (a probe, stop 41): the child was started with a preexec_fn, which makes Python fork() the
    daemon, and OpenBLAS's fork handler deadlocks while another thread is inside it. The child
    lowers its own priority now (`train --nice`), and is started without a fork of the daemon."""
    stop = threading.Event()

    def blas() -> None:  # the student answering hovers, as the probe's daemon did
        a, b = np.ones((64, 256), np.float32), np.ones((256, 4096), np.float32)
        while not stop.is_set():
            a @ b

    worker = threading.Thread(target=blas, daemon=True)
    worker.start()
    data = tmp_path / "train.jsonl"
    data.write_text("".join(DATA.read_text(encoding="utf-8").splitlines(keepends=True)[:8]), encoding="utf-8")
    run = TrainingRun()
    seen: list[int] = []

    async def watch() -> None:
        while run.process is None:
            await asyncio.sleep(0.01)
        pid = run.process.pid
        while run.process is not None:
            try:  # every thread's: Linux's priority is per thread, and BLAS's threads do the work
                seen.append([os.getpriority(os.PRIO_PROCESS, int(tid)) for tid in os.listdir(f"/proc/{pid}/task")])
            except OSError:
                return
            await asyncio.sleep(0.05)

    async def both() -> str | None:
        watcher = asyncio.create_task(watch())
        failed = await asyncio.wait_for(run.run(data, tmp_path / "student", 0.05, LogTask("training")), 120)
        await watcher
        return failed

    started = time.monotonic()
    try:
        failed = asyncio.run(both())
    finally:
        stop.set()
        worker.join()
    assert failed is None, failed
    assert (tmp_path / "student" / "config.json").exists()
    lowered = min(19, os.getpriority(os.PRIO_PROCESS, 0) + TRAINING_NICE)
    # Once training (its last samples: before, the process re-executes itself with OpenBLAS).
    assert len(seen) > 3 and all(set(threads) == {lowered} for threads in seen[-3:]), seen[-3:]
    assert time.monotonic() - started < 120


def test_the_student_learns_the_answers_about_the_code_as_it_is_not_every_version_edited_away(tmp_path):
    """Every saved version of an edited function gets a teacher answer; the student was trained on
    all of them (one function edited 400 times was 132 of 151 training samples in a probe)."""
    from tests.conftest import run_cli
    from tests.serve.conftest import lab_copy
    from trm_lsp.serve.training import workspace_records
    from trm_lsp.store import Store, state_dir
    from trm_lsp.store.samples import Samples

    root = lab_copy(tmp_path, "http://127.0.0.1:9", distill=False)
    run_cli("index", str(root))
    run_cli("import", str(root), str(DATA))
    store = Store(state_dir(root) / "index.sqlite3")
    before = workspace_records(store)
    answers = Samples(store).count()  # the lab's documents are left out of this copy: theirs are not current
    assert 2 < len(before) < answers
    store.close()
    factorial = root / "factorial.py"
    edited = factorial.read_text(encoding="utf-8").replace("def factorial_iterative(n: int)", "def factorial_iterative(n: int = 5)")
    assert edited != factorial.read_text(encoding="utf-8")
    factorial.write_text(edited, encoding="utf-8")
    run_cli("index", str(root))
    store = Store(state_dir(root) / "index.sqlite3")
    after = workspace_records(store)
    assert Samples(store).count() == answers and len(after) == len(before) - 1  # kept: an undo reuses it
    store.close()
    assert {r.symbol for r in before} - {r.symbol for r in after} == {"factorial_iterative"}
