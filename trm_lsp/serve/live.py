"""Free-form MCP questions put to the teacher as they are asked ("answered live").

A chat question with no stored answer behind it is worth a teacher call, but never at the cost
of the chat: one live question at a time (others are answered from the stored answers at once,
and a teacher with one slot is not handed a queue of questions that will be abandoned), each
waited on for at most `LIVE_SECONDS`, and after a call that failed or timed out none for
`QUIET_SECONDS`, so a hung teacher costs one question its wait, not every question."""

from __future__ import annotations

import asyncio
import logging
import time

from trm_lsp.distill.teacher import Reply, Teacher, TeacherError, vetted

log = logging.getLogger(__name__)

LIVE_SECONDS = 30.0
QUIET_SECONDS = 300.0


class LiveTeacher:
    def __init__(self, timeout: float, clock=time.monotonic) -> None:
        self.seconds = min(LIVE_SECONDS, timeout)
        self._clock = clock
        self._busy = asyncio.Lock()
        self._quiet_until = 0.0
        self.last_problem = ""
        self.answered = 0  # replies used: the teacher is up, whatever the distiller has yet asked

    def available(self) -> bool:
        return not self._busy.locked() and self._clock() >= self._quiet_until

    def status(self) -> dict:
        """For `status`: whether chat questions are put to the teacher now, and why not."""
        resting = max(0.0, self._quiet_until - self._clock())
        state = "asking" if self._busy.locked() else "resting" if resting else "ready"
        return {"state": state, "resting_s": round(resting), "last_problem": self.last_problem}

    async def ask(self, teacher: Teacher, messages: list[dict], question: str = "") -> Reply | None:
        """The teacher's reply, or None when it is busy with another live question, resting
        after a failure, or fails now (said once in the log, with why)."""
        if not self.available():
            return None
        async with self._busy:
            try:
                reply = await asyncio.wait_for(teacher.explain(messages), self.seconds)
            except Exception as exc:  # down, slow or junk: the stored answers stand
                self.last_problem = (f"no answer within {self.seconds:g} s" if isinstance(exc, asyncio.TimeoutError)
                                     else str(exc) or type(exc).__name__)
                self._quiet_until = self._clock() + QUIET_SECONDS
                log.info("live teacher answer unavailable (%s); questions are answered from stored answers "
                         "for the next %g s", self.last_problem, QUIET_SECONDS)
                return None
            try:  # a reply in another script, or one that loops: this question only, no rest
                reply = vetted(reply, question or messages[-1]["content"])[0]  # the user's language, not the code's
            except TeacherError as exc:
                self.last_problem = str(exc)
                log.info("live teacher answer not used (%s); answered from stored answers", exc)
                return None
            self.answered += 1
            return reply
