"""Samples in and out as JSONL, in the sample format of DESIGN.md: `trm-lsp export` writes what
the teacher said; `trm-lsp import` seeds a workspace with recorded answers."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from trm_lsp.distill.prompts import PROMPT_VERSION
from trm_lsp.store import Store
from trm_lsp.store.samples import Sample, Samples

_REQUIRED = ("path", "language", "kind", "symbol", "sha256", "input", "output", "teacher")


@dataclass
class ImportReport:
    imported: int = 0
    duplicates: int = 0
    rejected: list[str] = field(default_factory=list)  # "line N: reason"


def export_samples(store: Store, target: Path) -> int:
    """Write every sample; atomically (a temp file renamed into place)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".export-", suffix=".jsonl")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            for sample in Samples(store).all():
                out.write(json.dumps(sample.record(), ensure_ascii=False) + "\n")
                count += 1
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count


def import_samples(store: Store, source: Path, accept: Callable[[dict], bool] | None = None) -> ImportReport:
    """Load a JSONL of samples; `accept` may leave some valid records out (the demo keeps a
    few symbols for the student)."""
    report = ImportReport()
    samples = Samples(store)
    with open(source, encoding="utf-8", errors="replace") as fh, store.transaction():
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                report.rejected.append(f"line {number}: not JSON ({exc.msg})")
                continue
            problem = _problem(record)
            if problem:
                report.rejected.append(f"line {number}: {problem}")
                continue
            if accept is not None and not accept(record):
                continue
            sample = Sample(
                sha256=record["sha256"], teacher=record["teacher"],
                prompt_version=int(record.get("prompt_version", PROMPT_VERSION)), path=record["path"],
                language=record["language"], kind=record["kind"], symbol=record["symbol"],
                start_line=int(record.get("start_line") or 0), end_line=int(record.get("end_line") or 0),
                input=record["input"], reasoning=record.get("reasoning") or "", output=record["output"],
                created_at=_timestamp(record.get("created_at")),
            )
            if samples.add(sample):
                report.imported += 1
            else:
                report.duplicates += 1
    return report


def _timestamp(value: object) -> float:
    """`created_at` as seconds since the epoch: a number, or an ISO 8601 date (the corpus
    writes those); anything else means "now"."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    if isinstance(value, str) and value:
        try:
            stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return time.time()
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=timezone.utc)
        return stamp.timestamp()
    return time.time()


def _problem(record: object) -> str | None:
    if not isinstance(record, dict):
        return "not a JSON object"
    missing = [key for key in _REQUIRED if not isinstance(record.get(key), str) or not record.get(key)]
    if missing:
        return f"missing {', '.join(missing)}"
    if hashlib.sha256(record["input"].encode("utf-8")).hexdigest() != record["sha256"]:
        return "sha256 is not the hash of input"
    return None

