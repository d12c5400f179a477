"""Bad input for the code indexer (issue 2): each file is skipped or handled with a reason in
the summary, and the rest of the workspace is still indexed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import index_rows, run_cli, write
from trm_lsp.config import Settings
from trm_lsp.extract.file import FileJob, extract_file
from trm_lsp.indexer import index_workspace
from trm_lsp.store import Store

GOOD = "def good():\n    return 1\n"


def names(rows: list[dict], path: str) -> set[str]:
    return {r["qualname"] for r in rows if r["path"] == path}


def test_invalid_utf8_is_indexed_with_a_note(workspace: Path):
    write(workspace, "latin1.py", "# caf\xe9\ndef caf\xe9_name():\n    return 'd\xe9j\xe0'\n".encode("latin-1"))
    write(workspace, "good.py", GOOD)
    result = run_cli("index", str(workspace), "--json", "--text")
    assert "invalid UTF-8 at byte" in result.stderr
    rows = [__import__("json").loads(line) for line in result.stdout.splitlines()]
    (latin,) = [r for r in rows if r["path"] == "latin1.py"]
    # U+FFFD is not an identifier character, so tree-sitter's recovery keeps the rest of the name.
    assert latin["name"].endswith("_name")
    assert latin["text"].startswith("def caf\ufffd_name():")
    assert "\ufffd" in latin["text"]
    assert names(rows, "good.py") == {"good"}


def test_nul_byte_in_a_py_file_is_binary(workspace: Path):
    write(workspace, "blob.py", b"def f():\n    pass\n\x00\x01\x02")
    write(workspace, "good.py", GOOD)
    result = run_cli("index", str(workspace))
    assert "blob.py: binary (NUL byte)" in result.stderr
    assert names(index_rows(workspace), "good.py") == {"good"}


def test_fifty_megabyte_file_is_skipped_without_reading_it(workspace: Path):
    with open(workspace / "huge.py", "wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    write(workspace, "good.py", GOOD)
    result = run_cli("index", str(workspace))
    assert "skipped 1: too large 1" in result.stderr
    assert names(index_rows(workspace), "good.py") == {"good"}


def test_ten_thousand_deep_nesting(workspace: Path):
    write(workspace, "deep.py", "def before():\n    pass\nx = " + "[" * 10_000 + "]" * 10_000 + "\ndef after():\n    pass\n")
    write(workspace, "deep.json", '{"k": ' + "[" * 10_000 + "]" * 10_000 + ', "z": 1}')
    write(workspace, "deep.c", "int f(void) {" + "{" * 10_000 + "}" * 10_000 + "}\nint g(void) { return 1; }\n")
    rows = index_rows(workspace)
    assert names(rows, "deep.py") == {"before", "after"}
    assert names(rows, "deep.json") == {"k", "z"}
    assert names(rows, "deep.c") == {"f", "g"}


@pytest.mark.parametrize("path,source,expected", [
    ("broken.py", "def before():\n    pass\n\ndef broken(:\n    x = = 1\n\nclass After:\n    def method(self):\n        pass\n",
     {"before", "After", "After.method"}),
    ("broken.js", "function before() {}\nfunction broken( {\n  let = ;\n}\nfunction after() { return 1; }\n",
     {"before", "after"}),
    ("Broken.java", "class Before { void a() {} }\nclass Broken { void b( { }\nclass After { void c() {} }\n",
     {"Before", "Before.a", "After.c"}),
    ("broken.go", "package p\nfunc Before() {}\nfunc Broken( {\nfunc After() {}\n", {"Before", "After"}),
    ("broken.rs", "fn before() {}\nfn broken( {\nfn after() {}\n", {"before", "after"}),
])
def test_syntax_errors_keep_symbols_before_and_after(workspace: Path, path, source, expected):
    write(workspace, path, source)
    got = names(index_rows(workspace), path)
    assert expected <= got, got


def test_file_that_vanishes_between_scan_and_read(workspace: Path, monkeypatch):
    import trm_lsp.indexer as indexer

    write(workspace, "gone.py", GOOD)
    write(workspace, "good.py", GOOD)
    real_scanner = indexer.Scanner

    class VanishingScanner(real_scanner):
        def __iter__(self):
            for entry in super().__iter__():
                yield entry
                if entry.rel == "gone.py":
                    (workspace / "gone.py").unlink()

    monkeypatch.setattr(indexer, "Scanner", VanishingScanner)
    store = Store.for_workspace(workspace)
    report = index_workspace(workspace, store, Settings())
    assert report.skipped["gone.py"] == "vanished"
    assert report.parsed == 1
    store.close()


def test_extract_file_reports_vanished_and_directories(tmp_path: Path):
    job = FileJob("x.py", str(tmp_path / "x.py"), "python", 1, 1)
    assert extract_file(job, Settings()).skip == "vanished"
    (tmp_path / "d.py").mkdir()
    job = FileJob("d.py", str(tmp_path / "d.py"), "python", 1, 1)
    assert extract_file(job, Settings()).skip == "not a regular file"


def test_permission_denied_file(workspace: Path):
    write(workspace, "good.py", GOOD)
    secret = write(workspace, "secret.py", GOOD)
    secret.chmod(0o000)
    cmd = [sys.executable, "-m", "trm_lsp", "index", str(workspace), "--json"]
    if os.geteuid() == 0:  # root reads everything: drop the capabilities that let it
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv (util-linux)")
        cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *cmd]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "secret.py: unreadable: Permission denied" in result.stderr
    assert '"name": "good"' in result.stdout


def test_a_data_file_that_stops_parsing_says_where(workspace: Path):
    """A JSON file missing a comma loses the keys tree-sitter cannot recover: the index says at
    which line, so nobody wonders where a key went. Code half typed in an editor is not noted."""
    write(workspace, "settings.json", '{\n  "a": 1\n  "b": 2,\n  "c": {"d": 3}\n}\n')
    write(workspace, "half.py", "def done():\n    return 1\n\n\ndef half(:\n")
    stderr = run_cli("index", str(workspace)).stderr
    assert "note settings.json: syntax error at line 2: what follows it may be missing" in stderr, stderr
    assert "half.py" not in stderr


def test_json_with_trailing_commas_is_not_called_broken(workspace: Path):
    write(workspace, "tsconfig.json", '{\n  "compilerOptions": {\n    "strict": true,\n  },\n  "include": ["src"],\n}\n')
    stderr = run_cli("index", str(workspace)).stderr
    assert "tsconfig.json" not in stderr, stderr
    assert [r["name"] for r in index_rows(workspace)] == ["compilerOptions", "include"]
