"""Opening the store: WAL mode, schema migrations, and one transaction per unit of work.

A kill at any moment leaves either the previous or the new version of a file's symbols: every
file is replaced inside one transaction, and SQLite's WAL journal rolls back a torn one on open.
Damage from outside (a bad disk, a stray write) is found when the store is opened and rebuilt
with every readable teacher answer kept (`store.recover`).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from trm_lsp.extract.items import Item
from trm_lsp.store import recover
from trm_lsp.store.location import DB_NAME, StoreError, locate_state
from trm_lsp.store.schema import LOOKUP_INDEXES, MIGRATIONS, SAMPLE_COLUMNS, SCHEMA_VERSION

log = logging.getLogger(__name__)


class Store:
    def __init__(self, path: Path, check: bool = False, workspace: Path | None = None) -> None:
        """Open (or create) the store at `path`. `check` runs SQLite's quick check first (the
        process's first open: a few ms per MB); damage found then, or marked by a process that
        met it while running, rebuilds the store and sets `recovered` to what was done."""
        self.path = Path(path)
        #: The workspace this store indexes (by default the one of `<workspace>/.trm-lsp/index.sqlite3`).
        self.workspace = Path(workspace) if workspace is not None else self.path.parent.parent
        #: A sentence for the user when this open rebuilt a damaged store, else None.
        self.recovered: str | None = None
        #: A sentence for the user when the store is not in its workspace (`locate_state`), else "".
        self.outside = ""
        existed = self.path.exists()
        problem = recover.marked_damaged(self.path)
        if problem is None:
            try:
                self._open()
                problem = recover.check(self.path) if check and existed else None
            except sqlite3.DatabaseError as exc:
                if not recover.is_damage(exc):
                    raise StoreError(f"cannot open {self.path}: {exc}") from None
                problem = str(exc)
        if problem is not None:
            self._rebuild(problem)

    def _open(self) -> None:
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute("PRAGMA cache_size=-65536")
        self._migrate()
        self.ensure_indexes()

    def _rebuild(self, problem: str) -> None:
        if getattr(self, "db", None) is not None:
            self.db.close()
        damaged = recover.set_aside(self.path)
        try:
            self._open()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot create {self.path}: {exc}") from None
        with self.transaction():
            kept, seen = recover.salvage_samples(damaged, self.db, SAMPLE_COLUMNS)
        lost = f"; {seen - kept} failed their hash check" if seen > kept else ""
        self.recovered = (f"the index was damaged ({' '.join(problem.replace('*', '').split())}): it is rebuilt "
                          f"from the workspace, and the {kept} teacher answers that could still be read were kept"
                          f"{lost} (the damaged file is {damaged})")
        log.warning("%s", self.recovered)

    @classmethod
    def for_workspace(cls, workspace: Path, check: bool = True, quiet: bool = False) -> "Store":
        """`quiet`: the caller tells the user itself (`outside`) where the store is, when that is
        not in the workspace; else it is logged."""
        state, why = locate_state(workspace)
        store = cls(state / DB_NAME, check=check, workspace=workspace)
        if why:
            name = Path(workspace).resolve().name
            store.outside = f"{why}, so the index of {name} and its teacher answers are kept in {state}"
            if not quiet:
                log.warning("%s", store.outside)
        return store

    def close(self) -> None:
        self.db.close()

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {version}, newer than this trm-lsp ({SCHEMA_VERSION}); "
                "upgrade trm-lsp or delete the file to rebuild"
            )
        for number in range(version, SCHEMA_VERSION):
            with self.transaction():
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {number + 1}")

    def ensure_indexes(self) -> None:
        for statement in LOOKUP_INDEXES.values():
            self.db.execute(statement)

    @contextmanager
    def bulk_load(self) -> Iterator[None]:
        """Drop the lookup indexes for a large load and rebuild them after it."""
        for name in LOOKUP_INDEXES:
            self.db.execute(f"DROP INDEX IF EXISTS {name}")
        try:
            yield
        finally:
            self.ensure_indexes()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def forget_all_files(self) -> None:
        """Drop every file and symbol (the extractor changed: everything is re-extracted)."""
        with self.transaction():
            self.db.execute("DELETE FROM symbols")
            self.db.execute("DELETE FROM files")
            self.db.execute("DELETE FROM skipped")

    # -- files -------------------------------------------------------------------------------

    def file_states(self) -> dict[str, tuple[int, int, int, str]]:
        """path -> (id, size, mtime_ns, sha256) for every indexed file."""
        rows = self.db.execute("SELECT path, id, size, mtime_ns, sha256 FROM files")
        return {path: (fid, size, mtime, sha) for path, fid, size, mtime, sha in rows}

    def empty(self) -> bool:
        """No file indexed yet (a first index under way, or one that failed)."""
        return self.db.execute("SELECT 1 FROM files LIMIT 1").fetchone() is None

    def has_file(self, path: str) -> bool:
        return self.db.execute("SELECT 1 FROM files WHERE path = ?", (path,)).fetchone() is not None

    def skip_reason(self, path: str) -> str | None:
        """Why indexing skipped this file, or None when it did not."""
        row = self.db.execute("SELECT reason FROM skipped WHERE path = ?", (path,)).fetchone()
        return row[0] if row else None

    def skipped_states(self) -> dict[str, tuple[int, int, str]]:
        rows = self.db.execute("SELECT path, size, mtime_ns, reason FROM skipped")
        return {path: (size, mtime, reason) for path, size, mtime, reason in rows}

    def replace_file(
        self, path: str, language: str, size: int, mtime_ns: int, sha256: str, items: Iterable[Item],
        note: str | None = None, known: bool = True, machine_made: str | None = None,
    ) -> None:
        """Write one file's symbols in place of the old ones. Call inside `transaction()`.

        `known` is False when the caller knows the path is in neither `files` nor `skipped`
        (a cold index), which saves three statements per file. `machine_made`: why the teacher is
        not asked about the file's code (extract/machine_made.py), None for code people wrote.
        """
        db = self.db
        row = None
        if known:
            db.execute("DELETE FROM skipped WHERE path = ?", (path,))
            row = db.execute("SELECT id FROM files WHERE path = ?", (path,)).fetchone()
        if row is not None:
            db.execute("DELETE FROM symbols WHERE file_id = ?", (row[0],))
            db.execute(
                "UPDATE files SET language=?, size=?, mtime_ns=?, sha256=?, indexed_at=?, note=?, machine_made=?"
                " WHERE id=?",
                (language, size, mtime_ns, sha256, time.time(), note, machine_made, row[0]),
            )
            file_id = row[0]
        else:
            file_id = db.execute(
                "INSERT INTO files (path, language, size, mtime_ns, sha256, indexed_at, note, machine_made)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (path, language, size, mtime_ns, sha256, time.time(), note, machine_made),
            ).lastrowid
        db.executemany(
            "INSERT INTO symbols (file_id, kind, name, qualname, parent, start_line, end_line, start_byte,"
            " end_byte, sl, sc, el, ec, signature, doc, sha256, text) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            # Positional, so that plain tuples from worker processes work as well as `Item`s.
            [(file_id, *it[:8], *it[8], *it[9:]) for it in items],
        )

    def touch_file(self, path: str, size: int, mtime_ns: int) -> None:
        """Same content, new stat (a `touch`, a checkout): remember it without re-parsing."""
        self.db.execute("UPDATE files SET size=?, mtime_ns=? WHERE path=?", (size, mtime_ns, path))

    def mark_skipped(self, path: str, size: int, mtime_ns: int, reason: str) -> None:
        self.remove_file(path)
        self.db.execute(
            "INSERT OR REPLACE INTO skipped (path, size, mtime_ns, reason) VALUES (?,?,?,?)",
            (path, size, mtime_ns, reason),
        )

    def remove_file(self, path: str) -> None:
        self.db.execute("DELETE FROM files WHERE path = ?", (path,))

    def forget_skipped(self, path: str) -> None:
        self.db.execute("DELETE FROM skipped WHERE path = ?", (path,))

    # -- queries -----------------------------------------------------------------------------

    def counts(self) -> tuple[dict[str, int], dict[str, int]]:
        """(files by language, symbols by kind)."""
        langs = dict(self.db.execute("SELECT language, COUNT(*) FROM files GROUP BY language ORDER BY 2 DESC"))
        kinds = dict(self.db.execute("SELECT kind, COUNT(*) FROM symbols GROUP BY kind ORDER BY 2 DESC"))
        return langs, kinds
