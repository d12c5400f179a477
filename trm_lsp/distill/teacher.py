"""What every teacher backend offers, and the pieces they share.

A teacher turns chat messages into a `Reply` (reasoning + final explanation). Failures come
in two kinds, because they call for different handling: `TeacherUnavailable` (nothing is
listening, the model is missing) trips the circuit breaker; `TeacherError` (a 500, a cut
stream, malformed JSON, an empty answer) costs the job one attempt.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Protocol

from trm_lsp.config import TeacherSettings

DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"
DEFAULT_OPENAI_HOST = "http://127.0.0.1:8080"

_THINK = re.compile(r"<think>(.*?)(?:</think>|$)", re.DOTALL)
# "Explanation:" (or "Final explanation:", "Answer:") on a line of its own starts the answer
# of a model that reasons in plain text instead of a thinking channel.
_FINAL = re.compile(r"^\W*(?:final\s+)?(?:explanation|answer)\W*:\W*", re.IGNORECASE | re.MULTILINE)
_MIN_WORDS = 3


@dataclass
class Reply:
    reasoning: str
    output: str
    tokens: int = 0
    seconds: float = 0.0
    cut: bool = False  # longer than the settings allow: read or stored only in part


#: Appended to an answer stored cut, so every reader (hover, export, training) can tell.
CUT_MARK = " [… cut: the teacher's answer was {} characters]"


class TeacherError(Exception):
    """One call failed; the job is retried with backoff."""


class TeacherUnavailable(TeacherError):
    """The teacher cannot be reached or lacks the model; the breaker opens."""


class Teacher(Protocol):
    #: The model name recorded in every sample's `teacher` field.
    name: str
    host: str

    async def check(self) -> None:
        """Raise `TeacherUnavailable` with a message that says how to fix it."""

    async def explain(self, messages: list[dict]) -> Reply: ...

    async def close(self) -> None: ...


def split_reasoning(content: str, thinking: str | None = None) -> tuple[str, str]:
    """(reasoning, output) from a reply: the thinking channel, else `<think>` tags, else an
    'Explanation:' line; with none of those, no reasoning and the whole reply as output."""
    content = content or ""
    reasoning = (thinking or "").strip()
    tagged = _THINK.findall(content)
    if tagged:
        reasoning = "\n".join(part.strip() for part in [reasoning, *tagged] if part.strip())
        content = _THINK.sub("", content)
    content = content.strip()
    if not reasoning:
        marks = list(_FINAL.finditer(content))
        if marks:
            last = marks[-1]
            reasoning, content = content[: last.start()].strip(), content[last.end() :].strip()
    else:
        marks = list(_FINAL.finditer(content))
        if marks and marks[0].start() == 0:
            content = content[marks[0].end() :].strip()
    return reasoning, content


def checked(answer: Reply) -> Reply:
    """Refuse an answer that says nothing: no sample is ever written from it."""
    words = answer.output.split()
    if not words:
        raise TeacherError("empty answer")
    if len(words) < _MIN_WORDS:
        raise TeacherError(f"not an explanation: {len(words)} word(s) in {len(answer.output):,} characters")
    return answer


def capped(answer: Reply, settings: TeacherSettings) -> Reply:
    """The answer within the size caps: each part cut at a word boundary, the output marked."""
    output, reasoning = answer.output, answer.reasoning
    cut = False
    if len(output) > settings.max_answer_chars:
        size = f"over {len(output):,}" if answer.cut else f"{len(output):,}"  # cut: the stream was left unread
        output = _cut_at_word(output, settings.max_answer_chars) + CUT_MARK.format(size)
        cut = True
    if len(reasoning) > settings.max_reasoning_chars:
        reasoning = _cut_at_word(reasoning, settings.max_reasoning_chars) + " […]"
        cut = True
    if not cut:
        return answer
    return Reply(reasoning, output, answer.tokens, answer.seconds, cut=True)


def _cut_at_word(text: str, limit: int) -> str:
    head = text[:limit]
    space = head.rfind(" ")
    return head[:space] if space > limit // 2 else head


def resolve_host(settings: TeacherSettings) -> str:
    if settings.host:
        return settings.host.rstrip("/")
    if settings.backend == "ollama":
        host = os.environ.get("OLLAMA_HOST", "") or DEFAULT_OLLAMA_HOST
        return host if "://" in host else f"http://{host}"
    return DEFAULT_OPENAI_HOST


def make_teacher(settings: TeacherSettings) -> Teacher:
    if settings.hosts:
        from trm_lsp.distill.pool import TeacherPool

        return TeacherPool(settings)
    if settings.backend == "openai":
        from trm_lsp.distill.openai_teacher import OpenAITeacher

        return OpenAITeacher(settings)
    from trm_lsp.distill.ollama_teacher import OllamaTeacher

    return OllamaTeacher(settings)
