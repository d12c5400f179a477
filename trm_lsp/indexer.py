"""scan -> extract -> store, incrementally.

A file whose size and mtime match the store is not read; one whose content hash matches is not
parsed; everything else is extracted and written, each file in one transaction-unit, so a kill
leaves every file at its old or its new version. Extraction streams: worker processes start on
the first files while the scan is still walking the tree, and images go to an OCR process of
their own that is collected last, so slow OCR never holds up code.
"""

from __future__ import annotations

import bisect
import gc
import logging
import multiprocessing
import os
import re
import time
from collections import Counter
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from trm_lsp.config import Settings
from trm_lsp.extract.file import FileJob, FileResult, extract_file
from trm_lsp.extract.languages import BY_ID, extractor_fingerprint
from trm_lsp.extract.scan import Candidate, Scanner, Skipped
from trm_lsp.interpreter import die_with_owner
from trm_lsp.store import Store

log = logging.getLogger(__name__)

#: Below this many files to parse, worker processes cost more than they save.
_PARALLEL_MIN_FILES = 24
#: Files per task sent to a worker: small enough to start early and end evenly.
_CHUNK_FILES = 16
#: Files per commit during a large index: bounded work lost on a kill, few fsyncs.
_COMMIT_EVERY = 256

Progress = Callable[[int, int, str], None]


@dataclass
class IndexReport:
    files_by_language: Counter = field(default_factory=Counter)
    symbols_by_kind: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    parsed: int = 0
    unchanged: int = 0
    removed: int = 0
    seconds: float = 0.0

    @property
    def skipped_by_reason(self) -> Counter:
        return Counter(reason.split(":")[0].split(" (")[0] for reason in self.skipped.values())


def index_workspace(
    root: Path, store: Store, settings: Settings | None = None, progress: Progress | None = None,
    start_method: str = "fork",
) -> IndexReport:
    """Bring the store up to date with every file under `root`.

    `start_method` of the worker processes: "fork" is fastest from a single-threaded command;
    a process that already runs threads (the daemon) must use "forkserver", since a forked
    child can inherit a lock another thread held and wait on it forever."""
    started = time.perf_counter()
    settings = settings or Settings()
    report = IndexReport()
    _check_extractor(store)
    known = store.file_states()
    known_skips = store.skipped_states()
    seen: set[str] = set()
    queued = [0]

    def jobs() -> Iterator[FileJob]:
        for entry in Scanner(root, settings.index):
            seen.add(entry.rel)
            if isinstance(entry, Skipped):
                report.skipped[entry.rel] = entry.reason
                continue
            state = known.get(entry.rel)
            if state is not None and state[1] == entry.size and state[2] == entry.mtime_ns:
                report.unchanged += 1
                continue
            skip = known_skips.get(entry.rel)
            if skip is not None and skip[0] == entry.size and skip[1] == entry.mtime_ns \
                    and _still_skipped(skip[2], settings):
                report.skipped[entry.rel] = skip[2]
                continue
            queued[0] += 1
            yield _job(entry, state[3] if state else None, fresh=state is None and skip is None)

    def count(done: int, rel: str) -> None:
        if progress is not None:
            progress(done, queued[0], rel)

    # A cold index rebuilds the lookup indexes once at the end instead of row by row.
    with store.bulk_load() if not known else _nothing():
        _write(_results(jobs(), settings, report, start_method), store, report, count)
    gone = [path for path in known if path not in seen or path in report.skipped]
    with store.transaction():
        for path in gone:
            store.remove_file(path)
        for path in known_skips:
            if path not in seen:
                store.forget_skipped(path)
    report.removed = len(gone)
    languages, report.symbols_by_kind = store.counts()
    report.files_by_language = Counter(languages)
    report.seconds = time.perf_counter() - started
    return report


def index_paths(root: Path, rels: Iterable[str], store: Store, settings: Settings | None = None,
                start_method: str = "fork") -> IndexReport:
    """Re-index a few known paths (an editor save, a watched-file event) without a full scan."""
    started = time.perf_counter()
    settings = settings or Settings()
    report = IndexReport()
    _check_extractor(store)
    known = store.file_states()
    jobs = []
    scanner = Scanner(root, settings.index)
    for rel, verdict in _verdicts(rels, scanner, known):
        if not isinstance(verdict, Candidate):
            if rel in known:  # gone, or now a link out, a FIFO, too large, ignored: not indexed
                with store.transaction():
                    store.remove_file(rel)
                report.removed += 1
            if isinstance(verdict, Skipped):
                report.skipped[verdict.rel] = verdict.reason
            continue
        state = known.get(rel)
        jobs.append(_job(verdict, state[3] if state else None))
    _write(_results(jobs, settings, report, start_method), store, report, None)
    report.seconds = time.perf_counter() - started
    return report


def _verdicts(rels: Iterable[str], scanner: Scanner, known: dict) -> Iterator[tuple[str, Candidate | Skipped | None]]:
    """(path, the scan's verdict) for each path an event names, once each, a folder standing for
    its files: editors report a folder deleted, moved or created as one event for the folder.
    The indexed files under a path that is not an indexable file are judged again (gone, ignored,
    moved away: removed), and a folder on disk is walked."""
    names: list[str] | None = None  # sorted lazily: most events name files
    seen: set[str] = set()

    def indexed_under(folder: str) -> Iterator[str]:
        nonlocal names
        names = sorted(known) if names is None else names
        prefix = folder + "/"
        i = bisect.bisect_left(names, prefix)
        while i < len(names) and names[i].startswith(prefix):
            yield names[i]
            i += 1

    for rel in (r.strip("/") for r in rels):
        if rel in seen:
            continue
        seen.add(rel)
        verdict = scanner.check(rel)
        folder = isinstance(verdict, Skipped) and verdict.folder
        if not folder:
            yield rel, verdict
        elif rel in known:  # a file replaced by a folder of the same name
            yield rel, None
        if isinstance(verdict, Candidate) or (rel in known and not folder):
            continue  # a file: nothing under it
        if verdict is not None and not folder and not os.path.isdir(scanner.root / rel):
            continue  # a file that is not indexed (a build's output): nothing under it either
        for found in scanner.under(rel, verdict):  # nothing unless `rel` is a folder the walk enters
            if found.rel not in seen:
                seen.add(found.rel)
                yield found.rel, found
        for name in indexed_under(rel):
            if name not in seen:  # held by a folder that is gone, moved, or no longer walked
                seen.add(name)
                yield name, scanner.check(name)


_TOOK_OVER = re.compile(r"took over ([\d.e+]+) s to extract")  # as `:g` writes it: 60, 0.5, 1e+06
_OCR_TIMEOUT = re.compile(r"OCR timed out after ([\d.e+]+) s")


def _still_skipped(reason: str, settings: Settings) -> bool:
    """Whether a skip recorded for a file that has not changed stands. One the machine or the
    settings caused is tried again: tesseract or an OCR language installed since (the README
    says to), OCR turned on, a time budget raised since. One tesseract failed on for the image's
    own sake ("OCR failed") stands until the file changes: it would fail, and cost a tesseract
    run, on every index."""
    if reason.startswith(("OCR unavailable", "OCR disabled")):
        return False
    if reason.startswith("OCR failed") and "language" in reason:  # recorded before languages were checked first
        return False
    for pattern, budget in ((_TOOK_OVER, settings.index.extract_seconds), (_OCR_TIMEOUT, settings.documents.ocr_timeout)):
        spent = pattern.match(reason)
        if spent and budget > float(spent.group(1)):
            return False
    return True


def _check_extractor(store: Store) -> None:
    fingerprint = extractor_fingerprint()
    if store.get_meta("extractor") != fingerprint:
        store.forget_all_files()
        with store.transaction():
            store.set_meta("extractor", fingerprint)


def _job(entry: Candidate, known_sha: str | None, fresh: bool = False) -> FileJob:
    return FileJob(entry.rel, entry.path, entry.language.id, entry.size, entry.mtime_ns, known_sha, fresh)


@contextmanager
def _nothing() -> Iterator[None]:
    yield


@contextmanager
def _no_gc() -> Iterator[None]:
    """Extraction makes ~100k short-lived, acyclic objects; the cycle collector only slows it
    down (about 7% of a cold index). Reference counting still frees everything."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _write(results: Iterator[FileResult], store: Store, report: IndexReport, count) -> None:
    pending = 0
    with _no_gc():
        store.db.execute("BEGIN IMMEDIATE")
        try:
            for done, result in enumerate(results, 1):
                _apply(result, store, report)
                pending += 1
                if pending >= _COMMIT_EVERY:
                    store.db.execute("COMMIT")
                    store.db.execute("BEGIN IMMEDIATE")
                    pending = 0
                if count is not None:
                    count(done, result.rel)
        except BaseException:
            store.db.execute("ROLLBACK")
            raise
        store.db.execute("COMMIT")


def _apply(result: FileResult, store: Store, report: IndexReport) -> None:
    if result.skip is not None:
        report.skipped[result.rel] = result.skip
        store.mark_skipped(result.rel, result.size, result.mtime_ns, result.skip)
        return
    if result.unchanged:
        report.unchanged += 1
        store.touch_file(result.rel, result.size, result.mtime_ns)
        return
    if result.note:
        report.notes[result.rel] = result.note
    report.parsed += 1
    store.replace_file(
        result.rel, result.language, result.size, result.mtime_ns, result.sha256, result.items, result.note,
        known=not result.fresh, machine_made=result.machine_made,
    )


def _results(jobs: Iterable[FileJob], settings: Settings, report: IndexReport,
             start_method: str = "fork") -> Iterator[FileResult]:
    """Results in completion order, while `jobs` is still being produced."""
    workers = settings.index.workers or os.cpu_count() or 1
    available = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context(start_method if start_method in available else "spawn")
    buffer: list[FileJob] = []
    chunks: Chunks = {}  # in the order submitted
    ocr: Chunks = {}
    #: Documents are parsed by libraries that can take gigabytes on a hostile file: in a process
    #: of their own even when the few other files are parsed here, so the out-of-memory killer
    #: takes that process (the file is skipped), never the daemon an editor is talking to.
    documents: Chunks = {}
    ocr_state: dict[str, object] = {}
    with ExitStack() as stack:
        pools: dict[str, ProcessPoolExecutor] = {}

        stranded: list[FileJob] = []  # a chunk no pool would take: extracted one by one at the end

        def submit(kind: str, size: int, chunk: list[FileJob], into: Chunks) -> None:
            for _ in range(2):  # a pool a dead worker broke is replaced (its files: `_collected`)
                if kind not in pools:
                    pools[kind] = stack.enter_context(_pool(size, context))
                try:
                    into[pools[kind].submit(_extract_many, chunk, settings)] = chunk
                    return
                except BrokenProcessPool:
                    del pools[kind]
            stranded.extend(chunk)

        parallel = False
        for job in jobs:
            if job.language == "image":
                reason = _ocr_unavailable(settings, report, ocr_state)
                if reason:
                    yield FileResult(job.rel, job.language, job.size, job.mtime_ns, skip=reason)
                    continue
                submit("ocr", 1, [job], ocr)
                continue
            buffer.append(job)
            parallel = parallel or (workers > 1 and len(buffer) >= _PARALLEL_MIN_FILES)
            if parallel and len(buffer) >= _CHUNK_FILES:
                submit("code", workers, buffer, chunks)
                buffer = []
                yield from _collected(chunks, settings, context, done_only=True)
        if not parallel:  # few files: parsed here, but never a document (below)
            for job in buffer:
                if BY_ID[job.language].family == "document":
                    submit("document", 1, [job], documents)
                else:
                    yield extract_file(job, settings)
            yield from _collected(documents, settings, context)
        else:
            if buffer:
                submit("code", workers, buffer, chunks)
            yield from _collected(chunks, settings, context)
        yield from _collected(ocr, settings, context)
        yield from _one_by_one(stranded, settings, context)


#: Futures of the chunks of files sent to a pool, with their files.
Chunks = dict[Future, list[FileJob]]

#: The skip reason of a file whose extracting process died (the kernel's out-of-memory killer).
DIED = "the process extracting it died (out of memory?)"


def _collected(chunks: Chunks, settings: Settings, context, done_only: bool = False) -> Iterator[FileResult]:
    """The results of `chunks`, taken out as they are read: in completion order, or only the
    done ones at its head. A worker that dies breaks its pool and every chunk in it: their files
    are extracted again one by one, each in a process of its own, so only a file that kills its
    process is skipped (`DIED`) and the index goes on."""
    def head_done() -> Iterator[Future]:
        while chunks and (head := next(iter(chunks))).done():
            yield head

    for future in head_done() if done_only else as_completed(list(chunks)):
        files = chunks.pop(future)
        try:
            results = future.result()
        except BrokenProcessPool:
            suspects = files + [job for rest in chunks.values() for job in rest]
            chunks.clear()
            log.warning("an extracting process died; extracting its %d files again one by one", len(suspects))
            yield from _one_by_one(suspects, settings, context)
            return
        yield from results


def _one_by_one(jobs: list[FileJob], settings: Settings, context) -> Iterator[FileResult]:
    with ExitStack() as stack:
        pool: ProcessPoolExecutor | None = None
        for job in jobs:
            pool = pool or stack.enter_context(_pool(1, context))
            try:
                yield from pool.submit(_extract_many, [job], settings).result()
            except BrokenProcessPool:
                log.warning("%s: %s", job.rel, DIED)
                pool = None  # the next file gets a process of its own
                yield FileResult(job.rel, job.language, job.size, job.mtime_ns, skip=DIED)


@contextmanager
def _pool(workers: int, context) -> Iterator[ProcessPoolExecutor]:
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=die_with_owner,
                               initargs=(os.getpid(),))
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _ocr_unavailable(settings: Settings, report: IndexReport, state: dict) -> str | None:
    """None when OCR can run; else the skip reason, with one warning for the whole run."""
    if "reason" not in state:
        state["reason"] = None
        if not settings.documents.ocr:
            state["reason"] = "OCR disabled (documents.ocr = false)"
        else:
            from trm_lsp.extract.ocr import install_hint, tesseract_available

            if not tesseract_available(settings.documents):
                message = f"OCR unavailable: tesseract is not installed; install it with: {install_hint()}"
                report.warnings.append(message)
                log.info("%s", message)  # the summary shows it once
                state["reason"] = "OCR unavailable: tesseract not installed"
    return state["reason"]  # type: ignore[return-value]


def _extract_many(jobs: list[FileJob], settings: Settings) -> list[FileResult]:
    with _no_gc():
        results = [extract_file(job, settings) for job in jobs]
    for result in results:  # plain tuples unpickle ~40% faster than NamedTuples
        result.items = [tuple(item) for item in result.items]  # type: ignore[misc]
    return results
