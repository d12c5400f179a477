"""The answer engine: the teacher's sample for this exact text, else the student, else the
structure alone, each answer saying where it came from and why.

Hover, code lens, `trm-lsp explain` and MCP all ask here. The student runs on one dedicated
thread (MLX graphs are not shared between threads) and its answers are cached per text hash, so a
symbol costs one student call until its text changes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from trm_lsp.distill.prompts import EXPLAINABLE
from trm_lsp.extract.languages import BY_ID
from trm_lsp.store import Store, symbols
from trm_lsp.store.symbols import Symbol
from trm_lsp.store.samples import Samples
from trm_lsp.student import LABEL
from trm_lsp.student.code_input import with_doc
from trm_lsp.student.doc_prose import doc_sentence
from trm_lsp.textutil import first_paragraph, sentences

if TYPE_CHECKING:
    from trm_lsp.student.infer import Explanation  # MLX loads only when a student does

log = logging.getLogger(__name__)

_CACHE_SIZE = 20_000
_WARM_LIMIT = 500  # symbols waiting to be explained ahead of time


@dataclass
class Answer:
    symbol: str
    kind: str
    path: str
    line: int  # 1-based
    signature: str
    text: str
    source: str  # "teacher" | "student" | "structure"
    teacher: str = ""
    created_at: float = 0.0
    reasoning: str = ""
    note: str = ""
    language: str = ""  # of the symbol's file: how a client highlights its code
    sha256: str = ""  # of the symbol's text: the key of its teacher answer and its teacher job

    def provenance(self, age_sep: str = ", ") -> str:
        """One line: who answered, how long ago, or why nobody has yet. `age_sep` goes before a
        teacher answer's age (the demo's narrow column puts it on a line of its own)."""
        if self.source == "teacher":
            return f"teacher {self.teacher}{age_sep}{_age(time.time() - self.created_at)} ago"
        if self.source == "student":
            return LABEL + (f" ({self.note})" if self.note else "")
        return f"not yet explained: {self.note}" if self.note else "not yet explained"

    def as_dict(self) -> dict:
        return {"symbol": self.symbol, "kind": self.kind, "path": self.path, "line": self.line,
                "signature": self.signature, "explanation": self.text, "source": self.source,
                "teacher": self.teacher, "reasoning": self.reasoning, "provenance": self.provenance()}


def not_asked(kind: str) -> str:
    """Why no teacher will explain a symbol of this kind ("" when one will): a hover or `explain`
    that said "not queued", or "`trm-lsp distill` asks it", of a constant promised what never comes."""
    article = "an" if kind[:1] in "aeiou" else "a"
    return "" if kind in EXPLAINABLE else f"the teacher is not asked about {article} {kind}: it is context for the code that uses it"


def not_queued(machine_made: str | None) -> str:
    """Why a symbol of a machine-made file is in no queue ("" for code people wrote): said only
    after a queue position or a give-up, since a user may have asked for it by name."""
    return f"the teacher is not asked about code a machine wrote: this file is {machine_made}" if machine_made else ""


def _age(seconds: float) -> str:
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit}"
    return f"{int(seconds)} s"


def first_sentence(text: str, limit: int = 300) -> str:
    return next(iter(sentences(first_paragraph(text))), "")[:limit]


def structure_text(sym: Symbol) -> str:
    """What the index alone can say: kind, name and the docstring's first sentence (the
    signature is shown beside every answer anyway); of a document's section, page or diagram,
    how its own text begins."""
    text = structure_head(sym)
    if is_document(sym) and sym.text:
        body = sym.text.split("\n", 1)[1] if sym.text.startswith(sym.name + "\n") else sym.text
        opening = " ".join(body.split())
        return f"{text} It begins: \"{opening[:200]}{' …' if len(opening) > 200 else ''}\"" if opening else text
    sentence = doc_sentence(sym.doc or "", sym.language)
    if sentence:
        text += f" {sentence}"
    return text


def structure_head(sym: Symbol) -> str:
    """How the structure answer begins: its kind and name ("Method `Daemon.spawn`.")."""
    return f"{sym.kind.capitalize()} `{sym.qualname}`."


def is_document(sym: Symbol) -> bool:
    """A PDF page, a DOCX section, a diagram page or an image: prose the student, trained to
    explain code, would explain as if it were a function ("Return the capacity of the stack."
    for a design document's section)."""
    language = BY_ID.get(sym.language)
    return language is not None and language.family == "document"


class StudentSlot:
    """The loaded student (or why there is none), swapped in place when a new checkpoint lands.

    Until the workspace has a student of its own, the pretrained base shipped with the package
    answers (no teacher answers to read yet, but readable from the first minute)."""

    def __init__(self, directory: Path, base: Path | None = None) -> None:
        from trm_lsp.student.checkpoint import shipped_base

        self.directory = directory
        self.base = base if base is not None else shipped_base()
        self.student = None
        self.problem = "no student trained yet"
        self.version = ""
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="student")

    def load(self, here: bool = False) -> bool:
        """Load (or reload) the checkpoint; on failure keep the previous student and say why.

        `here`: on the calling thread. A process that exits normally must have read the MLX
        checkpoint on its main thread: read on a worker, MLX's thread state aborts the exit
        ("terminate called without an active exception") about half the time. The daemon
        reads on the student's thread and leaves with os._exit."""
        own = (self.directory / "config.json").exists() or self.directory.with_name(
            self.directory.name + ".old").exists()
        if not own and self.base is None:
            self.problem = "no student trained yet"
            return False
        try:
            from trm_lsp.student.infer import Student  # MLX loads only when a checkpoint exists

            load = (lambda: Student.load(self.directory)) if own else (lambda: Student.load(self.base, memory=[]))
            student = load() if here else self.executor.submit(load).result()
        except Exception as exc:  # CheckpointError and whatever a damaged file raises
            self.problem = f"student checkpoint unusable: {str(exc) or type(exc).__name__}"
            log.warning("%s", self.problem)
            return False
        self.student, self.version, self.problem = student, student.version, ""
        return True

    async def run(self, work, *args):
        """`work(*args)` on the student's thread (MLX and the numpy engine are used from one
        thread only), awaited from the loop."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, work, *args)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


class AnswerEngine:
    def __init__(self, store: Store, student: StudentSlot, queue_position=None, teacher_down=None) -> None:
        self.store = store
        self.samples = Samples(store)
        self.student = student
        #: sha256 -> position in the teacher queue (None when not queued); set by the daemon.
        self.queue_position = queue_position or (lambda sha: None)
        #: () -> whether the teacher is not answering, so the queue does not move; set by the daemon.
        self.teacher_down = teacher_down or (lambda: False)
        self._student_cache: OrderedDict[str, Explanation] = OrderedDict()
        self._pending: dict[str, asyncio.Future] = {}
        self._warm_queue: deque[Symbol] = deque()
        self._warm_wake = asyncio.Event()

    def cached(self, sym: Symbol) -> Answer | None:
        """The teacher's or the student's answer if one is at hand: never waits."""
        sample = self.samples.best_for(sym.sha256)
        if sample is not None:
            return self._answer(sym, sample.output, "teacher", teacher=sample.teacher,
                                created_at=sample.created_at, reasoning=sample.reasoning)
        explanation = self._student_cache.get(sym.sha256)
        if explanation is not None:
            return self._from_student(sym, explanation)
        return None

    def at_hand(self, sym: Symbol) -> Answer:
        """A cached answer, else the structure's: for a place that cannot wait for the student."""
        return self.cached(sym) or self._structure(sym, "")

    async def answer(self, sym: Symbol, wait: float) -> Answer:
        """The best answer within `wait` seconds: a cached one, else the student's, else the
        structure with the reason (no student yet, student still thinking)."""
        found = self.cached(sym)
        if found is not None:
            return found
        if is_document(sym):
            return self._structure(sym, "the student explains code, not documents")
        if self.student.student is None:
            return self._structure(sym, self.student.problem)
        try:
            explanation = await asyncio.wait_for(asyncio.shield(self._student_call(sym)), wait)
        except asyncio.TimeoutError:
            return self._structure(sym, "the student is still thinking")
        except Exception as exc:  # a student failure costs this answer, never the hover
            log.exception("student failed on %s", sym.qualname)
            return self._structure(sym, f"student failed: {exc}")
        return self._from_student(sym, explanation)

    def _from_student(self, sym: Symbol, explanation) -> Answer:
        """The student's answer, or, where its gate says the answer would likely not read well or
        it said the same of another symbol, the structure and the closest symbol the teacher
        explained, saying the student declined and why."""
        if not explanation.declined:
            return self._answer(sym, explanation.text, "student", note=self._queue_note(sym))
        if explanation.doc:  # the structure says it: kind, name and the doc's first sentence
            return self._structure(sym, "from its doc comment (until it has learnt from this workspace's teacher "
                                        "answers, the student answers only for symbols without one)")
        why = (f"its answer does not say \"{explanation.unlike_doc}\" as the doc comment does" if explanation.unlike_doc
               else f"it would say of this what it said of `{explanation.same_as}`" if explanation.same_as
               else f"its answer would say nothing (\"{explanation.says_nothing}\")" if explanation.says_nothing
               else "its answer would likely not read well")
        answer = self._structure(sym, f"the student declined: {why}")
        if explanation.neighbour and explanation.neighbour_answer:
            answer.text += (f"\n\nClosest explained symbol: `{explanation.neighbour}` (teacher): "
                            f"{first_sentence(explanation.neighbour_answer)}")
        return answer

    def warm(self, rows: list[Symbol]) -> None:
        """Have the student explain these symbols in the background (a file just opened),
        newest request first, one at a time so a hover never queues behind a whole file."""
        if self.student.student is None:
            return
        fresh = [r for r in rows if r.sha256 not in self._student_cache and not is_document(r)]
        self._warm_queue.extendleft(reversed(fresh))
        while len(self._warm_queue) > _WARM_LIMIT:
            self._warm_queue.pop()
        self._warm_wake.set()

    async def run_warmer(self) -> None:
        while True:
            await self._warm_wake.wait()
            self._warm_wake.clear()
            while self._warm_queue and self.student.student is not None:
                sym = self._warm_queue.popleft()
                if sym.sha256 in self._student_cache or self.samples.best_for(sym.sha256) is not None:
                    continue
                try:
                    await self._student_call(sym)
                except Exception as exc:  # one symbol the student cannot do: the rest go on
                    log.debug("warming %s failed: %s", sym.qualname, exc)

    def forget_student_answers(self) -> None:
        """A new student checkpoint: its answers replace the old one's as they are asked for."""
        self._student_cache.clear()

    def _student_call(self, sym: Symbol) -> asyncio.Future:
        sha = sym.sha256
        pending = self._pending.get(sha)
        if pending is not None:
            return pending
        text = with_doc(symbols.text_of(self.store, sym) or "", sym.doc or "", sym.language)
        student = self.student.student
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.student.executor, lambda: student.explain(
            text, sym.name, symbol=sym.qualname, kind=sym.kind, language=sym.language, doc=sym.doc or ""))

        def done(fut: asyncio.Future) -> None:
            self._pending.pop(sha, None)
            if not fut.cancelled() and fut.exception() is None:
                self._student_cache[sha] = fut.result()
                while len(self._student_cache) > _CACHE_SIZE:
                    self._student_cache.popitem(last=False)

        future.add_done_callback(done)
        self._pending[sha] = future
        return future

    def _queue_note(self, sym: Symbol) -> str:
        position = self.queue_position(sym.sha256)
        return f"teacher queue position {position}{self._stalled()}" if position is not None else self._unqueued(sym)

    def _unqueued(self, sym: Symbol) -> str:
        """Why a symbol with no queue position has none ("" when nothing says why)."""
        return not_asked(sym.kind) or self._given_up(sym) or not_queued(sym.machine_made)

    def _given_up(self, sym: Symbol) -> str:
        """Why a symbol is in no queue when the teacher tried it and gave up ("" otherwise): a
        hover said only "not queued" after a short outage spent its tries."""
        from trm_lsp.store.jobs import Jobs
        from trm_lsp.textutil import summary

        last = Jobs.last_try(self.store, sym.sha256)
        if last is None or last[0] != "failed":
            return ""
        return (f"the teacher gave up on it after {last[1]} {'try' if last[1] == 1 else 'tries'} "
                f"({summary(last[2], 120)}); asked again once it answers again, or by `trm-lsp.distill`")

    def _stalled(self) -> str:
        """A queue position promises an answer to come: not while the teacher is down."""
        return ", the teacher is not answering" if self.teacher_down() else ""

    def _structure(self, sym: Symbol, reason: str) -> Answer:
        """The index's own answer, noting the teacher queue and why the student did not answer."""
        position = self.queue_position(sym.sha256)
        queued = f"queued, position {position}{self._stalled()}" if position is not None else (
            self._unqueued(sym) or "not queued")
        return self._answer(sym, structure_text(sym), "structure", note=f"{queued}; {reason}" if reason else queued)

    @staticmethod
    def _answer(sym: Symbol, text: str, source: str, **extra) -> Answer:
        return Answer(symbol=sym.qualname, kind=sym.kind, path=sym.path, line=sym.start_line,
                      signature=sym.signature or "", text=text, source=source, language=sym.language,
                      sha256=sym.sha256, **extra)
