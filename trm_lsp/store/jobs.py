"""The persistent teacher queue: one job per (symbol text hash, teacher, prompt version) that
has no sample yet. States: pending -> running -> done | failed; a job left `running` by a killed
process goes back to pending on the next start, and nothing else is lost."""

from __future__ import annotations

import time
from dataclasses import dataclass

from trm_lsp.store.db import Store

#: The priority of a symbol the user is looking at.
URGENT = 100
#: How the teachers' errors for a server error begin (`Jobs.outage`): Ollama's, an OpenAI-compatible server's.
_OUTAGES = ("Ollama error 5", "HTTP 5")


@dataclass
class Job:
    id: int
    sha256: str
    priority: int
    attempts: int


class Jobs:
    def __init__(self, store: Store, teacher: str, prompt_version: int) -> None:
        self.store = store
        self.db = store.db
        self.teacher = teacher
        self.prompt_version = prompt_version
        self._key = (teacher, prompt_version)

    def recover(self) -> int:
        """Jobs a killed run left `running` are pending again."""
        return self.db.execute(
            "UPDATE jobs SET state='pending' WHERE state='running' AND teacher=? AND prompt_version=?", self._key
        ).rowcount

    def retry_failed(self, outages_only: bool = False) -> int:
        """Failed jobs pending again; `outages_only`: those a server error failed (`outage`)."""
        where = " AND (" + " OR ".join(["substr(last_error, 1, ?) = ?"] * len(_OUTAGES)) + ")" if outages_only else ""
        prefixes = [value for prefix in _OUTAGES for value in (len(prefix), prefix)] if outages_only else []
        return self.db.execute(
            "UPDATE jobs SET state='pending', attempts=0, not_before=0 WHERE state='failed' AND teacher=? "
            f"AND prompt_version=?{where}", (*self._key, *prefixes),
        ).rowcount

    @staticmethod
    def outage(error: str) -> bool:
        """A server error (an HTTP 5xx: a model runner restarting, out of memory), which passes;
        not a reply about this prompt (a 4xx, an answer that is no explanation, a timeout)."""
        return error.startswith(_OUTAGES)

    @staticmethod
    def _for_teacher(kinds: frozenset[str]) -> str:
        """The symbols the teacher is asked about (`s` joined to its file `f`): of these kinds
        (bound in sorted order), in files people wrote (extract/machine_made.py)."""
        return f"s.kind IN ({','.join('?' * len(kinds))}) AND f.machine_made IS NULL"

    def enqueue_missing(self, kinds: frozenset[str]) -> int:
        """A job for every symbol text the teacher is asked about with neither a sample nor a job."""
        return self.db.execute(
            f"""INSERT OR IGNORE INTO jobs (sha256, teacher, prompt_version, updated_at)
                SELECT DISTINCT s.sha256, ?, ?, ? FROM symbols s JOIN files f ON f.id = s.file_id
                WHERE {self._for_teacher(kinds)}
                  AND NOT EXISTS (SELECT 1 FROM samples x WHERE x.sha256 = s.sha256 AND x.teacher = ?
                                  AND x.prompt_version = ?)""",
            (*self._key, time.time(), *sorted(kinds), *self._key),
        ).rowcount

    def explainable(self, kinds: frozenset[str]) -> int:
        """How many distinct symbol texts the teacher is asked about, answered or not."""
        return self.db.execute(f"SELECT COUNT(DISTINCT s.sha256) FROM symbols s JOIN files f ON f.id = s.file_id "
                               f"WHERE {self._for_teacher(kinds)}", sorted(kinds)).fetchone()[0]

    def cancel_stale(self) -> list[str]:
        """Drop pending and running jobs whose text no longer exists (the symbol changed), or
        exists only in machine-made files and no user asked for it (a store from before they
        were told apart)."""
        rows = self.db.execute(
            """SELECT sha256 FROM jobs WHERE teacher=? AND prompt_version=? AND state IN ('pending', 'running')
               AND NOT EXISTS (SELECT 1 FROM symbols s JOIN files f ON f.id = s.file_id WHERE s.sha256 = jobs.sha256
                               AND (f.machine_made IS NULL OR jobs.priority >= ?))""", (*self._key, URGENT),
        ).fetchall()
        stale = [r[0] for r in rows]
        self.db.executemany("DELETE FROM jobs WHERE sha256=? AND teacher=? AND prompt_version=?",
                            [(sha, *self._key) for sha in stale])
        return stale

    def set_order(self, order: dict[str, int]) -> None:
        self.db.executemany("UPDATE jobs SET ord=? WHERE sha256=? AND teacher=? AND prompt_version=?",
                            [(rank, sha, *self._key) for sha, rank in order.items()])

    def pending_shas(self) -> list[str]:
        rows = self.db.execute("SELECT sha256 FROM jobs WHERE state='pending' AND teacher=? AND prompt_version=?",
                               self._key)
        return [r[0] for r in rows]

    def claim(self, now: float | None = None) -> Job | None:
        """The next job due, marked running."""
        row = self.db.execute(
            """UPDATE jobs SET state='running', updated_at=?
               WHERE id = (SELECT id FROM jobs WHERE state='pending' AND teacher=? AND prompt_version=?
                           AND not_before <= ? ORDER BY priority DESC, ord, id LIMIT 1)
               RETURNING id, sha256, priority, attempts""",
            (time.time(), *self._key, now if now is not None else time.time()),
        ).fetchone()
        return Job(*row) if row else None

    def next_due(self) -> float | None:
        row = self.db.execute("SELECT MIN(not_before) FROM jobs WHERE state='pending' AND teacher=? AND prompt_version=?",
                              self._key).fetchone()
        return row[0]

    def done(self, job: Job) -> None:
        self.db.execute("DELETE FROM jobs WHERE id=?", (job.id,))

    def done_for(self, sha256: str) -> None:
        """Answered without being claimed (read from the shared answers)."""
        self.db.execute("DELETE FROM jobs WHERE sha256=? AND teacher=? AND prompt_version=? AND state='pending'",
                        (sha256, *self._key))

    def release(self, job: Job) -> None:
        """Back to pending without spending an attempt (the teacher was down)."""
        self.db.execute("UPDATE jobs SET state='pending', updated_at=? WHERE id=?", (time.time(), job.id))

    def retry_later(self, job: Job, error: str, delay: float, max_attempts: int) -> bool:
        """Spend an attempt; True when the job is now failed for good."""
        attempts = job.attempts + 1
        state = "failed" if attempts >= max_attempts else "pending"
        self.db.execute("UPDATE jobs SET state=?, attempts=?, last_error=?, not_before=?, updated_at=? WHERE id=?",
                        (state, attempts, error, time.time() + delay, time.time(), job.id))
        return state == "failed"

    def add_urgent(self, sha256: str) -> bool:
        """A first-place job for this text if it has none (a user asking about machine-made
        code, which is never queued otherwise). True if one was made."""
        return self.db.execute("INSERT OR IGNORE INTO jobs (sha256, teacher, prompt_version, priority, updated_at) "
                               "VALUES (?, ?, ?, ?, ?)", (sha256, *self._key, URGENT, time.time())).rowcount > 0

    def prioritize(self, sha256: str) -> bool:
        """Put this text first (the user is looking at it). False if it has no pending job."""
        return self.db.execute(
            "UPDATE jobs SET priority=?, not_before=0 WHERE sha256=? AND teacher=? AND prompt_version=? AND state='pending'",
            (URGENT, sha256, *self._key),
        ).rowcount > 0

    def position(self, sha256: str) -> int | None:
        """1-based place in the queue, or None when there is no pending job for it."""
        row = self.db.execute("SELECT priority, ord, id FROM jobs WHERE sha256=? AND teacher=? AND prompt_version=? "
                              "AND state IN ('pending', 'running')", (sha256, *self._key)).fetchone()
        if row is None:
            return None
        ahead = self.db.execute(
            """SELECT COUNT(*) FROM jobs WHERE teacher=? AND prompt_version=? AND state IN ('pending', 'running')
               AND (priority > ? OR (priority = ? AND (ord < ? OR (ord = ? AND id < ?))))""",
            (*self._key, row[0], row[0], row[1], row[1], row[2]),
        ).fetchone()[0]
        return ahead + 1

    def counts(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT state, COUNT(*) FROM jobs WHERE teacher=? AND prompt_version=? GROUP BY state",
                                    self._key).fetchall())

    @staticmethod
    def last_try(store: Store, sha256: str) -> tuple[str, int, str] | None:
        """(state, attempts, last error) of the latest job for this text under any teacher, or
        None: what the command line can say about a symbol no daemon is distilling."""
        return store.db.execute("SELECT state, attempts, COALESCE(last_error, '') FROM jobs WHERE sha256=? "
                                "ORDER BY updated_at DESC LIMIT 1", (sha256,)).fetchone()

    def failures(self) -> list[tuple[str, str]]:
        return self.db.execute("SELECT sha256, COALESCE(last_error, '') FROM jobs WHERE state='failed' AND teacher=? "
                               "AND prompt_version=?", self._key).fetchall()
