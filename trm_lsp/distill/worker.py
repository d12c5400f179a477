"""The distiller: takes jobs off the persistent queue and asks the teacher, under a concurrency
limit, a per-call timeout, retries with exponential backoff and jitter, and a circuit breaker.

A teacher answer is committed (sample written, job removed, one transaction) before the job
counts as done, so a kill at any moment loses nothing and never writes a sample twice. Progress
goes out through `on_event`, which the CLI turns into a progress bar and the daemon into
`$/progress`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from trm_lsp.config import TeacherSettings
from trm_lsp.distill.context import ContextIndex
from trm_lsp.distill.plan import plan
from trm_lsp.distill.prompts import EXPLAINABLE, PROMPT_VERSION, build_prompt
from trm_lsp.distill.shared import SharedAnswers
from trm_lsp.distill.teacher import Teacher, TeacherError, TeacherUnavailable, capped, vetted
from trm_lsp.interpreter import protect_children, python_argv
from trm_lsp.store import Store, symbols
from trm_lsp.store.jobs import Jobs
from trm_lsp.store.samples import Sample, Samples

log = logging.getLogger(__name__)

#: New symbol texts after a re-index up to which they are queued as they come, without a plan.
_QUEUED_AS_THEY_ARE = 32
#: Seconds at least between two rebuilds of the prompts' context after edits (`_rebuild_context`).
_CONTEXT_EVERY = 5.0
#: Seconds between two re-queuings of the symbols the teacher gave up on (`_ask_again_what_failed`).
_RETRY_FAILED_EVERY = 600.0


@dataclass
class DistillEvent:
    kind: str  # planned | answered | retry | failed | cancelled | teacher_down | teacher_up
    done: int
    total: int
    symbol: str = ""
    detail: str = ""


@dataclass
class DistillStats:
    explainable: int = 0
    cached: int = 0
    asked: int = 0
    answered: int = 0
    retries: int = 0
    failed: Counter = field(default_factory=Counter)  # reasons of the symbols given up on
    errors: Counter = field(default_factory=Counter)  # reasons of every attempt that failed, retried or not
    cancelled: int = 0
    cut: int = 0  # answers longer than teacher.maxAnswerChars / maxReasoningChars, stored cut
    repeats: int = 0  # answers that wrote a sentence again, stored without it and what followed
    tokens: int = 0
    teacher_seconds: float = 0.0
    seconds: float = 0.0
    stopped: str = ""

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.teacher_seconds if self.teacher_seconds else 0.0


class Distiller:
    def __init__(self, store: Store, teacher: Teacher, settings: TeacherSettings,
                 on_event: Callable[[DistillEvent], None] | None = None) -> None:
        self.store = store
        self.teacher = teacher
        self.settings = settings
        self.jobs = Jobs(store, teacher.name, PROMPT_VERSION)
        self.samples = Samples(store)
        self.on_event = on_event or (lambda event: None)
        self.stats = DistillStats()
        #: Published answers looked up before the teacher is asked (`teacher.sharedAnswers`).
        self.shared = SharedAnswers(settings, teacher.name, store) if settings.shared_answers else None
        self._shared_asked: set[str] = set()  # looked up by `import_shared`: not again per job
        self._context: ContextIndex | None = None
        self._gave_up = False  # a job failed for good since the failed ones were last queued again
        self._retried_failed_at = -_RETRY_FAILED_EVERY
        self._context_stale, self._context_built = False, -_CONTEXT_EVERY
        self._inflight: dict[str, asyncio.Future] = {}  # sha256 -> the teacher call
        self._changed: set[str] = set()
        self._wake = asyncio.Event()
        self._down_streak = 0
        self._heard_from = False  # the teacher has answered, or refused, at least once
        self._breaker_open = False
        self._stop_when_down = False  # `run(stop_when_down=True)`: the CLI stops, not waits, when the teacher goes down
        self._breaker_closed = asyncio.Event()
        self._breaker_closed.set()
        self._probe_lock = asyncio.Lock()
        self._total = 0
        self._done = 0
        self._stop = False
        self._plan_lock = asyncio.Lock()
        self._replan_task: asyncio.Future | None = None
        self._plan_wanted = False
        self._retry_failed = False

    # -- planning and the API the LSP uses ---------------------------------------------------

    def plan(self, retry_failed: bool = True) -> dict[str, int]:
        counts = plan(self.store, self.jobs, retry_failed)
        self._take_plan(counts)
        return counts

    def _rebuild_context(self) -> None:
        """The prompts' context (callees, types, documents) from the index as it is now: on the
        event loop, as the plan does (110 ms on 17,000 symbols), so at most every
        `_CONTEXT_EVERY` seconds however often edits are queued (`symbols_changed`)."""
        self._context = ContextIndex(self.store)
        self._context_stale, self._context_built = False, time.monotonic()

    def _take_plan(self, counts: dict[str, int]) -> None:
        """After planning: the prompt context of the new index, the counts, wake the workers."""
        self._rebuild_context()
        self.stats.explainable, self.stats.cached = counts["explainable"], counts["cached"]
        self._total = counts["pending"]
        self._emit("planned", detail=f"{counts['pending']} to ask, {counts['cached']} cached")
        self._wake.set()

    def prioritize(self, sha256: str, add: bool = False) -> bool:
        """The user is looking at this symbol: ask about it next (`add`: even if it was never
        queued, machine-made code the user asked about)."""
        if add and self.jobs.add_urgent(sha256):
            self._total += 1
        moved = self.jobs.prioritize(sha256)
        self._wake.set()
        return moved

    def position(self, sha256: str) -> int | None:
        return self.jobs.position(sha256)

    def symbols_changed(self) -> None:
        """After a re-index: drop jobs for text that is gone, cancel calls in flight for symbols
        that changed under them, and queue the new texts. An edit's few new texts go to the head of
        the queue as they are (two SQL statements); only many new ones (a checkout, a generator)
        are worth a whole plan, which orders callees first: that reads every file in a child
        process, 1.8 s of CPU on a 16,000-symbol workspace, and run after every pause in typing
        it took a core and slowed the hover on the edited function to 1.7 s (a probe, stop 41)."""
        with self.store.transaction():
            stale = self.jobs.cancel_stale()
            added = self.jobs.enqueue_missing(EXPLAINABLE)
        for sha in stale:
            call = self._inflight.get(sha)
            if call is not None:  # counted by the worker when the call unwinds
                self._changed.add(sha)
                call.cancel()
            else:
                self.stats.cancelled += 1
        if added > _QUEUED_AS_THEY_ARE:
            self._replan_task = asyncio.ensure_future(self.replan())  # held: a bare task may be collected
        elif added:
            self._total += added
            self._context_stale = True
            self._wake.set()

    async def replan(self, retry_failed: bool = False) -> None:
        """`plan()` in a child process: on a large workspace it reads every file for the call
        graph (seconds of pure Python and ~1 GB transient), which must hold up neither hovers
        (the GIL) nor the daemon's memory. Requests that arrive while one runs are coalesced."""
        self._plan_wanted = True
        self._retry_failed = self._retry_failed or retry_failed
        if self._plan_lock.locked():  # the run in progress takes our request: wait for it
            async with self._plan_lock:
                return
        async with self._plan_lock:
            while self._plan_wanted:
                self._plan_wanted, retry, self._retry_failed = False, self._retry_failed, False
                counts = await _plan_in_child(self.store, self.teacher.name, retry)
                self._done = 0  # progress counts from this plan
                self._take_plan(counts)

    def stop(self) -> None:
        self._stop = True
        self._wake.set()

    @property
    def stopped(self) -> bool:
        return self._stop

    def resume(self) -> None:
        """Undo `stop()` before calling `run()` again."""
        self._stop = False

    @property
    def teacher_state(self) -> str:
        """"down" while the breaker is open; "up" once the teacher has replied (an answer, an
        error of its own, a probe); before that "not asked yet", not a guess of "up"."""
        if self._breaker_open:
            return "down"
        return "up" if self._heard_from else "not asked yet"

    async def close(self) -> None:
        if self.shared is not None:
            await self.shared.close()

    async def import_shared(self) -> int:
        """Every pending job's published answer, before any worker asks the teacher: lookups
        run `teacher.sharedConcurrency` at once, each answer committed with its job done."""
        if self.shared is None:
            return 0
        before = self.shared.stats.imported
        self._shared_asked = set(self.jobs.pending_shas())
        pending = iter(list(self._shared_asked))

        async def take_in_turn() -> None:  # a few workers, not a task per job (70,000 on a large workspace)
            for sha in pending:
                await self._take_shared(sha)

        await asyncio.gather(*(take_in_turn() for _ in range(max(1, self.settings.shared_concurrency))))
        return self.shared.stats.imported - before

    async def _take_shared(self, sha256: str) -> None:
        sym = symbols.by_sha(self.store, sha256)
        text = symbols.text_of(self.store, sym) if sym is not None else None
        if sym is None or text is None or self.shared is None:
            return
        sample = await self.shared.lookup(sym, text)
        if sample is not None:
            self._keep_shared(sample, None)

    def _keep_shared(self, sample: Sample, job) -> None:
        """A published answer, committed with its job done (claimed `job`, or found by key)."""
        with self.store.transaction():
            self.samples.add(sample)
            if job is not None:
                self.jobs.done(job)
            else:
                self.jobs.done_for(sample.sha256)
        self._done += 1
        self._emit("answered", sample.symbol, "shared")

    # -- running -------------------------------------------------------------------------------

    async def run(self, limit: int | None = None, until_idle: bool = True, stop_when_down: bool = False) -> DistillStats:
        """Work the queue. `until_idle`: return when nothing is left (the CLI); else keep
        waiting for new jobs (the daemon). `stop_when_down`: return when the breaker opens."""
        if self._context is None:
            await self.replan()
        started = time.perf_counter()
        await self.import_shared()
        budget = [limit if limit is not None else -1]
        self._stop_when_down = stop_when_down
        workers = [asyncio.create_task(self._worker(budget, until_idle), name=f"distill-{n}")
                   for n in range(max(1, getattr(self.teacher, "slots", self.settings.concurrency)))]
        try:
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            self.stats.seconds += time.perf_counter() - started
        return self.stats

    async def _worker(self, budget: list[int], until_idle: bool) -> None:
        while not self._stop:
            if self._breaker_open:
                if self._stop_when_down:
                    self.stats.stopped = "teacher down"
                    return
                await self._wait_for_teacher()
                continue
            if budget[0] == 0:
                return
            job = self.jobs.claim()
            if job is None:
                planning = self._plan_wanted or self._plan_lock.locked()  # new jobs are on their way
                if until_idle and not self._inflight and not planning and self.jobs.next_due() is None:
                    self._wake.set()  # let the other workers see it too
                    return
                await self._sleep_until_due()
                continue
            budget[0] -= 1
            try:
                await self._handle(job)
            finally:
                self._inflight.pop(job.sha256, None)
                self._changed.discard(job.sha256)
                self._wake.set()

    async def _sleep_until_due(self) -> None:
        due = self.jobs.next_due()
        timeout = 3600.0 if due is None else max(0.0, due - time.time())
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=min(timeout, 3600.0) + 0.01)
        except asyncio.TimeoutError:
            pass

    async def _handle(self, job) -> None:
        sym = symbols.by_sha(self.store, job.sha256)
        text = symbols.text_of(self.store, sym)
        if sym is None or text is None:  # changed since it was indexed: the next index plans again
            with self.store.transaction():
                self.jobs.done(job)
            self._emit("cancelled", detail="symbol changed since indexing")
            return
        if self.shared is not None and job.sha256 not in self._shared_asked:  # planned since
            shared = await self.shared.lookup(sym, text)
            if shared is not None:
                self._keep_shared(shared, job)
                return
        if self._context_stale and time.monotonic() - self._context_built >= _CONTEXT_EVERY:
            self._rebuild_context()  # edits queued since the plan: their callees, their signatures
        prompt = build_prompt(sym, text, self._context, self.settings.context_tokens,  # type: ignore[arg-type]
                              self.settings.max_input_chars)
        self.stats.asked += 1
        call = asyncio.ensure_future(asyncio.wait_for(self.teacher.explain(prompt.messages), self.settings.timeout))
        self._inflight[job.sha256] = call
        try:
            # Capped first: the checks read at most what would be stored.
            answer, repeats = vetted(capped(await call, self.settings), text)
        except asyncio.CancelledError:
            if job.sha256 not in self._changed:
                raise  # we are being stopped
            self.stats.cancelled += 1
            self._emit("cancelled", sym.qualname, "symbol changed while the teacher was answering")
            return
        except TeacherUnavailable as exc:
            self.jobs.release(job)
            self._teacher_down(str(exc))
            return
        except (TeacherError, asyncio.TimeoutError) as exc:
            reason = str(exc) or f"no answer within {self.settings.timeout:g} s"
            self._down_streak = 0
            self._heard_from = self._heard_from or isinstance(exc, TeacherError)
            delay = min(self.settings.backoff_max, self.settings.backoff_initial * 2 ** job.attempts)
            delay *= random.uniform(0.5, 1.5)
            with self.store.transaction():
                failed = self.jobs.retry_later(job, reason, delay, self.settings.max_attempts)
            cause = reason.split(":")[0]
            self.stats.errors[cause] += 1
            if failed:
                self.stats.failed[cause] += 1
                self._done += 1
                self._gave_up = self._gave_up or Jobs.outage(reason)
                self._emit("failed", sym.qualname, reason)
            else:
                self.stats.retries += 1
                self._emit("retry", sym.qualname, reason)
            return
        if answer.cut:
            self.stats.cut += 1
            log.warning("%s: the teacher's answer was longer than the caps; stored cut", sym.qualname)
        if repeats:
            self.stats.repeats += 1
            log.info("%s: the teacher wrote a sentence again; %d sentence(s) from there on dropped", sym.qualname, repeats)
        sample = Sample(
            sha256=job.sha256, teacher=self.teacher.name, prompt_version=PROMPT_VERSION, path=sym.path,
            language=sym.language, kind=sym.kind, symbol=sym.qualname, start_line=sym.start_line,
            end_line=sym.end_line, input=text, reasoning=answer.reasoning, output=answer.output,
            tokens=answer.tokens, seconds=answer.seconds,
        )
        with self.store.transaction():  # committed before the job counts as done
            self.samples.add(sample)
            self.jobs.done(job)
        self._down_streak = 0
        self._heard_from = True
        self._ask_again_what_failed()
        self.stats.answered += 1
        self.stats.tokens += answer.tokens
        self.stats.teacher_seconds += answer.seconds
        self._done += 1
        self._emit("answered", sym.qualname)

    def _ask_again_what_failed(self) -> None:
        """The teacher answers (again): queue once more what it gave up on while it was failing (a
        model runner restarting answers 500 for a while; four tries in 15 s were spent on it, and
        the symbol then waited for the next start). Only what a server error failed
        (`Jobs.outage`): a prompt too long for the model fails the same way every time. At most
        every `_RETRY_FAILED_EVERY` seconds."""
        if not self._gave_up or time.monotonic() - self._retried_failed_at < _RETRY_FAILED_EVERY:
            return
        self._gave_up, self._retried_failed_at = False, time.monotonic()
        with self.store.transaction():
            retried = self.jobs.retry_failed(outages_only=True)
        if retried:
            log.info("the teacher answers again: asking again about the %d symbols it gave up on", retried)
            self._total += retried
            self._wake.set()

    # -- the circuit breaker -------------------------------------------------------------------

    def _teacher_down(self, reason: str) -> None:
        self._down_streak += 1
        if self._down_streak >= self.settings.breaker_failures and not self._breaker_open:
            self._breaker_open = True
            self._breaker_closed.clear()
            if not self._stop_when_down:  # else the caller stops, and says so (`distill`: "stopped: teacher down")
                log.warning("teacher unavailable: %s; trying again every %g s", reason, self.settings.probe_interval)
            self._emit("teacher_down", detail=reason)

    async def _wait_for_teacher(self) -> None:
        if self._probe_lock.locked():
            await self._breaker_closed.wait()
            return
        async with self._probe_lock:
            while self._breaker_open and not self._stop:
                await asyncio.sleep(self.settings.probe_interval)
                try:
                    await self.teacher.check()
                except TeacherUnavailable:
                    continue  # still down: no log line per probe
                self._breaker_open = False
                self._down_streak = 0
                self._heard_from = True
                self._ask_again_what_failed()
                self._breaker_closed.set()
                log.info("teacher %s is back", self.teacher.name)
                self._emit("teacher_up")

    def _emit(self, kind: str, symbol: str = "", detail: str = "") -> None:
        try:
            self.on_event(DistillEvent(kind, self._done, self._total, symbol, detail))
        except Exception:  # a broken progress listener must not stop distillation
            log.exception("progress listener failed")


async def _plan_in_child(store: Store, teacher: str, retry_failed: bool) -> dict[str, int]:
    """Run `plan()` in a fresh interpreter (stdin closed, the counts as JSON on stdout)."""
    proc = await asyncio.create_subprocess_exec(
        *python_argv("trm_lsp.distill.plan", str(store.path), str(store.workspace), teacher,
                     "1" if retry_failed else "0"),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=protect_children(dict(os.environ)))
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"planning failed: {err.decode(errors='replace').strip().splitlines()[-1:]}")
    return json.loads(out)
