"""The daemon reads a team's published answers (issue 15): a second editor on the same code gets
every answer from nginx with no teacher call, hovers say they are the teacher's, and a store
that goes away costs no hover and hands the next question to the teacher."""

from __future__ import annotations

import time
from pathlib import Path

from lsprotocol import types

from tests.conftest import run_cli, write
from tests.fake_teacher import FakeTeacher
from tests.nginx import Nginx
from tests.serve.conftest import hover, lab_copy, lsp, position_of, wait_for


async def test_the_daemon_reads_published_answers_and_a_stopped_store_costs_no_hover(tmp_path: Path, teacher):
    first = lab_copy(tmp_path / "a", teacher.url, distill=False)
    run_cli("distill", str(first), "--host", teacher.url)
    published = teacher.calls
    assert published > 10
    run_cli("publish", str(first), str(tmp_path / "pub"))
    nginx = Nginx(tmp_path / "pub", tmp_path / "nginx")
    try:
        with FakeTeacher(delay=0.2) as second_teacher:
            root = lab_copy(tmp_path / "b", second_teacher.url)
            config = root / "trm-lsp.toml"
            config.write_text(config.read_text().replace("[teacher]\n", f'[teacher]\nshared_answers = "{nginx.url}"\n'
                                                         "shared_timeout = 2\n", 1))
            async with lsp(root) as client:
                state = await wait_for(client, lambda s: (s["shared_answers"] or {}).get("imported", 0) >= published
                                       and s["queue"] == 0, timeout=60)
                assert second_teacher.calls == 0, state
                assert state["samples"] == published and state["shared_answers"]["refused"] == {}

                factorial = root / "factorial.py"
                line, col = position_of(factorial, "def factorial_recursive")
                shown = (await hover(client, factorial, line, col + 6)).contents.value
                assert "teacher" in shown.lower() and "student" not in shown.lower(), shown

                nginx.stop()  # the store goes away; a new function needs an answer
                added = write(root, "added.py", "def brand_new(values):\n    return sorted(set(values))\n")
                client.workspace_did_change_watched_files(types.DidChangeWatchedFilesParams(changes=[
                    types.FileEvent(uri=added.as_uri(), type=types.FileChangeType.Created)]))
                slowest = 0.0
                deadline = time.monotonic() + 30
                while second_teacher.calls == 0 and time.monotonic() < deadline:
                    started = time.perf_counter()
                    assert await hover(client, factorial, line, col + 6) is not None
                    slowest = max(slowest, time.perf_counter() - started)
                assert second_teacher.calls == 1 and "brand_new" in second_teacher.prompts[-1]
                assert slowest < 0.5, f"a hover took {slowest * 1000:.0f} ms while the store was down"
    finally:
        nginx.stop()
