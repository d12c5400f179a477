"""The `trm-lsp` command line: contracts from DESIGN.md and exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli, write

ROW_KEYS = {"path", "language", "kind", "name", "qualname", "start_line", "end_line", "sha256"}


def test_index_json_rows_follow_the_contract(workspace: Path):
    write(workspace, "pkg/mod.py", "class A:\n    def f(self):\n        return 1\n")
    result = run_cli("index", str(workspace), "--json")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["kind"], r["qualname"], r["start_line"], r["end_line"]) for r in rows] == [
        ("class", "A", 1, 3), ("method", "A.f", 2, 3)]
    for row in rows:
        assert ROW_KEYS <= set(row)
        assert row["path"] == "pkg/mod.py" and row["language"] == "python"
        assert len(row["sha256"]) == 64
        assert "text" not in row


def test_index_summary_goes_to_stderr(workspace: Path):
    write(workspace, "a.py", "def a(): pass\n")
    write(workspace, "b.go", "package b\nfunc B() {}\n")
    write(workspace, "notes.txt", "hello")
    write(workspace, "docs/OTHER.TXT", "hello")
    write(workspace, "model.xyz", "hello")
    result = run_cli("index", str(workspace))
    assert result.stdout == ""
    assert "files 2: python 1, go 1" in result.stderr or "files 2: go 1, python 1" in result.stderr
    assert "symbols 2: function 2" in result.stderr
    assert "skipped 3: unsupported type 3" in result.stderr
    assert "unsupported types: .txt 2, .xyz 1" in result.stderr  # which kinds, not only how many
    assert "seconds" in result.stderr


def test_bad_usage_exits_2(workspace: Path, tmp_path: Path):
    assert run_cli("index", str(tmp_path / "missing"), check=False).returncode == 2
    assert run_cli("index", str(workspace), "--text", check=False).returncode == 2
    assert run_cli("no-such-command", check=False).returncode == 2
    assert run_cli(check=False).returncode == 2


def test_a_workspace_where_the_index_cannot_be_written_is_indexed_in_the_users_state_directory(
        workspace: Path, tmp_path: Path):
    """A read-only checkout (here: a file where `.trm-lsp/` would go, which refuses it for root
    too) is still indexed and explained; its index goes to the user's state directory, and the
    commands say where, once."""
    write(workspace, ".trm-lsp", "a file where the index folder would go\n")
    write(workspace, "a.py", "def a(): pass\n")
    write(workspace, "b.py", "def b():\n    return 1\n")
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    result = run_cli("index", str(workspace), env=env)
    outside = list((tmp_path / "state" / "trm-lsp" / "workspaces").iterdir())
    assert len(outside) == 1 and outside[0].name.startswith(f"{workspace.name}-")
    assert (outside[0] / "index.sqlite3").is_file() and (workspace / ".trm-lsp").read_text().startswith("a file")
    notes = [line for line in result.stderr.splitlines() if "are kept in" in line]
    assert len(notes) == 1 and f"cannot write {workspace / '.trm-lsp'}: " in notes[0] and str(outside[0]) in notes[0]
    assert "symbols 2: function 2" in result.stderr
    explained = run_cli("explain", str(workspace), "b.py:1", env=env)  # the same index, found again
    assert explained.stdout.strip() and "Traceback" not in explained.stderr
    assert list((tmp_path / "state" / "trm-lsp" / "workspaces").iterdir()) == outside


def test_an_index_kept_for_a_workspace_that_is_gone_is_said_not_deleted(tmp_path: Path):
    """The user's state directory is not the workspace's to clean up: an index kept there for a
    workspace that no longer exists is named (where, how big) when another one is kept there,
    and left in place."""
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    old, new = tmp_path / "old", tmp_path / "new"
    for root in (old, new):
        write(root, ".trm-lsp", "a file where the index folder would go\n")
        write(root, "a.py", "def a(): pass\n")
    run_cli("index", str(old), env=env)
    (kept,) = (tmp_path / "state" / "trm-lsp" / "workspaces").iterdir()
    assert (kept / "workspace.txt").read_text().strip() == str(old.resolve())
    shutil.rmtree(old)
    result = run_cli("index", str(new), env=env)
    stale = [line for line in result.stderr.splitlines() if "no longer there" in line]
    assert len(stale) == 1 and str(old.resolve()) in stale[0] and str(kept) in stale[0], result.stderr
    assert (kept / "index.sqlite3").is_file()
    quiet = run_cli("index", str(new), env={**env, "XDG_STATE_HOME": str(tmp_path / "other")})
    assert "no longer there" not in quiet.stderr


def test_an_index_made_before_the_workspace_became_read_only_keeps_its_teacher_answers(workspace: Path, tmp_path: Path):
    from trm_lsp.store import Store

    write(workspace, "a.py", "def a(): pass\n")
    run_cli("index", str(workspace))
    store = Store.for_workspace(workspace)
    store.db.execute("CREATE TABLE kept_marker (x)")  # stands for the teacher answers it holds
    store.close()
    for path in [workspace, *workspace.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)
    # root writes read-only files anyway: run as root without that power, as the user would be
    drop = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--"] if os.geteuid() == 0 else []
    if drop and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv (util-linux)")
    try:
        env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
        result = subprocess.run([*drop, sys.executable, "-m", "trm_lsp", "index", str(workspace)], env=env,
                                capture_output=True, text=True, timeout=120)
    finally:
        for path in [workspace, *workspace.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
    assert result.returncode == 0, result.stderr
    assert "are kept in" in result.stderr
    [outside] = (tmp_path / "state" / "trm-lsp" / "workspaces").iterdir()
    copied = Store(outside / "index.sqlite3")
    assert copied.db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'kept_marker'").fetchone()[0] == 1
    copied.close()


def test_bad_setting_names_the_key(workspace: Path):
    write(workspace, "trm-lsp.toml", "[index]\nmaxFileBites = 10\n")
    result = run_cli("index", str(workspace), check=False)
    assert result.returncode == 2
    assert "unknown setting 'index.maxFileBites'" in result.stderr
    write(workspace, "trm-lsp.toml", "[index]\nmax_file_bytes = 'big'\n")
    result = run_cli("index", str(workspace), check=False)
    assert result.returncode == 2 and "'index.max_file_bytes' must be a number" in result.stderr


def test_settings_file_is_applied(workspace: Path):
    write(workspace, "trm-lsp.toml", "[index]\nexclude = ['gen/']\n")
    write(workspace, "gen/g.py", "def g(): pass\n")
    write(workspace, "a.py", "def a(): pass\n")
    rows = [json.loads(x) for x in run_cli("index", str(workspace), "--json").stdout.splitlines()]
    assert [r["name"] for r in rows] == ["a"]


def test_train_and_eval_refuse_an_out_folder_of_the_users_own_before_training(tmp_path: Path):
    """A checkpoint replaces a checkpoint, an empty folder or nothing: a folder of the user's
    files, a file, or a `<name>.old` that is not one is refused at once (exit 2) and kept."""
    data = Path(__file__).resolve().parents[1] / "data" / "logic_lab.distilled.jsonl"
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "notes.txt").write_text("my notes")
    (tmp_path / "mine.old").mkdir()
    (tmp_path / "mine.old" / "backup.txt").write_text("backup")
    (tmp_path / "out.bin").write_text("x")
    for out, what in (("models", "holds files that are not a student checkpoint"),
                      ("mine", "holds files that are not a student checkpoint"), ("out.bin", "is a file")):
        for command, extra in (("train", ()), ("eval", ("--no_judge",))):
            result = run_cli(command, "--data_path", str(data), "--out", str(tmp_path / out), *extra, check=False)
            assert result.returncode == 2 and what in result.stderr, (command, out, result.stderr)
    assert (tmp_path / "models" / "notes.txt").read_text() == "my notes"
    assert (tmp_path / "mine.old" / "backup.txt").read_text() == "backup" and (tmp_path / "out.bin").read_text() == "x"
    assert run_cli("train", "--data_path", str(data), "--max_minutes", "0", check=False).returncode == 2


def test_export_writes_through_a_link_to_a_pipe_and_to_stdout(workspace: Path, tmp_path: Path):
    """`-o` names where the answers go, not a file to replace: a link is written through (and
    stays a link), a FIFO is written to, `-` is stdout, a folder is refused."""
    import threading

    data = Path(__file__).resolve().parents[1] / "data" / "logic_lab.distilled.jsonl"
    write(workspace, "a.py", "def add(a, b):\n    return a + b\n")
    run_cli("import", str(workspace), str(data))
    expected = len(run_cli("export", str(workspace), "-o", "-").stdout.splitlines())
    assert expected > 50
    real, link, pipe = tmp_path / "real.jsonl", tmp_path / "link.jsonl", tmp_path / "pipe.jsonl"
    real.write_text("old\n")
    link.symlink_to(real)
    real.chmod(0o600)  # exports hold source text: a private file stays private
    run_cli("export", str(workspace), "-o", str(link))
    assert link.is_symlink() and len(real.read_text().splitlines()) == expected
    assert real.stat().st_mode & 0o777 == 0o600
    os.mkfifo(pipe)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_text()))
    reader.start()
    run_cli("export", str(workspace), "-o", str(pipe))
    reader.join(30)
    assert len(received[0].splitlines()) == expected and pipe.is_fifo()
    refused = run_cli("export", str(workspace), "-o", str(tmp_path), check=False)
    assert refused.returncode == 2 and "is a folder" in refused.stderr


def test_explain_by_a_name_that_stands_for_two_symbols_says_how_to_reach_the_other(workspace: Path):
    write(workspace, "p.py", "class P:\n    @property\n    def x(self):\n        return self._x\n\n"
                             "    @x.setter\n    def x(self, v):\n        self._x = v\n")
    result = run_cli("explain", str(workspace), "p.py::P.x", "--wait", "0")
    assert result.stdout.startswith("P.x (method) p.py:2")
    assert ("`P.x` names 2 symbols in p.py (method at line 2, method at line 6); this is the one at line 2: "
            "`p.py:6` explains another") in result.stderr
    assert run_cli("explain", str(workspace), "p.py:6", "--wait", "0").stdout.startswith("P.x (method) p.py:6")
    write(workspace, "cfg.json", '{"name": "demo", "retries": 3, "timeout": 30}\n')
    line = run_cli("explain", str(workspace), "cfg.json:1", "--wait", "0")
    assert ("line 1 of cfg.json starts 3 symbols; this is `name`: `cfg.json::retries`, `cfg.json::timeout` "
            "explain the others") in line.stderr


def test_explain_says_why_the_answer_is_not_the_teachers_and_how_to_get_it(workspace: Path):
    """`explain` starts no teacher: a symbol it has not explained says so on stderr, with the
    command that asks it, and one the teacher gave up on says why."""
    from trm_lsp.store import Store
    from trm_lsp.store.jobs import Jobs

    write(workspace, "m.py", "def f(x):\n    return x\n\n\ndef g(y):\n    return y * 2\n")
    write(workspace, "limits.go", "package limits\n\nconst Limit = 10\n")
    fresh = run_cli("explain", str(workspace), "m.py::f", "--wait", "0")
    assert f"the teacher has not explained `f` yet: `trm-lsp distill {workspace.resolve()}` asks it" in fresh.stderr
    assert fresh.stdout.startswith("f (function) m.py:1")  # the answer itself is unchanged on stdout
    assert "WARNING" not in fresh.stderr, fresh.stderr  # no daemon ran: no daemon.json to update
    # A constant is context for the code, never asked: no promise that `distill` asks it.
    constant = run_cli("explain", str(workspace), "limits.go::Limit", "--wait", "0")
    assert "the teacher is not asked about a constant: it is context for the code that uses it" in constant.stderr
    assert "distill" not in constant.stderr
    # Nor is code a machine wrote: the note says which header gave it away.
    write(workspace, "user.pb.go", "// Code generated by protoc-gen-go. DO NOT EDIT.\n\npackage user\n\n"
                                   "func Name(u string) string {\n\treturn u\n}\n")
    generated = run_cli("explain", str(workspace), "user.pb.go::Name", "--wait", "0")
    assert ('the teacher is not asked about code a machine wrote: this file is generated (its header says '
            '"Code generated by protoc-gen-go. DO NOT EDIT.")') in generated.stderr, generated.stderr
    assert "distill" not in generated.stderr
    store = Store.for_workspace(workspace)
    with store.transaction():
        jobs = Jobs(store, "deepseek-r1:1.5b", 1)
        jobs.enqueue_missing(frozenset({"function"}))
        while (job := jobs.claim()) is not None:
            jobs.retry_later(job, "the teacher answered with nothing", 0, max_attempts=1)
    store.close()
    failed = run_cli("explain", str(workspace), "m.py::g", "--wait", "0")
    assert "the teacher gave up on `g` after 1 try (the teacher answered with nothing)" in failed.stderr
    assert failed.returncode == 0 and "Traceback" not in failed.stderr


def test_explain_takes_an_absolute_path_and_refuses_huge_lines_in_words(workspace: Path):
    write(workspace, "m.py", "def f(x):\n    return x\n")
    absolute = run_cli("explain", str(workspace), f"{workspace / 'm.py'}:1", "--wait", "0")
    assert absolute.stdout.startswith("f (function) m.py:1")
    huge = run_cli("explain", str(workspace), "m.py:99999999999999999999999", check=False)
    assert huge.returncode == 1 and "no indexed symbol at m.py:99999999999999999999999" in huge.stderr
    assert "SQLite" not in huge.stderr and "Traceback" not in huge.stderr
    outside = run_cli("explain", str(workspace), "/etc/passwd:1", check=False)
    assert outside.returncode == 2 and "outside the workspace" in outside.stderr


def test_explain_says_a_syntax_error_is_why_a_definition_is_missing(workspace: Path):
    """tree-sitter's recovery keeps the definitions around a broken one, so the index says
    nothing of the error; a user pointing at the broken one is told why it is not there."""
    write(workspace, "m.py", "def good(a):\n    return a + 1\n\n\ndef broken(x:\n    return x\n\n\n"
                             "def after(z):\n    return z * 2\n")
    write(workspace, "ok.py", "def f(x):\n    return x\n\n# the end\n")
    broken = run_cli("explain", str(workspace), "m.py:5", check=False)
    assert broken.returncode == 1, broken.stderr
    assert "no indexed symbol at m.py:5 (m.py has a syntax error at line 5: a definition it breaks" in broken.stderr
    assert run_cli("explain", str(workspace), "m.py:9", "--wait", "0").stdout.startswith("after (function) m.py:9")
    comment = run_cli("explain", str(workspace), "ok.py:4", check=False)
    assert comment.returncode == 1 and "syntax error" not in comment.stderr, comment.stderr


def test_distill_when_the_teacher_goes_away_mid_run_keeps_its_answers_and_says_it_stopped(workspace: Path):
    import threading
    import time

    from tests.fake_teacher import FakeTeacher

    write(workspace, "m.py", "".join(f"def f{n}(x):\n    return x + {n}\n\n" for n in range(12)))
    with FakeTeacher() as server:
        def stop_after_three() -> None:
            while server.calls < 3:
                time.sleep(0.01)
            server.server.shutdown()
            server.server.server_close()  # gone: connections are refused from now on

        threading.Thread(target=stop_after_three, daemon=True).start()
        result = run_cli("distill", str(workspace), "--host", server.url, check=False)
    assert result.returncode == 1
    assert f"trm-lsp: error: stopped: teacher down ({server.url})" in result.stderr, result.stderr
    assert "the teacher stopped answering: Ollama is not running" in result.stderr
    assert "trying again every" not in result.stderr and "teacher_down" not in result.stderr  # it does not try again
    answered = int(result.stderr.split("answered ")[1].split(",")[0])
    assert answered >= 2 and f"exported {answered} samples" in run_cli("export", str(workspace)).stderr
