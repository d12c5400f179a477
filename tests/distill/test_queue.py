"""The persistent queue: priorities, reference order, cancellation, resume after a restart."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import run_cli, write
from tests.distill.conftest import distill_edit_distill, fast_settings
from tests.fake_teacher import FakeTeacher
from trm_lsp.distill.plan import plan
from trm_lsp.distill.prompts import PROMPT_VERSION
from trm_lsp.distill.teacher import make_teacher
from trm_lsp.distill.worker import Distiller
from trm_lsp.indexer import index_paths, index_workspace
from trm_lsp.store import Store
from trm_lsp.store.jobs import Jobs
from trm_lsp.store.samples import Samples

CHAIN = """def leaf(x):
    return x + 1


def middle(x):
    return leaf(x) * 2


def top(x):
    return middle(x) - leaf(x)


def alone(x):
    return x
"""


def indexed(root: Path, files: dict[str, str]) -> Store:
    for rel, text in files.items():
        write(root, rel, text)
    store = Store.for_workspace(root)
    index_workspace(root, store)
    return store


def qualname_of(store: Store, sha: str) -> str:
    return store.db.execute("SELECT qualname FROM symbols WHERE sha256=?", (sha,)).fetchone()[0]


def test_callees_come_before_callers(workspace: Path):
    store = indexed(workspace, {"chain.py": CHAIN})
    jobs = Jobs(store, "t", PROMPT_VERSION)
    plan(store, jobs)
    order = [qualname_of(store, jobs.claim().sha256) for _ in range(4)]
    assert order.index("leaf") < order.index("middle") < order.index("top")
    store.close()


def test_the_symbol_the_user_looks_at_goes_first(workspace: Path):
    store = indexed(workspace, {"chain.py": CHAIN})
    jobs = Jobs(store, "t", PROMPT_VERSION)
    plan(store, jobs)
    top_sha = store.db.execute("SELECT sha256 FROM symbols WHERE name='top'").fetchone()[0]
    assert jobs.position(top_sha) == 4
    assert jobs.prioritize(top_sha)
    assert jobs.position(top_sha) == 1
    assert jobs.claim().sha256 == top_sha
    store.close()


def test_an_edited_symbol_cancels_its_job(workspace: Path):
    store = indexed(workspace, {"chain.py": CHAIN})
    jobs = Jobs(store, "t", PROMPT_VERSION)
    plan(store, jobs)
    (workspace / "chain.py").write_text(CHAIN.replace("return x\n", "return -x\n"))
    index_paths(workspace, ["chain.py"], store)
    counts = plan(store, jobs)
    assert counts["cancelled"] == 1 and counts["added"] == 1 and counts["pending"] == 4
    store.close()


def test_an_edit_during_the_teacher_call_cancels_that_call(workspace: Path):
    store = indexed(workspace, {"slow.py": "def slow(x):\n    return x\n"})
    with FakeTeacher(delay=2.0) as server:
        settings = fast_settings(server.url)

        async def scenario():
            teacher = make_teacher(settings)
            distiller = Distiller(store, teacher, settings)
            distiller.plan()
            task = asyncio.create_task(distiller.run(until_idle=True))
            await asyncio.sleep(0.5)  # the call is in flight
            (workspace / "slow.py").write_text("def slow(x):\n    return -x\n")
            index_paths(workspace, ["slow.py"], store)
            distiller.symbols_changed()
            stats = await asyncio.wait_for(task, 20)
            await teacher.close()
            return stats

        stats = asyncio.run(scenario())
    assert stats.cancelled == 1 and stats.answered == 1
    (sample,) = list(Samples(store).all())
    assert "return -x" in sample.input  # only the new text was answered
    store.close()


def test_resume_after_a_restart_loses_and_repeats_nothing(workspace: Path):
    store = indexed(workspace, {"chain.py": CHAIN})
    jobs = Jobs(store, "deepseek-r1:1.5b", PROMPT_VERSION)
    plan(store, jobs)
    claimed = jobs.claim()  # a process claimed this job and was killed mid-call
    store.close()
    with FakeTeacher() as server:
        store = Store.for_workspace(workspace)
        stats = asyncio.run(_run(store, fast_settings(server.url)))
        assert stats.answered == 4 and server.calls == 4
        assert claimed.sha256 in {s.sha256 for s in Samples(store).all()}
    store.close()


async def _run(store, settings):
    teacher = make_teacher(settings)
    try:
        distiller = Distiller(store, teacher, settings)
        distiller.plan()
        return await distiller.run()
    finally:
        await teacher.close()


def test_kill_9_twenty_times_loses_and_duplicates_nothing(workspace: Path):
    for m in range(4):
        write(workspace, f"m{m}.py", "".join(f"def g_{m}_{n}(x):\n    return x - {n}\n\n" for n in range(40)))
    total = 160
    rng = random.Random(11)
    seen_counts = []
    with FakeTeacher(delay=0.02) as server:
        for _ in range(20):
            proc = subprocess.Popen([sys.executable, "-m", "trm_lsp", "distill", str(workspace), "--host", server.url,
                                     "--concurrency", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True)
            time.sleep(rng.uniform(0.2, 1.2))
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            db = sqlite3.connect(workspace / ".trm-lsp" / "index.sqlite3")
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            count, distinct = db.execute("SELECT COUNT(*), COUNT(DISTINCT sha256) FROM samples").fetchone()
            assert count == distinct  # never a duplicate
            db.close()
            seen_counts.append(count)
        assert seen_counts == sorted(seen_counts)  # never lost
        assert 0 < seen_counts[-1]
        result = run_cli("distill", str(workspace), "--host", server.url)
        assert f"answered {total - seen_counts[-1]}, cached {seen_counts[-1]}, failed 0" in result.stderr
    out = workspace / "all.jsonl"
    run_cli("export", str(workspace), "-o", str(out))
    assert len(out.read_text().splitlines()) == total
    assert len({json.loads(line)["sha256"] for line in out.read_text().splitlines()}) == total


def test_an_edit_is_queued_at_once_without_planning_the_whole_workspace_again(workspace: Path):
    """Every pause in typing ran a whole plan in a child process (every file read for the call
    graph: 1.8 s of CPU on a 16,000-symbol workspace, the hover on the edited function 1.7 s; a
    probe, stop 41). An edit's new text is queued where it is, at once; a checkout's hundreds of
    new texts still get a plan, which puts callees before their callers."""
    write(workspace, "m.py", "".join(f"def f{n}(x):\n    return x + {n}\n\n" for n in range(3)))
    store = Store.for_workspace(workspace)
    index_workspace(workspace, store)
    with FakeTeacher(delay=30) as server:  # never answers within the test: the queue stays put
        settings = fast_settings(server.url)

        async def go():
            teacher = make_teacher(settings)
            try:
                distiller = Distiller(store, teacher, settings)
                distiller.plan()
                write(workspace, "m.py", "def f0(x, y=1):\n    return x + y\n\n"
                      + "".join(f"def f{n}(x):\n    return x + {n}\n\n" for n in (1, 2)))
                index_paths(workspace, ["m.py"], store)
                distiller.symbols_changed()
                edited = store.db.execute("SELECT sha256 FROM symbols WHERE name = 'f0'").fetchone()[0]
                queued = distiller.position(edited)
                planning = getattr(distiller, "_replan_task", None)
                write(workspace, "gen.py", "".join(f"def g{n}(x):\n    return x * {n}\n\n" for n in range(100)))
                index_paths(workspace, ["gen.py"], store)
                distiller.symbols_changed()
                await distiller._replan_task  # a hundred new texts: planned, callees first
                return queued, planning, distiller.jobs.counts()
            finally:
                await teacher.close()

        queued, planning, counts = asyncio.run(go())
    assert queued is not None and planning is None
    assert counts["pending"] == 3 + 100, counts  # the old f0 dropped, the new one and gen.py queued
    store.close()


def test_a_prompt_after_an_edit_names_the_callees_the_edit_added(workspace: Path, monkeypatch):
    """The edit's text is queued without a plan, and the prompt's context (the callees it shows the
    teacher) is built again from the index as it is, not left as it was at the last plan."""
    from trm_lsp.distill import worker

    monkeypatch.setattr(worker, "_CONTEXT_EVERY", 0.0)  # a daemon does it at most every few seconds
    write(workspace, "m.py", "def main():\n    return 1\n")
    store = Store.for_workspace(workspace)
    index_workspace(workspace, store)
    with FakeTeacher() as server:
        def edit() -> None:
            write(workspace, "m.py", "def helper(a, b):\n    return a + b\n\n\ndef main():\n    return helper(1, 2)\n")
            index_paths(workspace, ["m.py"], store)

        distill_edit_distill(store, fast_settings(server.url), edit)
        about_main = [p for p in server.prompts if "return helper(1, 2)" in p]
    assert about_main and "def helper(a, b)" in about_main[-1], about_main
    store.close()
