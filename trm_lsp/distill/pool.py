"""Several teacher servers of one model used as one (`teacher.hosts`).

One Ollama server answers one request at a time per model, so a team's second GPU box, or a
second llama.cpp process, only helps if requests are spread over both. Each call goes to the
least busy server (calls in flight over its concurrency) that has a free slot and is not down;
a server that fails to answer `breaker_failures` times in a row is down for `probe_interval`
seconds, and the call that found it down goes straight to another, so a dead server costs no
answer and a slow one, its slots busy longer, gets fewer calls. Only when every server is down
does the pool say so (`TeacherUnavailable`), and the distiller's own breaker takes over.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time

from trm_lsp.config import TeacherSettings
from trm_lsp.distill.teacher import Reply, Teacher, TeacherUnavailable


@dataclasses.dataclass
class Member:
    teacher: Teacher
    concurrency: int
    inflight: int = 0
    answered: int = 0
    failures: int = 0  # in a row
    down_until: float = 0.0
    last_error: str = ""

    def load(self) -> float:
        return self.inflight / self.concurrency

    def up(self) -> bool:
        return time.monotonic() >= self.down_until


class TeacherPool:
    """A `Teacher` made of several; `slots` is how many calls the distiller may have in flight."""

    def __init__(self, settings: TeacherSettings) -> None:
        from trm_lsp.distill.teacher import make_teacher

        self.settings = settings
        self.members = [Member(make_teacher(dataclasses.replace(
            settings, host=h.url, backend=h.backend or settings.backend, concurrency=h.concurrency, hosts=[])),
            h.concurrency) for h in settings.hosts]
        self.name = settings.model
        self.host = ", ".join(m.teacher.host for m in self.members)
        self.slots = sum(m.concurrency for m in self.members)
        self._freed = asyncio.Condition()

    async def check(self) -> None:
        """Fine when any server answers; else every server's reason."""
        reasons = []
        for member in self.members:
            try:
                await member.teacher.check()
                return
            except TeacherUnavailable as exc:
                reasons.append(str(exc))
        raise TeacherUnavailable("no teacher server answers: " + "; ".join(reasons))

    async def explain(self, messages: list[dict]) -> Reply:
        tried: set[int] = set()
        while True:
            member = await self._take(tried)
            try:
                reply = await member.teacher.explain(messages)
            except TeacherUnavailable as exc:
                self._failed(member, str(exc))
                tried.add(id(member))
                continue
            finally:
                await self._give_back(member)
            member.failures = 0
            member.answered += 1
            return reply

    async def close(self) -> None:
        for member in self.members:
            await member.teacher.close()

    def status(self) -> list[dict]:
        return [{"host": m.teacher.host, "concurrency": m.concurrency, "in_flight": m.inflight,
                 "answered": m.answered, "state": "up" if m.up() else "down", "last_error": m.last_error}
                for m in self.members]

    async def _take(self, tried: set[int]) -> Member:
        """A slot on the least busy server that is up and not tried for this call yet."""
        async with self._freed:
            while True:
                usable = [m for m in self.members if m.up() and id(m) not in tried]
                if not usable:
                    reasons = "; ".join(f"{m.teacher.host}: {m.last_error or 'down'}" for m in self.members)
                    raise TeacherUnavailable(f"every teacher server is down ({reasons})")
                free = [m for m in usable if m.inflight < m.concurrency]
                if free:
                    member = min(free, key=Member.load)
                    member.inflight += 1
                    return member
                await self._freed.wait()

    async def _give_back(self, member: Member) -> None:
        async with self._freed:
            member.inflight -= 1
            self._freed.notify_all()

    def _failed(self, member: Member, reason: str) -> None:
        member.failures += 1
        member.last_error = reason
        if member.failures >= self.settings.breaker_failures:
            member.down_until = time.monotonic() + self.settings.probe_interval
