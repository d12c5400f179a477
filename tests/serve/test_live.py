"""Free-form MCP questions put to the teacher live, against the local Ollama-API server: a hung
teacher costs one question its wait, not every question, and never more than one question is
in flight at a time."""

from __future__ import annotations

import asyncio
import time

from tests.distill.conftest import fast_settings
from tests.fake_teacher import FakeTeacher
from trm_lsp.distill.teacher import make_teacher
from trm_lsp.serve.live import QUIET_SECONDS, LiveTeacher

MESSAGES = [{"role": "user", "content": "How does `gcd` reduce a fraction?"}]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_hung_teacher_costs_one_question_its_wait_then_rests():
    clock = Clock()
    with FakeTeacher() as server:
        teacher = make_teacher(fast_settings(server.url, timeout=5))  # the live wait, not the client's, ends it
        live = LiveTeacher(1, clock=clock)
        try:
            server.faults.append("slow:4")
            started = time.monotonic()
            assert await live.ask(teacher, MESSAGES) is None
            assert time.monotonic() - started < 3
            assert live.last_problem == "no answer within 1 s"
            assert live.status() == {"state": "resting", "resting_s": QUIET_SECONDS, "last_problem": live.last_problem}
            calls = server.calls
            started = time.monotonic()
            assert await live.ask(teacher, MESSAGES) is None  # resting: not asked, no wait
            assert time.monotonic() - started < 0.1 and server.calls == calls
            clock.now += QUIET_SECONDS + 1  # rested: asked again, and it answers now
            reply = await live.ask(teacher, MESSAGES)
            assert reply is not None and "gcd" in reply.output and server.calls == calls + 1
        finally:
            await teacher.close()


async def test_one_live_question_at_a_time_the_others_answered_without_it():
    with FakeTeacher(delay=0.5) as server:
        teacher = make_teacher(fast_settings(server.url, timeout=5))
        live = LiveTeacher(5)
        try:
            replies = await asyncio.gather(*(live.ask(teacher, MESSAGES) for _ in range(8)))
        finally:
            await teacher.close()
    assert sum(r is not None for r in replies) == 1
    assert server.calls == 1


async def test_a_reply_in_another_script_is_not_used_and_costs_no_rest():
    with FakeTeacher() as server:
        teacher = make_teacher(fast_settings(server.url, timeout=5))
        live = LiveTeacher(5)
        try:
            server.faults.append("script")
            assert await live.ask(teacher, MESSAGES) is None
            assert live.last_problem.startswith("not in the question's language")
            assert live.status()["state"] == "ready"  # one odd reply, not a teacher that is down
            assert live.answered == 0
            reply = await live.ask(teacher, MESSAGES)
            assert reply is not None and "gcd" in reply.output and server.calls == 2
            assert live.answered == 1  # what `status` reads: the teacher is up
        finally:
            await teacher.close()


async def test_a_question_in_chinese_may_be_answered_in_chinese():
    """The reply is held to the question's language, not to the code quoted around it."""
    chinese = [{"role": "user", "content": "def gcd(a, b):\n    return a\n" * 40 + "Question: 配置文件是在哪里读取的？"}]
    with FakeTeacher() as server:
        teacher = make_teacher(fast_settings(server.url, timeout=5))
        live = LiveTeacher(5)
        try:
            server.faults.append("script")
            assert await live.ask(teacher, chinese, "配置文件是在哪里读取的？") is not None
        finally:
            await teacher.close()
