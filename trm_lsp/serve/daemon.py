"""One workspace served: its store, the teacher queue, the student, and the background pipeline
(index on start, distill continuously, retrain when enough new answers landed).

The language server and the MCP server are two faces of this object. Everything that touches
the store runs on the event loop's thread; the slow parts run elsewhere (extraction in worker
processes, the student on its own thread, training in a child process), so no request waits.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from pathlib import Path

from trm_lsp.atomic import atomic_write
from trm_lsp import __version__
from trm_lsp.config import Settings
from trm_lsp.distill.prompts import EXPLAINABLE
from trm_lsp.distill.worker import DistillEvent, Distiller
from trm_lsp.extract import deadline
from trm_lsp.extract.code import syntax_error_line
from trm_lsp.extract.file import FileJob, extract_data
from trm_lsp.extract.languages import language_for
from trm_lsp.interpreter import proc_stat
from trm_lsp.serve.answers import Answer, AnswerEngine, StudentSlot
from trm_lsp.serve.live import LiveTeacher
from trm_lsp.serve.lookup import NotFound, Target, find
from trm_lsp.serve.progress import LogReporter, Reporter
from trm_lsp.serve.search import SymbolSearch
from trm_lsp.serve.tasks import supervise
from trm_lsp.serve.training import TrainingRun
from trm_lsp.store import Store
from trm_lsp.student.blas import active_blas

log = logging.getLogger(__name__)

_MIN_SAMPLES = 8  # fewer teacher answers than this teach the student nothing worth serving
#: Worker processes from a clean server process: this one runs threads (see index_workspace).
FORK_SAFE = "forkserver"


class Daemon:
    def __init__(self, root: Path, settings: Settings, reporter: Reporter | None = None) -> None:
        self.root = Path(root).resolve()
        self.settings = settings
        self.reporter = reporter or LogReporter()
        self.store = Store.for_workspace(self.root, quiet=True)  # `start` says where, if not in the workspace
        self.state = self.store.path.parent
        self.student = StudentSlot(self.state / "student")
        self.distiller: Distiller | None = None
        self.engine = AnswerEngine(self.store, self.student, self._queue_position, self._teacher_down)
        self.search = SymbolSearch(self.store)
        self.mcp_url = ""
        self.indexed = asyncio.Event()
        self.index_problem = ""  # why the first index failed, if it did
        self._tasks: set[asyncio.Task] = set()
        self._debounce: dict[str, asyncio.TimerHandle] = {}
        #: Per file, which edit of the buffer is current: an extraction of an older one, or of a
        #: buffer closed or saved since, must not land (`extract_buffer`).
        self._buffer_edits: dict[str, int] = {}
        #: Each edited buffer's text until it is saved or closed: what the index holds of the file
        #: (the note on a syntax error, `trace_logic`'s callers), and what a pending extraction reads.
        self._buffers: dict[str, str] = {}
        self._settling: dict[str, asyncio.Future] = {}  # a hover's extraction of a pending buffer
        self._answers_since_training = 0
        self._trained_on: frozenset[str] = frozenset()  # the answers the last training run learnt
        self._training = TrainingRun()
        self._train_lock = asyncio.Lock()
        self._lens_refresh: asyncio.TimerHandle | None = None
        self._distill_task = None  # the `$/progress` of the current distillation
        self._distilling: asyncio.Task | None = None  # the distiller's run loop
        self._teacher = None
        self.live: LiveTeacher | None = None  # free-form MCP questions put to the teacher
        self._stopped = False

    # -- start and stop ------------------------------------------------------------------------

    async def start(self) -> None:
        if self.store.outside:
            self.reporter.notify("warning", f"trm-lsp: {self.store.outside}")
        if self.store.recovered:
            self.reporter.notify("warning", f"trm-lsp: {self.store.recovered}")
        self.student.load()
        if self.settings.serve.distill:
            self._make_distiller()
        self.spawn(self._pipeline(), "pipeline")
        self.spawn(self.engine.run_warmer(), "student warm-up")

    def _make_distiller(self) -> None:
        from trm_lsp.distill.teacher import make_teacher

        self._teacher = make_teacher(self.settings.teacher)
        self.distiller = Distiller(self.store, self._teacher, self.settings.teacher, self._on_distill)
        self.live = LiveTeacher(self.settings.teacher.timeout)

    async def apply_settings(self, new: Settings) -> None:
        """New settings from the editor, live where they can be: a teacher change rebuilds the
        teacher and the distiller (the next question goes to the new one), a change to what the
        index reads re-indexes, and what only a restart can change (MCP's port and token) is
        said. The rest is read from `self.settings` where it is used."""
        old, self.settings = self.settings, new
        later = [f"serve.{name}" for name in ("mcp", "mcp_port", "mcp_token")
                 if getattr(old.serve, name) != getattr(new.serve, name)]
        if later:
            self.reporter.notify("warning", f"trm-lsp: restart needed for {', '.join(later)} to take effect")
        if old.teacher != new.teacher or old.serve.distill != new.serve.distill:
            await self._replace_distiller()
        if old.index != new.index or old.documents != new.documents:
            self.spawn(self.index(), "re-index")

    async def _replace_distiller(self) -> None:
        if self.distiller is not None:
            self.distiller.stop()
            if self._distilling is not None:
                self._distilling.cancel()
                await asyncio.gather(self._distilling, return_exceptions=True)
            await self.distiller.close()
            if self._teacher is not None:
                await self._teacher.close()
            self.distiller = self._teacher = self._distilling = self.live = None
        if self.settings.serve.distill and not self._stopped:
            self._make_distiller()
            log.info("teacher is now %s at %s", self.settings.teacher.model, self._teacher.host)
            if self.indexed.is_set():  # else the pipeline plans and starts it once indexed
                await self.distiller.replan(retry_failed=True)
                self._distilling = self.spawn(self._distill_forever(), "distilling")

    async def _with_own_store(self, work):
        """`work(store)` in a worker thread on a connection of its own: the loop's connection
        is for the loop's thread only."""
        def run():
            store = Store(self.store.path, workspace=self.root)  # the loop's open checked it
            try:
                return work(store)
            finally:
                store.close()

        return await asyncio.get_running_loop().run_in_executor(None, run)

    def spawn(self, coro, name: str) -> asyncio.Task:
        """A background task that logs its failure and tells the user instead of dying silently."""
        return supervise(coro, name, self._tasks,
                         lambda what, exc: self.reporter.notify("error", f"trm-lsp: {what} failed: {exc}"))

    async def stop(self) -> None:
        """Stop background work; every answer already acknowledged is committed."""
        if self._stopped:
            return
        self._stopped = True
        if self.distiller is not None:
            self.distiller.stop()
        self.kill_training()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.distiller is not None:
            await self.distiller.close()
        if self._teacher is not None:
            await self._teacher.close()
        self.close()

    def close(self) -> None:
        """The synchronous part of stopping: safe to call from an exit path."""
        self.kill_training()
        self.forget_daemon_file()
        self.student.close()
        self.store.close()

    def kill_training(self) -> None:
        self._training.kill()

    def _teacher_state(self) -> str:
        """The distiller's breaker state, but "up" once a live question was answered: with every
        symbol cached the distiller asks nothing, and status said "not asked yet" after answers."""
        if self.distiller is None:
            return "off"
        state = self.distiller.teacher_state
        return "up" if state == "not asked yet" and self.live is not None and self.live.answered else state

    # -- daemon.json: how `trm-lsp mcp` and the VS Code extension find this process ----------

    @property
    def daemon_file(self) -> Path:
        return self.state / "daemon.json"

    def write_daemon_file(self) -> None:
        """Record this daemon in daemon.json (the newest daemon of a workspace is the one named
        there) and in `daemons/<pid>.json`, from which daemon.json is written again for another
        daemon still running when this one leaves (`forget_daemon_file`)."""
        record = json.dumps({"pid": os.getpid(), "mcp_url": self.mcp_url, "workspace": str(self.root),
                             "version": __version__, "started_at": time.time(), "boot": _process_start(os.getpid())})
        own = self._own_record
        own.parent.mkdir(exist_ok=True)
        for target in (own, self.daemon_file):
            with atomic_write(target) as fh:
                fh.write(record)

    def forget_daemon_file(self) -> None:
        """Leaving: daemon.json names another daemon of this workspace that still runs, if any
        (the second editor's daemon quitting took the first's record with it, and `trm-lsp mcp`
        then started a third process on the store), else it goes."""
        try:
            self._own_record.unlink(missing_ok=True)
            try:
                if json.loads(self.daemon_file.read_text(encoding="utf-8")).get("pid") != os.getpid():
                    return
            except FileNotFoundError:  # never written (`explain`, a headless `mcp`) or already gone
                return
            others = [record for record in map(_live_record, self._own_record.parent.glob("*.json")) if record]
            if others:
                with atomic_write(self.daemon_file) as fh:
                    fh.write(json.dumps(max(others, key=lambda r: r.get("started_at", 0))))
            else:
                self.daemon_file.unlink()
        except (OSError, ValueError) as exc:  # a read-only state folder: leaving goes on
            log.warning("could not update %s: %s", self.daemon_file, exc)

    @property
    def _own_record(self) -> Path:
        return self.state / "daemons" / f"{os.getpid()}.json"

    # -- the pipeline ----------------------------------------------------------------------------

    async def _pipeline(self) -> None:
        await self.index()
        if self.distiller is not None:
            await self.distiller.replan(retry_failed=True)
            self._distilling = self.spawn(self._distill_forever(), "distilling")
        if self.student.student is None and self.settings.serve.retrain_after:
            await self.maybe_train(force=False)

    async def index(self) -> None:
        """Bring the index up to date, in a thread with its own connection (the loop stays free)."""
        task = self.reporter.begin("Indexing")
        loop = asyncio.get_running_loop()

        def progress(done: int, total: int, rel: str) -> None:
            if done % 50 == 0 or done == total:
                pct = int(100 * done / total) if total else None
                loop.call_soon_threadsafe(task.report, f"{done}/{total} files", pct)

        from trm_lsp.indexer import index_workspace

        try:
            report = await self._with_own_store(
                lambda store: index_workspace(self.root, store, self.settings, progress, start_method=FORK_SAFE))
        except Exception as exc:
            task.end(f"failed: {exc}")
            self.index_problem = str(exc) or type(exc).__name__
            raise
        symbols = sum(report.symbols_by_kind.values())
        task.end(f"{sum(report.files_by_language.values())} files, {symbols} symbols, "
                 f"{len(report.skipped)} skipped ({report.seconds:.1f} s)")
        for warning in report.warnings:
            self.reporter.notify("warning", f"trm-lsp: {warning}")
        self.search.invalidate(at_once=True)
        self.indexed.set()
        self.reporter.answers_changed()

    async def _distill_forever(self) -> None:
        assert self.distiller is not None
        await self.distiller.run(until_idle=False)

    # -- edits ------------------------------------------------------------------------------------

    def buffer_changed(self, rel: str, text: str) -> None:
        """The editor's buffer changed: re-extract it after a quiet spell (debounced)."""
        edit = self._forget_buffer(rel)
        self._buffers[rel] = text
        loop = asyncio.get_running_loop()
        delay = self.settings.serve.debounce_ms / 1000
        self._debounce[rel] = loop.call_later(delay, lambda: self.spawn(self.extract_buffer(rel, text, edit), "re-extract"))

    async def settle_buffer(self, rel: str) -> None:
        """A hover in a buffer typed in within the quiet spell: extract it now, not after. It
        showed the teacher's answer for the code as it was before the edit, saying nothing of it."""
        handle = self._debounce.pop(rel, None)
        if handle is not None:  # the first hover extracts; one arriving meanwhile waits for it
            handle.cancel()
            self._settling[rel] = asyncio.ensure_future(
                self.extract_buffer(rel, self._buffers[rel], self._buffer_edits.get(rel)))
        settling = self._settling.get(rel)
        if settling is not None:
            try:
                await asyncio.shield(settling)
            finally:
                if settling.done() and self._settling.get(rel) is settling:
                    del self._settling[rel]

    def buffer_closed(self, rel: str) -> None:
        """Closed or saved: the file on disk is what to index. An edit still waiting out its quiet
        spell, or being extracted, is dropped (a rename typed and closed unsaved within it was
        indexed after the close, and its teacher asked about a name that exists nowhere)."""
        self._forget_buffer(rel)
        self._buffers.pop(rel, None)

    def unsaved_buffers(self) -> dict[str, str]:
        """The text of each buffer edited in the editor and not saved since, by path (a copy: it
        is read in a worker thread)."""
        return dict(self._buffers)

    def _forget_buffer(self, rel: str) -> int:
        """Drop the pending extraction of `rel`'s buffer; the number of the edit that is now current."""
        old = self._debounce.pop(rel, None)
        if old is not None:
            old.cancel()
        self._buffer_edits[rel] = self._buffer_edits.get(rel, 0) + 1
        return self._buffer_edits[rel]

    async def extract_buffer(self, rel: str, text: str, edit: int | None = None) -> bool:
        """Re-extract one file from unsaved text; False when its language is not indexed, or when
        `edit` is no longer the buffer's current one once extracted (closed, saved, typed on)."""
        if edit is None or self._buffer_edits.get(rel) == edit:  # not a later edit's, still waiting
            self._debounce.pop(rel, None)
        language = language_for(rel)
        if language is None or language.family == "document":
            return False
        data = text.encode("utf-8")
        job = FileJob(rel, str(self.root / rel), language.id, len(data), -1)
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(None, extract_data, job, data, self.settings)
        if result.skip:
            log.info("buffer %s not extracted: %s", rel, result.skip)
            return False
        if edit is not None and self._buffer_edits.get(rel) != edit:
            return False
        # The buffer's symbols carry their text: the file on disk does not hold it (yet).
        # mtime -1 makes the next scan compare the file on disk again.
        items = [it._replace(text=data[it.start_byte:it.end_byte].decode("utf-8", "replace")) if it.text is None
                 else it for it in result.items]
        with self.store.transaction():
            self.store.replace_file(rel, result.language, len(data), -1, result.sha256, items, result.note,
                                    machine_made=result.machine_made)
        self._symbols_changed()
        return True

    async def files_changed(self, rels: list[str]) -> None:
        """Saved, created or deleted on disk: re-index those files from disk."""
        from trm_lsp.indexer import index_paths

        await self._with_own_store(
            lambda store: index_paths(self.root, rels, store, self.settings, start_method=FORK_SAFE))
        self._symbols_changed()

    def _symbols_changed(self) -> None:
        self.search.invalidate()
        if self.distiller is not None:
            self.distiller.symbols_changed()
        self.reporter.answers_changed()

    # -- distillation events ---------------------------------------------------------------------

    def _on_distill(self, event: DistillEvent) -> None:
        if event.kind == "planned" and event.total:
            if self._distill_task is None:
                self._distill_task = self.reporter.begin("Distilling", cancel=self.pause_distilling)
            self._distill_task.report(event.detail, 0)
        elif event.kind in ("answered", "failed") and self._distill_task is not None:
            pct = int(100 * event.done / event.total) if event.total else None
            self._distill_task.report(f"{event.done}/{event.total} {event.symbol}", pct)
        if event.kind == "answered":
            self._answers_since_training += 1
            self.search.invalidate()
            self._schedule_lens_refresh()
            if self.settings.serve.retrain_after and self._answers_since_training >= self.settings.serve.retrain_after:
                self.spawn(self.maybe_train(force=False), "training")
        elif event.kind == "teacher_down":
            self.reporter.notify("warning", f"trm-lsp: the teacher is not answering ({event.detail}); hovers answer "
                                 f"from the student meanwhile, and the teacher is tried again every "
                                 f"{self.settings.teacher.probe_interval:g} s")
        elif event.kind == "teacher_up":
            self.reporter.notify("info", f"trm-lsp: the teacher is back ({self.teacher_name})")
        if self._distill_task is not None and event.total and event.done >= event.total:
            self._distill_task.end(f"{event.done} answered")
            self._distill_task = None

    def pause_distilling(self) -> None:
        """Cancelled from the editor's progress UI: stop asking until `trm-lsp.distill`."""
        if self.distiller is not None:
            self.distiller.stop()
        if self._distill_task is not None:
            self._distill_task.end("paused")
            self._distill_task = None

    async def resume_distilling(self) -> None:
        """`trm-lsp.distill`: (re)start asking the teacher, failed symbols included."""
        if self.distiller is None:
            self._make_distiller()
            restart = True
        else:
            restart = self.distiller.stopped
            self.distiller.resume()
        self.spawn(self.distiller.replan(retry_failed=True), "planning")
        if restart:
            self._distilling = self.spawn(self._distill_forever(), "distilling")

    async def _unparsed(self, target: Target) -> str:
        """Why a line of a code file has no symbol, when a syntax error is the reason: in the
        editor's unsaved buffer when it has one (what the index holds then), else in the file."""
        language = language_for(target.path) if target.path and target.line else None
        if language is None or language.family != "code":
            return ""
        path, index = self.root / target.path, self.settings.index
        buffer = self._buffers.get(target.path)

        def first_error() -> int | None:
            try:
                data = buffer.encode("utf-8") if buffer is not None else None
                size = len(data) if data is not None else path.stat().st_size
                if size > index.max_file_bytes:  # never indexed: not for a syntax error
                    return None
                with deadline.budget(index.extract_seconds):
                    return syntax_error_line(language.id, data if data is not None else path.read_bytes())
            except (OSError, deadline.TooSlow):  # gone, unreadable or too slow: "no indexed symbol" says enough
                return None

        line = await asyncio.get_running_loop().run_in_executor(None, first_error)
        return (f" ({target.path} has a syntax error at line {line}: a definition it breaks is indexed once it parses)"
                if line is not None else "")

    def _schedule_lens_refresh(self) -> None:
        if self._lens_refresh is None:
            loop = asyncio.get_running_loop()

            def fire() -> None:
                self._lens_refresh = None
                self.reporter.answers_changed()

            self._lens_refresh = loop.call_later(1.0, fire)

    async def explain(self, target: Target, wait: float | None = None) -> Answer:
        """The one way an editor command, an MCP call and `trm-lsp explain` get an answer: the
        symbol the target names (`lookup.find`), moved to the front of the teacher queue when the
        teacher has not answered it yet, answered within `wait` seconds (`serve.explainWaitMs`
        by default). Raises `NotFound`."""
        wait = self.settings.serve.explain_wait_ms / 1000 if wait is None else wait
        symbol = await find(self.store, self.search, target)
        if symbol is None and not self.indexed.is_set():  # asked before the first index is done
            unready = await self.until_indexed(wait)
            if unready:
                raise NotFound(f"no indexed symbol at {target}{'' if self.index_problem else ' yet'}: {unready}")
            symbol = await find(self.store, self.search, target)
        if symbol is None:
            raise NotFound(f"no indexed symbol at {target}{await self._unparsed(target)}")
        if self.distiller is not None and self.engine.samples.best_for(symbol.sha256) is None:
            # Asked for by name, machine-made code is explained too (it is only never queued).
            self.distiller.prioritize(symbol.sha256, add=bool(symbol.machine_made) and symbol.kind in EXPLAINABLE)
        return await self.engine.answer(symbol, wait)

    async def until_indexed(self, wait: float) -> str:
        """Wait at most `wait` seconds for the first index; "" once it is done, else why not."""
        if self.indexed.is_set():
            return ""
        if not self.index_problem:
            try:
                await asyncio.wait_for(self.indexed.wait(), wait)
                return ""
            except asyncio.TimeoutError:
                return "the workspace is still being indexed"
        return f"the workspace could not be indexed ({self.index_problem})"

    def _queue_position(self, sha256: str) -> int | None:
        return self.distiller.position(sha256) if self.distiller is not None else None

    def _teacher_down(self) -> bool:
        return self.distiller is not None and self.distiller.teacher_state == "down"

    @property
    def teacher(self):
        """The teacher client the distiller asks (None while distillation is off)."""
        return self._teacher

    @property
    def teacher_name(self) -> str:
        return self.settings.teacher.model

    # -- the student -----------------------------------------------------------------------------

    async def maybe_train(self, force: bool) -> str:
        """Train the student on the teacher's answers about the code as it is, in a child
        process, then load it."""
        from trm_lsp.serve.training import workspace_records

        if self._train_lock.locked():
            return "training is already running"
        records = workspace_records(self.store)
        if len(records) < (2 if force else _MIN_SAMPLES):
            return f"not enough teacher answers to train on ({len(records)})"
        learnt = frozenset(r.id for r in records)
        if not force and learnt == self._trained_on:  # the answers since were of text edited away since
            self._answers_since_training = 0
            return "no new teacher answers about the code as it is"
        async with self._train_lock:
            self._answers_since_training = 0
            loaded, message = await self._train(records)
            if loaded:
                self._trained_on = learnt
            return message

    async def _train(self, records: list) -> tuple[bool, str]:
        """Train and load; (whether the new student is serving, what to tell the user)."""
        from trm_lsp.serve.training import write_training_file

        samples = len(records)
        data = self.state / "train.jsonl"
        write_training_file(records, data)
        task = self.reporter.begin("Training the student", cancel=self.kill_training)
        task.report(f"{samples} teacher answers", 0)
        failure = await self._training.run(data, self.state / "student", self.settings.serve.train_minutes, task)
        if failure is not None:
            task.end(f"failed: {failure}")
            return False, f"training failed: {failure}"
        loop = asyncio.get_running_loop()
        loaded = await loop.run_in_executor(None, self.student.load)
        self.engine.forget_student_answers()
        self.reporter.answers_changed()
        message = f"student {self.student.version} trained on {samples} answers" if loaded else self.student.problem
        task.end(message)
        return loaded, message

    # -- questions -------------------------------------------------------------------------------

    def status(self) -> dict:
        jobs = self.distiller.jobs.counts() if self.distiller is not None else {}
        return {
            "workspace": str(self.root),
            "version": __version__,
            "queue": jobs.get("pending", 0),
            "failed": jobs.get("failed", 0),
            "teacher": {"model": self.teacher_name, "backend": self.settings.teacher.backend,
                        "state": self._teacher_state(),
                        "hosts": self._teacher.status() if hasattr(self._teacher, "status") else None,
                        "live": self.live.status() if self.live is not None else None},
            "samples": self.engine.samples.count(),
            "shared_answers": (self.distiller.shared.status() if self.distiller is not None
                               and self.distiller.shared is not None else None),
            "student": {"version": self.student.version, "problem": self.student.problem,
                        "training": self._train_lock.locked(), "blas": active_blas()},
            "indexed": self.indexed.is_set(),
            "mcp_url": self.mcp_url,
        }


def _process_start(pid: int) -> str:
    """When the process started (Linux: its start time in clock ticks since boot; "" elsewhere):
    with the pid, what tells a live daemon from another process that has its old pid now."""
    fields = proc_stat(pid)
    return fields[19] if fields is not None and len(fields) > 19 else ""


def _live_record(path: Path) -> dict | None:
    """The daemons/<pid>.json record of a daemon still running, else None (the record removed:
    its daemon was killed, and its pid may be another process's by now)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        pid = int(record["pid"])
        os.kill(pid, 0)
        if record.get("boot") and record["boot"] != _process_start(pid):
            raise ProcessLookupError(pid)
        return record
    except (OSError, ValueError, KeyError, TypeError):
        path.unlink(missing_ok=True)
        return None
