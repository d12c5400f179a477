"""Samples in and out as JSONL, in the sample format of DESIGN.md: `trm-lsp export` writes what
the teacher said; `trm-lsp import` seeds a workspace with recorded answers."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Callable

from trm_lsp.distill.prompts import PROMPT_VERSION
from trm_lsp.store import Store
from trm_lsp.store.schema import MAX_LINE
from trm_lsp.store.samples import Sample, Samples

_REQUIRED = ("path", "language", "kind", "symbol", "sha256", "input", "output", "teacher")
#: Longest text field accepted (a symbol's text and an answer are far shorter).
MAX_FIELD_CHARS = 4 * 1024 * 1024
_YEAR_10000 = 253402300800


@dataclass
class ImportReport:
    imported: int = 0
    duplicates: int = 0
    rejected: list[str] = field(default_factory=list)  # "line N: reason"


def export_samples(store: Store, out: IO[str]) -> int:
    """Write every sample as a JSONL line; the number written."""
    count = 0
    for sample in Samples(store).all():
        out.write(json.dumps(sample.record(), ensure_ascii=False) + "\n")
        count += 1
    return count


def import_samples(store: Store, source: Path, accept: Callable[[dict], bool] | None = None) -> ImportReport:
    """Load a JSONL of samples; `accept` may leave some valid records out (the demo keeps a
    few symbols for the student)."""
    report = ImportReport()
    samples = Samples(store)
    # utf-8-sig: a BOM (Notepad's UTF-8) is not part of the first record
    with open(source, encoding="utf-8-sig", errors="replace") as fh, store.transaction():
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (ValueError, RecursionError) as exc:  # RecursionError: nesting deeper than the parser's stack
                reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)[:80] or type(exc).__name__
                report.rejected.append(f"line {number}: not JSON ({reason})")
                continue
            sample, problem = sample_from_record(record)
            if problem:
                report.rejected.append(f"line {number}: {problem}")
                continue
            if accept is not None and not accept(record):
                continue
            if samples.add(sample):
                report.imported += 1
            else:
                report.duplicates += 1
    return report


def sample_from_record(record: object) -> tuple[Sample | None, str | None]:
    """A sample from one decoded JSONL record, or why not: every field's type and range is
    checked here, so one bad record is rejected alone and never aborts the import."""
    if not isinstance(record, dict):
        return None, "not a JSON object"
    missing = [key for key in _REQUIRED if not isinstance(record.get(key), str) or not record.get(key)]
    if missing:
        return None, f"missing {', '.join(missing)}"
    for key, value in record.items():
        if isinstance(value, str):
            if len(value) > MAX_FIELD_CHARS:
                return None, f"{key} is longer than {MAX_FIELD_CHARS:,} characters"
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return None, f"{key} is not valid Unicode text (a lone surrogate)"
    reasoning = record.get("reasoning")
    if reasoning is not None and not isinstance(reasoning, str):
        return None, f"reasoning must be text, not {_type(reasoning)}"
    numbers = {}
    for key, low, high, default in (("start_line", 0, MAX_LINE, 0), ("end_line", 0, MAX_LINE, 0),
                                    ("prompt_version", 1, 10**6, PROMPT_VERSION)):
        value = record.get(key)
        if value is None:
            numbers[key] = default
        elif isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return None, f"{key} must be a whole number from {low} to {high}, not {_shown(value)}"
        else:
            numbers[key] = value
    created = _timestamp(record.get("created_at"))
    if created is None:
        return None, f"created_at must be seconds since 1970 or a date, not {_shown(record['created_at'])}"
    if hashlib.sha256(record["input"].encode("utf-8")).hexdigest() != record["sha256"]:
        return None, "sha256 is not the hash of input"
    return Sample(
        sha256=record["sha256"], teacher=record["teacher"], prompt_version=numbers["prompt_version"],
        path=record["path"], language=record["language"], kind=record["kind"], symbol=record["symbol"],
        start_line=numbers["start_line"], end_line=numbers["end_line"], input=record["input"],
        reasoning=reasoning or "", output=record["output"], created_at=created,
    ), None


def _timestamp(value: object) -> float | None:
    """`created_at` as seconds since the epoch: a number, or an ISO 8601 date (the corpus
    writes those); absent or an unreadable date means "now"; None for a number out of range
    or a value of another type."""
    if value is None or value == "":
        return time.time()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) if 0 <= value < _YEAR_10000 else None
    if isinstance(value, str):
        try:
            stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return time.time()
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=timezone.utc)
        return stamp.timestamp()
    return None


def _type(value: object) -> str:
    return {list: "a list", dict: "an object", bool: "true/false", int: "a number", float: "a number",
            str: "text"}.get(type(value), type(value).__name__)


def _shown(value: object) -> str:
    text = repr(value) if not isinstance(value, (list, dict)) else _type(value)
    return text if len(text) <= 40 else text[:37] + "..."
