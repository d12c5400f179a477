"""The `trm-lsp` command line: contracts from DESIGN.md and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

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


def test_a_workspace_where_the_index_cannot_be_written_gets_one_clear_line(workspace: Path):
    write(workspace, ".trm-lsp", "a file where the index folder would go\n")
    result = run_cli("index", str(workspace), check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(f"trm-lsp: error: cannot write {workspace / '.trm-lsp'}: ")
    assert "must be writable" in result.stderr and "Traceback" not in result.stderr


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


def test_explain_takes_an_absolute_path_and_refuses_huge_lines_in_words(workspace: Path):
    write(workspace, "m.py", "def f(x):\n    return x\n")
    absolute = run_cli("explain", str(workspace), f"{workspace / 'm.py'}:1", "--wait", "0")
    assert absolute.stdout.startswith("f (function) m.py:1")
    huge = run_cli("explain", str(workspace), "m.py:99999999999999999999999", check=False)
    assert huge.returncode == 1 and "no indexed symbol at m.py:99999999999999999999999" in huge.stderr
    assert "SQLite" not in huge.stderr and "Traceback" not in huge.stderr
    outside = run_cli("explain", str(workspace), "/etc/passwd:1", check=False)
    assert outside.returncode == 2 and "outside the workspace" in outside.stderr
