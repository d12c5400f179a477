"""The SQLite store: WAL, schema version, incremental re-indexing, and a kill at any moment."""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import alive, descendants, index_rows, run_cli, write
from trm_lsp.extract.code import extract_code
from trm_lsp.indexer import index_paths, index_workspace
from trm_lsp.store import Store, StoreError
from trm_lsp.store.schema import SCHEMA_VERSION

FUNC = "def f{n}(x):\n    '''Doc {n}.'''\n    return x + {n}\n\n"


def make_tree(root: Path, files: int, funcs: int = 20) -> None:
    for i in range(files):
        write(root, f"pkg{i % 7}/mod{i}.py", "".join(FUNC.format(n=n) for n in range(funcs)))


def test_store_is_wal_with_a_schema_version_and_ignored_by_git(workspace: Path):
    store = Store.for_workspace(workspace)
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    store.close()
    assert (workspace / ".trm-lsp" / ".gitignore").read_text() == "*\n"


def test_newer_schema_is_refused_with_a_clear_error(workspace: Path):
    Store.for_workspace(workspace).close()
    db = sqlite3.connect(workspace / ".trm-lsp" / "index.sqlite3")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    db.close()
    with pytest.raises(StoreError, match="newer than this trm-lsp"):
        Store.for_workspace(workspace)


def test_a_store_file_that_is_not_a_database_is_set_aside_and_rebuilt(workspace: Path):
    write(workspace, "a.py", "def a(): pass\n")
    write(workspace, ".trm-lsp/index.sqlite3", b"this is not a database" * 100)
    result = run_cli("index", str(workspace))
    assert result.stderr.count("the index was damaged") == 1 and "the 0 teacher answers" in result.stderr
    assert (workspace / ".trm-lsp" / "damaged.sqlite3").read_bytes().startswith(b"this is not a database")
    assert [r["qualname"] for r in index_rows(workspace)] == ["a"]


def _corrupt_answer_pages(path: Path, seed: int, pages: int = 3) -> None:
    """Random bytes over three leaf pages of the answers in the middle of the table, as a bad
    disk does. Leaf pages, chosen by SQLite's `dbstat`: 12 KB at the middle of the file hit an
    interior page in one CI run, which loses the whole subtree under it (130 of 300 kept, where
    leaf damage keeps 267-289), so the figure below depended on where the pages happened to lie."""
    db = sqlite3.connect(path)
    leaves = [n for (n,) in db.execute("SELECT pageno FROM dbstat WHERE name = 'samples' AND pagetype = 'leaf' "
                                       "ORDER BY pageno")]
    size = db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    middle = len(leaves) // 2
    data = bytearray(path.read_bytes())
    rng = random.Random(seed)
    for page in leaves[middle: middle + pages]:
        data[(page - 1) * size: page * size] = rng.randbytes(size)
    path.write_bytes(bytes(data))


def test_damage_in_the_middle_is_found_at_start_and_rebuilt_keeping_the_answers(workspace: Path, fake_teacher):
    for i in range(30):
        write(workspace, f"pkg{i % 3}/mod{i}.py", "".join(f"def f{n}(x):\n    return x * {i} + {n}\n\n" for n in range(10)))
    run_cli("distill", str(workspace), "--host", fake_teacher.url, "--limit", "300")
    db = workspace / ".trm-lsp" / "index.sqlite3"
    sqlite3.connect(db).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    answers = sqlite3.connect(db).execute("SELECT COUNT(*) FROM samples").fetchone()[0]
    assert answers == 300
    _corrupt_answer_pages(db, seed=1)
    calls = fake_teacher.calls
    first = run_cli("index", str(workspace))
    assert first.stderr.count("the index was damaged") == 1, first.stderr
    kept = int(re.search(r"the (\d+) teacher answers that could still be read were kept", first.stderr).group(1))
    assert kept >= 0.5 * answers  # damage costs the rows on those pages, not the file
    assert "the index was damaged" not in run_cli("index", str(workspace)).stderr  # said once
    explained = run_cli("explain", str(workspace), "pkg0/mod0.py:1")
    assert explained.stdout.startswith("f0 (function) pkg0/mod0.py:1")
    result = run_cli("distill", str(workspace), "--host", fake_teacher.url, "--limit", "300")
    assert f"cached {kept}" in result.stderr and fake_teacher.calls - calls == 300 - kept


def test_incremental_reindex(workspace: Path):
    make_tree(workspace, 30, 3)
    store = Store.for_workspace(workspace)
    first = index_workspace(workspace, store)
    assert first.parsed == 30
    again = index_workspace(workspace, store)
    assert (again.parsed, again.unchanged, again.removed) == (0, 30, 0)
    # Same content, new mtime: hashed, not parsed.
    path = workspace / "pkg0/mod0.py"
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    touched = index_workspace(workspace, store)
    assert (touched.parsed, touched.unchanged) == (0, 30)
    # An edit: one file parsed, its symbols replaced.
    path.write_text(FUNC.format(n=99))
    edited = index_workspace(workspace, store)
    assert edited.parsed == 1
    names = [r[0] for r in store.db.execute(
        "SELECT s.name FROM symbols s JOIN files f ON f.id = s.file_id WHERE f.path = 'pkg0/mod0.py'")]
    assert names == ["f99"]
    # A deletion and a rename.
    (workspace / "pkg1/mod1.py").unlink()
    (workspace / "pkg2/mod2.py").rename(workspace / "pkg2/renamed.py")
    moved = index_workspace(workspace, store)
    assert moved.removed == 2 and moved.parsed == 1
    paths = {r[0] for r in store.db.execute("SELECT path FROM files")}
    assert "pkg1/mod1.py" not in paths and "pkg2/mod2.py" not in paths and "pkg2/renamed.py" in paths
    orphans = store.db.execute("SELECT COUNT(*) FROM symbols WHERE file_id NOT IN (SELECT id FROM files)").fetchone()[0]
    assert orphans == 0
    store.close()


def test_index_paths_reindexes_one_saved_file(workspace: Path):
    make_tree(workspace, 5, 2)
    store = Store.for_workspace(workspace)
    index_workspace(workspace, store)
    (workspace / "pkg3/mod3.py").write_text("def only(): pass\n")
    report = index_paths(workspace, ["pkg3/mod3.py"], store)
    assert report.parsed == 1
    (workspace / "pkg4/mod4.py").unlink()
    assert index_paths(workspace, ["pkg4/mod4.py"], store).removed == 1
    store.close()


def test_index_paths_takes_a_folder_for_its_files(workspace: Path):
    """One event for a folder (deleted, moved, created: what editors send) re-indexes the files
    under it; a folder the scan would not enter is not walked."""
    make_tree(workspace, 14, 2)
    write(workspace, ".gitignore", "build/\n")
    store = Store.for_workspace(workspace)
    index_workspace(workspace, store)
    shutil.rmtree(workspace / "pkg1")
    (workspace / "pkg2").rename(workspace / "moved")
    (workspace / "build").mkdir()
    write(workspace, "build/gen.py", "def generated(): pass\n")
    report = index_paths(workspace, ["pkg1", "pkg2/", "moved", "build"], store)
    paths = {r[0] for r in store.db.execute("SELECT path FROM files")}
    assert not any(p.startswith(("pkg1/", "pkg2/", "build/")) for p in paths)
    assert {"moved/mod2.py", "moved/mod9.py"} <= paths and "pkg3/mod3.py" in paths
    assert report.removed == 4 and report.parsed == 2 and report.skipped.get("build") == "ignored"
    # A checkout: the folder's event and each of its files' events in one batch parse each file once.
    (workspace / "moved").rename(workspace / "again")
    report = index_paths(workspace, ["again", "again/mod2.py", "again/mod9.py", "moved"], store)
    assert report.parsed == 2 and report.removed == 2
    # A file replaced by a folder of the same name: the file's row goes, the folder's files come.
    (workspace / "pkg3" / "mod3.py").unlink()
    write(workspace, "pkg3/mod3.py/inner.py", "def inner(): pass\n")
    index_paths(workspace, ["pkg3/mod3.py"], store)
    paths = {r[0] for r in store.db.execute("SELECT path FROM files")}
    assert "pkg3/mod3.py" not in paths and "pkg3/mod3.py/inner.py" in paths
    # A link back to a folder above it, reported as created, is a loop as in the whole walk: not walked.
    os.symlink("..", workspace / "pkg4" / "up")
    report = index_paths(workspace, ["pkg4/up"], store)
    assert report.parsed == 0 and report.skipped.get("pkg4/up") == "symlink loop"
    assert not any(r[0].startswith("pkg4/up/") for r in store.db.execute("SELECT path FROM files"))
    store.close()


def test_a_new_extractor_reextracts_everything(workspace: Path, monkeypatch):
    make_tree(workspace, 4, 2)
    store = Store.for_workspace(workspace)
    index_workspace(workspace, store)
    import trm_lsp.indexer as indexer

    monkeypatch.setattr(indexer, "extractor_fingerprint", lambda: "another-version")
    assert index_workspace(workspace, store).parsed == 4
    store.close()


def _consistent(workspace: Path) -> int:
    """Every file in the store has exactly the symbols its content gives. Returns the file count."""
    db = sqlite3.connect(workspace / ".trm-lsp" / "index.sqlite3")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'files'").fetchone() is None:
        db.close()  # killed before the schema was written: an empty store, which the next run creates
        return 0
    files = db.execute("SELECT id, path FROM files").fetchall()
    for file_id, path in files:
        stored = sorted(r[0] for r in db.execute("SELECT sha256 FROM symbols WHERE file_id = ?", (file_id,)))
        fresh = sorted(it.sha256 for it in extract_code("python", (workspace / path).read_bytes()))
        assert stored == fresh, path
    db.close()
    return len(files)


def test_kill_at_random_moments_leaves_the_store_consistent_and_no_orphans(workspace: Path):
    """kill -9 of `trm-lsp index` alone (its workers are not signalled): they must exit too."""
    make_tree(workspace, 1500, 40)
    rng = random.Random(7)
    partial, orphans, had_workers = [], set(), 0
    for _ in range(8):
        for name in ("index.sqlite3", "index.sqlite3-wal", "index.sqlite3-shm"):
            (workspace / ".trm-lsp" / name).unlink(missing_ok=True)
        proc = subprocess.Popen([sys.executable, "-m", "trm_lsp", "index", str(workspace), "-q"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(rng.uniform(0.2, 1.0))
        workers = descendants(proc.pid)
        had_workers += bool(workers)
        proc.kill()
        proc.wait()
        orphans |= alive(workers)
        for pid in orphans:  # do not leave them to the next test either
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
        partial.append(_consistent(workspace))
    assert not orphans, f"{len(orphans)} worker processes outlived a kill -9 of their parent"
    assert had_workers and any(0 < n < 1500 for n in partial), partial  # some kills did land mid-index
    run_cli("index", str(workspace), "-q")  # and the next run completes what was left
    assert _consistent(workspace) == 1500
    assert len(index_rows(workspace)) == 1500 * 40


def test_answers_are_salvaged_from_a_damaged_store_of_the_previous_schema(tmp_path: Path):
    """A store written before `samples.origin` existed (schema 2) still gives up its answers."""
    import hashlib

    from trm_lsp.store import recover
    from trm_lsp.store.schema import SAMPLE_COLUMNS

    old_columns = [c for c in SAMPLE_COLUMNS if c != "origin"]
    damaged = tmp_path / "damaged.sqlite3"
    db = sqlite3.connect(damaged)
    db.execute(f"CREATE TABLE samples ({', '.join(old_columns)})")
    for n in range(3):
        text = f"def f{n}(x):\n    return x + {n}\n"
        sha = hashlib.sha256(text.encode()).hexdigest()
        db.execute(f"INSERT INTO samples VALUES ({', '.join('?' * len(old_columns))})",
                   (f"id{n}", sha, "deepseek-r1:1.5b", 1, "m.py", "python", "function", f"f{n}", 1, 2, text, "",
                    f"Adds {n} to x and returns it.", 0.0, 0, 0.0))
    db.commit()
    db.close()
    (tmp_path / "new").mkdir()
    store = Store(tmp_path / "new" / "index.sqlite3")
    with store.transaction():
        kept, seen = recover.salvage_samples(damaged, store.db, SAMPLE_COLUMNS)
    assert (kept, seen) == (3, 3)
    assert store.db.execute("SELECT COUNT(*) FROM samples WHERE origin = ''").fetchone()[0] == 3


def kill_the_process_extracting(rel: str, monkeypatch) -> None:
    """What the out-of-memory killer does to the process that reads `rel`: a SIGKILL (forked
    workers inherit the patched function)."""
    import trm_lsp.indexer as indexer

    real = indexer.extract_file

    def extract_or_die(job, settings):
        if job.rel == rel:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(job, settings)

    monkeypatch.setattr(indexer, "extract_file", extract_or_die)


def test_a_worker_killed_mid_index_costs_its_file_not_the_index(workspace: Path, monkeypatch):
    """The kernel's out-of-memory killer takes the process extracting one file: that file is
    skipped with the reason, every other file is indexed and committed, and the store is whole."""
    import trm_lsp.indexer as indexer
    from trm_lsp.config import Settings

    for n in range(40):
        write(workspace, f"m{n:02}.py", f"def f{n}(x):\n    return x + {n}\n")
    write(workspace, "bomb.py", "def bomb():\n    return 0\n")
    kill_the_process_extracting("bomb.py", monkeypatch)
    settings = Settings()
    settings.index.workers = 2
    store = Store.for_workspace(workspace)
    try:
        report = index_workspace(workspace, store, settings, start_method="fork")
        assert report.skipped == {"bomb.py": indexer.DIED}
        assert report.parsed == 40 and sorted(store.file_states()) == [f"m{n:02}.py" for n in range(40)]
        assert store.db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        store.close()


def test_a_document_never_takes_the_indexing_process_with_it(workspace: Path, monkeypatch):
    """A few files are parsed in the indexing process itself (the daemon's, on a save), but a
    document always in a process of its own: one that kills its process (the out-of-memory
    killer on a hostile DOCX) is skipped, and the indexer, here pytest itself, lives on."""
    import trm_lsp.indexer as indexer

    for n in range(3):
        write(workspace, f"m{n}.py", f"def f{n}(x):\n    return x + {n}\n")
    write(workspace, "bomb.docx", b"PK\x03\x04 not read: the worker dies first")
    kill_the_process_extracting("bomb.docx", monkeypatch)
    store = Store.for_workspace(workspace)
    try:
        report = index_workspace(workspace, store, start_method="fork")
        assert report.skipped == {"bomb.docx": indexer.DIED} and report.parsed == 3
    finally:
        store.close()


def test_kill_of_the_daemon_mid_index_leaves_no_forkserver_or_worker_behind(workspace: Path):
    """The daemon extracts through a forkserver, whose workers are its children, not the
    daemon's: after a kill -9 of `trm-lsp serve` mid-index the forkserver, its two workers and
    the resource tracker lived on for good (a probe, stop 41; 3 runs of 3)."""
    import json

    make_tree(workspace, 1500, 40)
    proc = subprocess.Popen([sys.executable, "-m", "trm_lsp", "serve", "--stdio", "--no-mcp"], cwd=workspace,
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)

    def send(message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        proc.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        proc.stdin.flush()

    send({"id": 1, "method": "initialize", "params": {"processId": os.getpid(), "rootUri": workspace.as_uri(),
                                                      "capabilities": {}}})
    send({"method": "initialized", "params": {}})
    deadline = time.monotonic() + 60
    workers: set[int] = set()
    while len(workers) < 3 and time.monotonic() < deadline:  # the forkserver and its workers
        time.sleep(0.1)
        workers = {pid for pid in descendants(proc.pid) if b"forkserver" in _cmdline(pid)}
    assert len(workers) >= 3, "the daemon never started extracting"
    everything = descendants(proc.pid)
    proc.kill()
    proc.wait()
    left = alive(everything, within=10)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"{len(left)} processes outlived a kill -9 of the daemon"


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # it has just exited
        return b""
