"""What every teacher backend offers, and the pieces they share.

A teacher turns chat messages into a `Reply` (reasoning + final explanation). Failures come
in two kinds, because they call for different handling: `TeacherUnavailable` (nothing is
listening, the model is missing) trips the circuit breaker; `TeacherError` (a 500, a cut
stream, malformed JSON, an empty answer) costs the job one attempt.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, replace
from typing import Protocol

from trm_lsp.config import TeacherSettings, teacher_url
from trm_lsp.textutil import sentences

DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"
DEFAULT_OPENAI_HOST = "http://127.0.0.1:8080"

_THINK = re.compile(r"<think>(.*?)(?:</think>|$)", re.DOTALL)
# "Explanation:" (or "Final explanation:", "Answer:") on a line of its own starts the answer
# of a model that reasons in plain text instead of a thinking channel.
_FINAL = re.compile(r"^\W*(?:final\s+)?(?:explanation|answer)\W*:\W*", re.IGNORECASE | re.MULTILINE)
_MIN_WORDS = 3
#: A reply with more of its letters than this in a script the question is not written in is
#: refused (`vetted`): DeepSeek's models answer English prompts in Chinese now and then, and the
#: same prompt asked again mostly answers in English (deepseek-ai/DeepSeek-V3#1226).
_FOREIGN = 0.2
#: ... unless the question has this share of its letters in that script: code with Chinese
#: comments, a Russian specification, may be explained in their own language.
_GIVEN_SCRIPT = 0.05
#: A word n-gram (n <= `_LOOP_N`) written this many times in a row is a loop, not prose.
_LOOP_TIMES, _LOOP_N = 4, 6
#: A sentence of this many words written again starts a loop; shorter ones ("Returns None.") recur in lists.
_REPEAT_WORDS = 5
#: Sentences that start with this many words alike start a loop with other endings.
_SAME_START = 8
#: What a cut may leave on its last lines: a list number or bullet, a heading, a line that announces more.
_ORPHAN_LINE = re.compile(r"\s*(?:\d+[.)]|[-*+]|#+)?\s*|.*:\s*")
#: A fenced code block, closed or cut off at the answer's end.
_FENCED = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
#: What the checks leave out: code spans and quoted text, the code's own words and strings.
_QUOTED = re.compile(r'`[^`]*`|"[^"]*"|“[^”]*”')


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
    if len(words) < _MIN_WORDS and not _foreign_script(answer.output, "")[0]:  # Chinese has no spaces: `vetted` says
        raise TeacherError(f"not an explanation: {len(words)} word(s) in {len(answer.output):,} characters")
    return answer


def vetted(answer: Reply, given: str) -> tuple[Reply, int]:
    """The answer as it may be kept, and how many sentences were cut from it.

    Small reasoning models fail in ways that `checked` cannot see, and a reader of the hover (and
    the student trained on it) would get the failure verbatim: a reply in another script than the
    question (`given`, the code or document asked about) is refused, so the job is asked again,
    as is one that loops inside a sentence ("of the data of the data of the data ..."); an answer
    or reasoning that starts to repeat itself is cut where it does (`_without_repeats`)."""
    script, share = _foreign_script(answer.output, given)
    if script:
        raise TeacherError(f"not in the question's language: {share:.0%} of its letters are {script}")
    output, dropped = _without_repeats(answer.output)
    loop = _word_loop(output)
    if loop:
        raise TeacherError(f"a loop: {loop!r} {_LOOP_TIMES} times in a row")
    reasoning = _without_repeats(answer.reasoning)[0]  # shown folded under the answer: its loops too
    if not dropped and reasoning == answer.reasoning:
        return answer, 0
    return replace(answer, output=output, reasoning=reasoning), dropped


def _without_repeats(text: str) -> tuple[str, int]:
    """`text` up to the first sentence that says again what one before it said, and how many
    sentences that drops. Said again: the same words (numbers too: "if n is 2" is not "if n is
    3"); or a third sentence that starts with the same `_SAME_START` words, as a small model
    starts its loop over with other endings ("The code uses a try-except block to catch ..."),
    cut at the second (two branches may well be said alike). Sentences in a fenced code example
    are not read; a list number or a heading left at the cut goes with it."""
    fenced = [m.span() for m in _FENCED.finditer(text)]
    said_all = sentences(text)
    seen: set[str] = set()
    starts: dict[str, list[tuple[int, int]]] = {}  # first words -> (offset, index) of each sentence so begun
    end = 0
    for n, sentence in enumerate(said_all):
        at = text.find(sentence, end)
        end = at + len(sentence)
        if any(start <= at < stop for start, stop in fenced):
            continue
        words = re.findall(r"\w+", sentence.lower())
        if len(words) >= _REPEAT_WORDS and " ".join(words) in seen:
            return _without_orphans(text[:at]), len(said_all) - n
        seen.add(" ".join(words))
        if len(words) > _SAME_START:  # two branches may be said alike; a third time is a loop
            start = starts.setdefault(" ".join(words[:_SAME_START]), [])
            start.append((at, n))
            if len(start) == 3:
                at, n = start[1]
                return _without_orphans(text[:at]), len(said_all) - n
    return text, 0


def _without_orphans(text: str) -> str:
    """`text` cut, less the lines a cut may leave at its end ("5.", "Here's how it works:")."""
    lines = text.rstrip().split("\n")
    while len(lines) > 1 and _ORPHAN_LINE.fullmatch(lines[-1]):
        lines.pop()
    return "\n".join(lines).rstrip()


def _foreign_script(text: str, given: str) -> tuple[str, float]:
    """The script most of `text`'s letters are in, with its share, when that is over `_FOREIGN`
    and not the script of `given`; else ("", 0)."""
    def scripts(s: str) -> tuple[Counter, int]:
        letters = [ch for ch in _QUOTED.sub(" ", s) if ch.isalpha()]
        counts = Counter(unicodedata.name(ch, "?").split()[0] for ch in letters if not ch.isascii())
        return counts, len(letters)

    counts, letters = scripts(text)
    counts.pop("LATIN", None)
    if not counts or not letters:
        return "", 0.0
    script = counts.most_common(1)[0][0]
    theirs, total = scripts(given)
    if sum(counts.values()) / letters <= _FOREIGN or theirs[script] >= _GIVEN_SCRIPT * max(total, 1):
        return "", 0.0
    return (script if len(script) <= 3 else script.capitalize()), sum(counts.values()) / letters  # CJK, Cyrillic


def _word_loop(text: str) -> str:
    """The words that repeat, when some n-gram of words is written `_LOOP_TIMES` times in a row:
    a run of (`_LOOP_TIMES` - 1) x n words each equal to the word n after it (one pass for each n).
    A code span or quote counts as one word, the same word only when it is the same text: code
    repeats itself (`b[4:] + b[6:] + b[8:]`), and a list of `record` (default), `action`
    (default), ... is not a loop of "default"."""
    spans: dict[str, str] = {}
    text = _QUOTED.sub(lambda m: f" span{spans.setdefault(m.group(0), str(len(spans)))} ", text)
    words = re.findall(r"\w+", text.lower())
    for n in range(1, _LOOP_N + 1):
        run = 0
        for j in range(len(words) - n):
            run = run + 1 if words[j] == words[j + n] else 0
            if run >= (_LOOP_TIMES - 1) * n and not all(w.isdigit() for w in words[j - run + 1:j - run + 1 + n]):
                start = j - run + 1  # numbers repeat in prose ("0.0.0.0", "(0, 0, 0, 0)"); words do not
                quoted = {f"span{number}": span for span, number in spans.items()}
                return " ".join(quoted.get(word, word) for word in words[start:start + n])
    return ""


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
    if settings.host:  # host:port or a bare host, as OLLAMA_HOST takes it, too
        return teacher_url(settings.host.rstrip("/"), settings.backend)
    if settings.backend == "ollama":
        return teacher_url(os.environ.get("OLLAMA_HOST", "") or DEFAULT_OLLAMA_HOST, settings.backend)
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
