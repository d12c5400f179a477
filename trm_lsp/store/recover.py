"""A damaged store is rebuilt, not fatal: the index is re-extracted from the workspace (cheap)
and every teacher answer that can still be read is carried over (expensive: each one cost
seconds to minutes of teacher time).

Damage is found by `PRAGMA quick_check` when a store is opened (a few milliseconds per
megabyte) or by a "malformed" error while serving. The damaged file is kept beside the new one
as `damaged.sqlite3` for whoever wants to look at it; answers are read from it row by row, so
one bad page costs only the rows on it, and each is kept only if its text still hashes to its key.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
from pathlib import Path

log = logging.getLogger(__name__)

DAMAGED_NAME = "damaged.sqlite3"
#: Written beside the store by a process that met damage while running; the next open rebuilds.
MARKER_NAME = "damaged.marker"
_CHUNK = 256
_GIVE_UP_AFTER = 64  # consecutive unreadable chunks past the last rowid seen


def check(path: Path) -> str | None:
    """None when SQLite finds the file sound, else its first complaint. On a connection of its
    own, closed after: the check reads every page, and on the store's connection (64 MB page
    cache) those pages stayed in the daemon's memory (+40 MB RSS on the standard library)."""
    try:
        db = sqlite3.connect(path, timeout=30)
    except sqlite3.Error as exc:
        return str(exc)
    try:
        rows = db.execute("PRAGMA quick_check(1)").fetchall()
    except sqlite3.DatabaseError as exc:
        if is_damage(exc):
            return str(exc)
        log.warning("could not check %s now (%s); checked at the next start", path, exc)  # e.g. locked
        return None
    finally:
        db.close()
    return None if rows and rows[0][0] == "ok" else str(rows[0][0] if rows else "no answer from quick_check")


def is_damage(exc: BaseException) -> bool:
    """Whether an error from SQLite means the file itself is damaged (not a busy lock or a bug)."""
    text = str(exc).lower()
    return isinstance(exc, sqlite3.DatabaseError) and any(
        s in text for s in ("malformed", "not a database", "disk i/o error", "database corrupt"))


def mark_damaged(store_path: Path, reason: str) -> None:
    """Ask the next open of this store to rebuild it (a running process cannot swap its file)."""
    (store_path.parent / MARKER_NAME).write_text(reason[:500], encoding="utf-8")


def marked_damaged(store_path: Path) -> str | None:
    try:
        return (store_path.parent / MARKER_NAME).read_text(encoding="utf-8") or "marked damaged"
    except OSError:
        return None


def set_aside(store_path: Path) -> Path:
    """Move the damaged file (and its WAL) out of the way; returns where it went."""
    target = store_path.parent / DAMAGED_NAME
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{store_path}{suffix}")
        if source.exists():
            os.replace(source, f"{target}{suffix}")
        else:
            Path(f"{target}{suffix}").unlink(missing_ok=True)
    (store_path.parent / MARKER_NAME).unlink(missing_ok=True)
    return target


def salvage_samples(damaged: Path, into: sqlite3.Connection, columns: tuple[str, ...]) -> tuple[int, int]:
    """Copy every readable, intact teacher answer from `damaged` into `into` (inside a
    transaction the caller holds). Returns (kept, seen)."""
    try:
        old = sqlite3.connect(f"file:{damaged}?mode=ro", uri=True)
    except sqlite3.DatabaseError as exc:
        log.warning("no answers could be read from %s: %s", damaged, exc)
        return 0, 0
    kept = seen = 0
    try:  # a store of an older schema lacks the newer columns (samples.origin): those take their defaults
        have = {row[1] for row in old.execute("PRAGMA table_info(samples)")}
    except sqlite3.DatabaseError:
        have = set()
    columns = tuple(c for c in columns if c in have) or columns
    select = f"SELECT rowid, {', '.join(columns)} FROM samples WHERE rowid BETWEEN ? AND ?"
    insert = f"INSERT OR IGNORE INTO samples ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    sha_at, input_at = columns.index("sha256") + 1, columns.index("input") + 1
    try:
        last = _max_rowid(old)
        start, misses = 1, 0
        while misses < _GIVE_UP_AFTER or start <= last:
            rows = _read(old, select, start, start + _CHUNK - 1)
            misses = 0 if rows else misses + 1
            for row in rows:
                seen += 1
                text = row[input_at]
                if isinstance(text, str) and hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest() == row[sha_at]:
                    kept += into.execute(insert, row[1:]).rowcount
            start += _CHUNK
    finally:
        old.close()
    return kept, seen


def _max_rowid(db: sqlite3.Connection) -> int:
    try:
        return int(db.execute("SELECT max(rowid) FROM samples").fetchone()[0] or 0)
    except sqlite3.DatabaseError:
        return 0


def _read(db: sqlite3.Connection, select: str, low: int, high: int) -> list[tuple]:
    """Rows low..high; one at a time when the chunk crosses a damaged page."""
    try:
        return db.execute(select, (low, high)).fetchall()
    except sqlite3.DatabaseError:
        rows = []
        for rowid in range(low, high + 1):
            try:
                rows += db.execute(select, (rowid, rowid)).fetchall()
            except sqlite3.DatabaseError:
                continue
        return rows
