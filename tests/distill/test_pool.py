"""A pool of teacher servers (`teacher.hosts`, issue 15): calls spread over them, least busy
first; a dead one costs nothing, a slow one gets less, one killed mid-run loses and duplicates
no answer. The servers are the Ollama-speaking test server, which counts its calls."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import free_port, run_cli, write
from tests.fake_teacher import FakeTeacher

N = 24


def pooled(root: Path, *hosts: str | dict) -> None:
    for m in range(4):
        write(root, f"pkg/m{m}.py", "".join(f"def p_{m}_{n}(x):\n    return x ** {m} + {n}\n\n" for n in range(6)))
    entries = ", ".join(json.dumps(h) if isinstance(h, str) else
                        "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in h.items()) + " }" for h in hosts)
    (root / "trm-lsp.toml").write_text(f"[teacher]\nhosts = [{entries}]\nbreakerFailures = 1\nprobeInterval = 60\n"
                                       "backoffInitial = 0.05\nbackoffMax = 0.2\ntimeout = 20\n")


def exported(root: Path) -> list[dict]:
    run_cli("export", str(root), "-o", str(root / "out.jsonl"))
    return [json.loads(line) for line in (root / "out.jsonl").read_text().splitlines()]


def test_calls_spread_over_the_pool_and_a_dead_server_costs_nothing(tmp_path: Path):
    with FakeTeacher(delay=0.05) as a, FakeTeacher(delay=0.05) as b:
        pooled(tmp_path, {"url": a.url, "concurrency": 2}, {"url": b.url, "concurrency": 2},
               f"http://127.0.0.1:{free_port()}")
        started = time.monotonic()
        stderr = run_cli("distill", str(tmp_path)).stderr
        took = time.monotonic() - started
    assert f"asked {N}, answered {N}" in stderr
    assert a.calls + b.calls == N and min(a.calls, b.calls) >= N // 4, (a.calls, b.calls)
    assert len({r["sha256"] for r in exported(tmp_path)}) == N
    assert took < 30


def test_a_slow_server_gets_fewer_calls(tmp_path: Path):
    with FakeTeacher(delay=0.4) as slow, FakeTeacher(delay=0.02) as fast:
        pooled(tmp_path, slow.url, fast.url)
        run_cli("distill", str(tmp_path))
    assert slow.calls + fast.calls == N
    assert fast.calls >= 3 * slow.calls, (slow.calls, fast.calls)


def test_a_server_killed_mid_run_loses_and_duplicates_nothing(tmp_path: Path):
    with FakeTeacher(delay=0.15) as survivor:
        doomed = FakeTeacher(delay=0.15).__enter__()
        pooled(tmp_path, doomed.url, survivor.url)
        run = subprocess.Popen([sys.executable, "-m", "trm_lsp", "distill", str(tmp_path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        while doomed.calls < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        doomed.__exit__(None, None, None)  # gone, with a call in flight
        killed_at = doomed.calls
        _, stderr = run.communicate(timeout=120)
    assert run.returncode == 0, stderr
    assert 3 <= killed_at < N and survivor.calls >= N - killed_at
    answers = exported(tmp_path)
    assert len(answers) == N and len({r["sha256"] for r in answers}) == N
