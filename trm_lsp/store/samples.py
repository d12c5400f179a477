"""Teacher samples: one answer per (symbol text hash, teacher, prompt version), the sample
format of DESIGN.md on the way out and in."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from typing import Iterator

from trm_lsp.store.db import Store
from trm_lsp.store.schema import SAMPLE_COLUMNS

SAMPLE_FIELDS = ("id", "path", "language", "kind", "symbol", "start_line", "end_line", "sha256", "input",
                 "reasoning", "output", "teacher", "created_at")


@dataclass
class Sample:
    sha256: str
    teacher: str
    prompt_version: int
    path: str
    language: str
    kind: str
    symbol: str
    start_line: int
    end_line: int
    input: str
    reasoning: str
    output: str
    created_at: float = field(default_factory=time.time)
    tokens: int = 0
    seconds: float = 0.0
    origin: str = ""  # "" for our own teacher, else the shared store it was read from

    @property
    def id(self) -> str:
        return sample_id(self.sha256, self.teacher, self.prompt_version)

    def record(self) -> dict:
        """The JSONL record (sample format), plus `prompt_version` so a round trip is exact."""
        data = asdict(self)
        out = {key: data[key] for key in SAMPLE_FIELDS if key != "id"}
        return {"id": self.id, **out, "prompt_version": self.prompt_version}


def sample_id(sha256: str, teacher: str, prompt_version: int) -> str:
    return hashlib.sha256(f"{teacher}\0{prompt_version}\0{sha256}".encode()).hexdigest()


_COLUMNS = SAMPLE_COLUMNS


class Samples:
    def __init__(self, store: Store) -> None:
        self.db = store.db
        self.store = store

    def add(self, sample: Sample) -> bool:
        """Insert unless this (text, teacher, prompt version) already has an answer. Call inside
        a transaction together with whatever marks the work done."""
        values = (sample.id, *(getattr(sample, c) for c in _COLUMNS[1:]))
        cur = self.db.execute(
            f"INSERT OR IGNORE INTO samples ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})", values
        )
        return cur.rowcount == 1

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM samples").fetchone()[0]

    def best_for(self, sha256: str, teacher: str | None = None) -> Sample | None:
        """The answer for this exact text: the given teacher's newest, else anyone's newest."""
        rows = self._query("WHERE sha256 = ? ORDER BY (teacher = ?) DESC, created_at DESC LIMIT 1", (sha256, teacher or ""))
        return next(rows, None)

    def all(self) -> Iterator[Sample]:
        return self._query("ORDER BY created_at, id", ())

    def current(self) -> Iterator[Sample]:
        """The answers about text some indexed symbol still has: not those of a function's older
        versions, which every save of an edit adds (one function edited 400 times was 132 of 151
        training samples in a probe), nor of deleted code."""
        return self._query("WHERE sha256 IN (SELECT sha256 FROM symbols) ORDER BY created_at, id", ())

    def _query(self, tail: str, params: tuple) -> Iterator[Sample]:
        cur = self.db.cursor()
        cur.row_factory = sqlite3.Row
        for row in cur.execute(f"SELECT {', '.join(_COLUMNS[1:])} FROM samples {tail}", params):
            yield Sample(**dict(row))
