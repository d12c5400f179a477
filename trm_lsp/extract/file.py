"""One file -> its items, or the reason it was skipped. Runs in worker processes, so it takes
and returns plain picklable values and never touches the store."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field

from trm_lsp.config import Settings
from trm_lsp.extract import deadline
from trm_lsp.extract.items import Item
from trm_lsp.extract.languages import BY_ID, refine
from trm_lsp.extract.machine_made import machine_made
from trm_lsp.textutil import UTF16_BOMS

log = logging.getLogger(__name__)

# `<!ENTITY a "&b;&b;...">`: the shape of a "billion laughs" payload.
_NESTED_ENTITY = re.compile(rb"<!ENTITY\s+(?:%\s*)?[\w.:-]+\s+(?:\"[^\"]*&[\w.:-]+;|'[^']*&[\w.:-]+;)")



@dataclass(frozen=True)
class FileJob:
    rel: str
    path: str
    language: str
    size: int
    mtime_ns: int
    known_sha256: str | None = None
    #: Neither indexed nor skipped before: the store can skip looking for an old row.
    fresh: bool = False


@dataclass
class FileResult:
    rel: str
    language: str
    size: int
    mtime_ns: int
    sha256: str = ""
    items: list[Item] = field(default_factory=list)
    skip: str | None = None
    unchanged: bool = False
    note: str | None = None
    fresh: bool = False
    #: Why the teacher is not asked about this file's code (extract/machine_made.py).
    machine_made: str | None = None


def extract_file(job: FileJob, settings: Settings) -> FileResult:
    """Read, sniff, hash and extract one file. Never raises for bad input: it reports a skip."""
    result = FileResult(job.rel, job.language, job.size, job.mtime_ns, fresh=job.fresh)
    try:
        with open(job.path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        result.skip = "vanished"
        return result
    except IsADirectoryError:
        result.skip = "not a regular file"
        return result
    except OSError as exc:
        result.skip = f"unreadable: {exc.strerror or exc}"
        return result
    return extract_data(job, data, settings, result)


def extract_data(job: FileJob, data: bytes, settings: Settings, result: FileResult | None = None) -> FileResult:
    """Extract from bytes already in hand: a file just read, or an editor's unsaved buffer;
    within `index.extractSeconds` (`deadline.py`), else skipped with the reason."""
    result = result or FileResult(job.rel, job.language, job.size, job.mtime_ns, fresh=job.fresh)
    try:
        with deadline.budget(settings.index.extract_seconds):
            return _extract(job, data, settings, result)
    except deadline.TooSlow as exc:
        result.items, result.skip = [], str(exc)
        return result


def _extract(job: FileJob, data: bytes, settings: Settings, result: FileResult) -> FileResult:
    language = BY_ID[job.language]
    result.size = len(data)
    result.sha256 = hashlib.sha256(data).hexdigest()
    if job.known_sha256 == result.sha256:
        result.unchanged = True
        return result
    if language.family == "document":
        from trm_lsp.extract.documents import extract_document

        try:
            result.items = extract_document(language.id, data, job.path, settings.documents)
        except PartialFile as exc:
            result.items, result.note = exc.items, str(exc)
        except SkipFile as exc:
            result.skip = str(exc)
        except Exception as exc:  # a library choking on hostile input costs one file
            log.exception("extracting %s failed", job.rel)
            result.skip = f"extractor error: {type(exc).__name__}: {exc}"
        return result
    if len(data) > settings.index.max_file_bytes:
        result.skip = "too large"
        return result
    if b"\0" in data:
        utf16 = data.startswith(UTF16_BOMS)
        result.skip = "UTF-16 text: save it as UTF-8 to have it read" if utf16 else "binary (NUL byte)"
        return result
    language = refine(language, data)
    result.language = language.id
    if language.id == "xml" and _NESTED_ENTITY.search(data, 0, 1 << 20):
        # tree-sitter never expands entities, but whatever reads this text next may.
        result.skip = "unsafe XML: entity declared from other entities (entity-expansion payload)"
        return result
    valid_utf8 = True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        valid_utf8 = False
        result.note = f"invalid UTF-8 at byte {exc.start}: decoded with replacement characters"
    from trm_lsp.extract.code import extract_code

    try:
        notes: list[str] = []
        result.items = extract_code(language.id, data, settings.index.max_doc_chars, valid_utf8, notes)
        result.note = "; ".join(filter(None, [result.note, *notes])) or None
        result.machine_made = machine_made(data, (item.start_line for item in result.items))
    except RecursionError:
        result.skip = "nesting too deep to extract"
    except Exception as exc:  # an extractor bug must cost one file, not the whole index
        log.exception("extracting %s failed", job.rel)
        result.skip = f"extractor error: {type(exc).__name__}: {exc}"
    return result


class SkipFile(Exception):
    """Raised by an extractor for a file it refuses, with the reason as the message."""


class PartialFile(SkipFile):
    """Raised with the items that were read and a note on what was left out (a capped PDF)."""

    def __init__(self, items: list[Item], note: str) -> None:
        super().__init__(note)
        self.items = items
