"""The scanner: .gitignore at every level, include/exclude globs, and each skip reason."""

from __future__ import annotations

import os
from pathlib import Path

from tests.conftest import write
from trm_lsp.config import IndexSettings
from trm_lsp.extract.scan import Candidate, Scanner, Skipped


def scan(root: Path, **settings) -> tuple[set[str], dict[str, str]]:
    found, skipped = set(), {}
    for entry in Scanner(root, IndexSettings(**settings)):
        if isinstance(entry, Candidate):
            found.add(entry.rel)
        else:
            assert isinstance(entry, Skipped)
            skipped[entry.rel] = entry.reason
    return found, skipped


def test_gitignore_at_every_level_deeper_wins(workspace: Path):
    write(workspace, ".gitignore", "*.log.py\nbuild/\n/only_root.py\n")
    write(workspace, "a.py", "def a(): pass\n")
    write(workspace, "x.log.py", "")
    write(workspace, "only_root.py", "")
    write(workspace, "build/gen.py", "")
    write(workspace, "sub/only_root.py", "")
    write(workspace, "sub/.gitignore", "!keep.log.py\nlocal.py\n")
    write(workspace, "sub/keep.log.py", "")
    write(workspace, "sub/local.py", "")
    write(workspace, "sub/deeper/local.py", "")
    found, skipped = scan(workspace)
    assert found == {"a.py", "sub/only_root.py", "sub/keep.log.py"}
    assert skipped["x.log.py"] == "ignored"
    assert skipped["build"] == "ignored"
    assert skipped["sub/local.py"] == "ignored"
    assert skipped["sub/deeper/local.py"] == "ignored"


def test_odd_gitignore_patterns_do_not_break_the_scan(workspace: Path):
    write(workspace, ".gitignore", "[\n\\\n**/\n!\n#comment\n   \n*.py[\nsecret/**\n")
    write(workspace, "ok.py", "def ok(): pass\n")
    write(workspace, "secret/hidden.py", "")
    found, skipped = scan(workspace)
    assert "ok.py" in found
    assert "secret/hidden.py" not in found


def test_include_and_exclude_globs(workspace: Path):
    for rel in ("src/a.py", "src/b.js", "tests/t.py", "vendor/v.py"):
        write(workspace, rel, "")
    found, skipped = scan(workspace, include=["src/**", "tests/**"], exclude=["tests/"])
    assert found == {"src/a.py", "src/b.js"}
    assert skipped["tests"] == "ignored"
    assert skipped["vendor/v.py"] == "not included"


def test_hidden_unsupported_and_too_large(workspace: Path):
    write(workspace, ".env.py", "")
    write(workspace, ".hidden/x.py", "")
    write(workspace, "notes.txt", "")
    write(workspace, "big.py", "x = 1\n" * 300_000)
    found, skipped = scan(workspace)
    assert skipped[".env.py"] == skipped[".hidden"] == "hidden"
    assert skipped["notes.txt"] == "unsupported type"
    assert skipped["big.py"] == "too large"
    found, _ = scan(workspace, max_file_bytes=10 * 1024 * 1024)
    assert "big.py" in found


def test_symlink_loop_is_skipped_but_a_second_link_is_walked(workspace: Path):
    write(workspace, "real/a.py", "def a(): pass\n")
    os.symlink(workspace, workspace / "real" / "loop")
    os.symlink(workspace / "real", workspace / "alias")
    found, skipped = scan(workspace)
    assert skipped["real/loop"] == "symlink loop"
    assert {"real/a.py", "alias/a.py"} <= found


def test_links_that_lead_to_each_other_are_a_symlink_loop(workspace: Path):
    os.symlink(workspace / "two.py", workspace / "one.py")
    os.symlink(workspace / "one.py", workspace / "two.py")
    _, skipped = scan(workspace)
    assert skipped["one.py"] == skipped["two.py"] == "symlink loop"


def test_a_gitignore_that_cannot_be_read_is_said_not_silently_dropped(workspace: Path):
    """Its folders would be indexed and sent to the teacher: the scan names it, with why."""
    (workspace / "sub" / ".gitignore").mkdir(parents=True)  # unreadable as a file, for root too
    write(workspace, "sub/secret.py", "def s(): pass\n")
    found, skipped = scan(workspace)
    assert skipped["sub/.gitignore"].startswith("unreadable .gitignore (Is a directory): its rules are not applied")
    assert "sub/secret.py" in found


def test_a_utf16_source_is_skipped_as_utf16_not_as_binary(workspace: Path):
    from tests.conftest import run_cli

    (workspace / "win.py").write_text("def made_on_windows():\n    return 1\n", encoding="utf-16")
    result = run_cli("index", str(workspace))
    assert "win.py: UTF-16 text: save it as UTF-8 to have it read" in result.stderr, result.stderr


def test_broken_symlink(workspace: Path):
    os.symlink(workspace / "nowhere.py", workspace / "dangling.py")
    _, skipped = scan(workspace)
    assert skipped["dangling.py"] == "broken symlink"


def test_a_name_that_is_not_utf8_is_skipped_with_its_reason_and_the_rest_indexed(workspace: Path):
    from tests.conftest import index_rows, run_cli

    write(workspace, "good.py", "def good(): pass\n")
    bad = os.path.join(os.fsencode(workspace), b"bad\xff\xfe.py")
    with open(bad, "wb") as fh:
        fh.write(b"def f():\n  pass\n")
    os.mkdir(os.path.join(os.fsencode(workspace), b"dir\xff"))
    result = run_cli("index", str(workspace))
    assert "skipped bad\\xff\\xfe.py: name is not valid UTF-8" in result.stderr
    assert "skipped dir\\xff: name is not valid UTF-8" in result.stderr
    assert [r["qualname"] for r in index_rows(workspace)] == ["good"]


def test_links_that_lead_out_of_the_workspace_are_skipped_unless_allowed(workspace: Path, tmp_path: Path):
    from tests.conftest import index_rows, run_cli
    from trm_lsp.indexer import index_paths
    from trm_lsp.store import Store

    outside = tmp_path / "outside"
    write(outside, "leak.py", "def secret_outside():\n    pass\n")
    write(workspace, "inside.py", "def inside(): pass\n")
    os.symlink(outside, workspace / "outdir")
    os.symlink(outside / "leak.py", workspace / "leak.py")
    os.symlink("/etc", workspace / "etc")
    os.symlink(workspace / "inside.py", workspace / "alias.py")  # inside: followed as before
    found, skipped = scan(workspace)
    assert found == {"inside.py", "alias.py"}
    assert {skipped[k] for k in ("outdir", "leak.py", "etc")} == {"symlink to outside the workspace"}
    run_cli("index", str(workspace))
    assert "secret_outside" not in {r["qualname"] for r in index_rows(workspace)}
    # A watched-file event for a path behind the link is refused the same way.
    store = Store.for_workspace(workspace)
    report = index_paths(workspace, ["outdir/leak.py", "leak.py"], store)
    assert report.parsed == 0 and set(report.skipped.values()) == {"symlink to outside the workspace"}
    store.close()
    # A root the settings name is allowed.
    write(workspace, "trm-lsp.toml", f'[index]\noutside_roots = ["{outside}"]\n')
    run_cli("index", str(workspace))
    assert "secret_outside" in {r["qualname"] for r in index_rows(workspace)}


def test_a_fifo_saved_event_never_blocks(workspace: Path):
    from trm_lsp.indexer import index_paths
    from trm_lsp.store import Store

    os.mkfifo(workspace / "pipe.py")
    store = Store.for_workspace(workspace)
    report = index_paths(workspace, ["pipe.py"], store)  # would block forever on open()
    assert report.skipped == {"pipe.py": "not a regular file"}
    store.close()
