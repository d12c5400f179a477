"""The answer `consult_logic_model` gives an agent: short, grounded and structured.

An agent pays for every token and must find the answer in what it gets back. So: a direct
answer first (at most ~120 words with `detail="brief"`), made of the sentences of the
best-matching explanations that bear on the question (the teacher's where they exist, else the
student's), then at most five sources, one line each (`path:line`, kind and name, who explained
it, its first sentence unless the answer already says it). Nothing is said twice. Every source
is grounded: it is re-read from the index now, and a symbol that moved or changed since it was
retrieved is re-resolved by name or dropped, never cited at a stale line. The same content goes
out as structured data (`Consultation.structured`), with the schema in `CONSULT_SCHEMA`.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field

from trm_lsp.serve.answers import Answer, first_sentence, structure_head
from trm_lsp.student import LABEL
from trm_lsp.store.symbols import Symbol
from trm_lsp.textutil import sentences, words

BRIEF_WORDS = 120
FULL_WORDS = 300
MAX_SOURCES = 5
#: Sources whose explanations may speak in the answer (the best, and one sentence of the
#: second): only these wait for the student. The others are cited with what is at hand (a
#: cached explanation, else the structure): five student calls per question cost p95 364 ms,
#: two stay within 300 (bench/agent_answers.py).
SPOKEN = 2
SOURCE_WORDS = 12  # a source line's sentence, cut (the median reply was 446 tokens at 24 words and all sources speaking)
EXCERPT_CHARS = 1200  # a source's code with detail="full", cut
_STOP = frozenset("a an and are as at be by does do for from how in is it its of on or that the this to what "
                  "when where which who why with".split())


@dataclass
class Source:
    path: str
    line: int
    end_line: int
    kind: str
    symbol: str
    explained_by: str  # "teacher <model>", "TRM student" or "structure" (nobody yet)
    age_s: float | None  # age of the teacher's answer, None for the others
    excerpt: str  # brief: the explanation's first sentence; full: the symbol's current code (cut)


@dataclass
class Consultation:
    answer: str
    sources: list[Source] = field(default_factory=list)
    declined: bool = False  # the student declined on the best source: no explanation reads well enough
    note: str = ""

    def text(self) -> str:
        lines = [self.answer.strip()]
        if self.sources:
            lines += ["", "Sources:"]
            for s in self.sources:
                said = s.excerpt and s.excerpt[:60].lower() in self.answer.lower()
                tail = "" if said or "\n" in s.excerpt else f": {s.excerpt}"
                by = "teacher" if s.explained_by.startswith("teacher") else s.explained_by  # model: structured
                lines.append(f"- `{s.path}:{s.line}` {s.kind} `{s.symbol}` ({by}){tail}")
                if "\n" in s.excerpt:  # detail="full": the code itself
                    lines += ["  ```", *("  " + code for code in s.excerpt.splitlines()), "  ```"]
        if self.note:
            lines += ["", self.note]
        return "\n".join(lines)

    def structured(self) -> dict:
        out = {"answer": self.answer, "sources": [asdict(s) for s in self.sources]}
        if self.declined:
            out["declined"] = True
        return out


_SOURCE_SCHEMA = {
    "type": "object",
    "properties": {
        "path": {"type": "string"}, "line": {"type": "integer"}, "end_line": {"type": "integer"},
        "kind": {"type": "string"}, "symbol": {"type": "string"}, "explained_by": {"type": "string"},
        "age_s": {"type": ["number", "null"]}, "excerpt": {"type": "string"},
    },
    "required": ["path", "line", "end_line", "kind", "symbol", "explained_by", "age_s", "excerpt"],
}
CONSULT_SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}, "sources": {"type": "array", "items": _SOURCE_SCHEMA},
                   "declined": {"type": "boolean"}},
    "required": ["answer", "sources"],
}


def most_specific(found: list[Symbol]) -> list[Symbol]:
    """Each symbol once, in order, without the ones that hold another of them (a class whose
    method is cited already): its lines say the same words, and a source line is worth more on
    another symbol. Read in the replies: a method and its class took two of five places."""
    unique = list({s.id: s for s in found}.values())
    return [s for s in unique if not any(o.id != s.id and o.path == s.path and s.start_line <= o.start_line
                                         and o.end_line <= s.end_line for o in unique)]


def source_of(answer: Answer, sym: Symbol, full: bool, code: str = "") -> Source:
    by = {"teacher": f"teacher {answer.teacher}", "student": LABEL}.get(answer.source, "structure")
    age = round(time.time() - answer.created_at, 1) if answer.source == "teacher" else None
    text = answer.text
    if answer.source == "structure":  # what follows its kind and name: the doc's sentence, if any
        text = text.removeprefix(structure_head(sym)).strip() or text
    excerpt = _cut_code(code) if full and code else _cut_words(_without_opening(first_sentence(text)), SOURCE_WORDS)
    return Source(sym.path, sym.start_line, sym.end_line, sym.kind, sym.qualname, by, age, excerpt)


def compose(question: str, answers: list[Answer], budget: int) -> str:
    """The sentences of the explanations that bear on the question, best source first, within
    `budget` words, none twice. The best source speaks first, every sentence of it that shares a
    content word with the question; the second adds one sentence, and only if it brings at
    least two of the question's words the answer has not said yet (one shared word let it add
    unrelated sentences: "`SSLSocket.sendfile` sends a file using a socket" after a breakpoint's
    answer, for "file"); the others speak on their source lines only."""
    wanted = {w for w in words(question) if w not in _STOP and len(w) > 2}
    picked: list[tuple[int, int, str]] = []
    seen: set[str] = set()
    covered: set[str] = set()  # the question's words the answer has said
    used = 0
    for rank, answer in enumerate(answers):
        if rank >= SPOKEN or (answer.source == "structure" and rank > 0):
            continue
        said = 0
        for index, sentence in enumerate(sentences(answer.text)):
            sentence = " ".join(sentence.split())
            key = re.sub(r"\W+", " ", sentence.lower()).strip()
            if not key or key in seen:
                continue
            shared = wanted & set(words(sentence))
            bears = (rank == 0 and index == 0) or (bool(shared) if rank == 0 else len(shared - covered) >= 2)
            length = len(sentence.split())
            if not bears or used + length > budget or (rank > 0 and said):
                continue
            said += 1
            seen.add(key)
            covered |= shared
            picked.append((rank, index, sentence))
            used += length
    if not picked and answers:
        return _cut_words(answers[0].text, budget)
    picked.sort()
    first = " ".join(sentence for rank, _, sentence in picked if rank == 0)
    # Another source's sentence is its own paragraph and names its symbol: its "It ..." would
    # otherwise read as more about the first ("It raises OverflowError" after a class's answer).
    others = [sentence if f"`{answers[rank].symbol}`" in sentence else f"`{answers[rank].symbol}`: {sentence}"
              for rank, _, sentence in picked if rank > 0]
    return "\n\n".join(part for part in (first, *others) if part)


_OPENING = re.compile(r"^(?:This|The) [\w+#.-]+(?: [\w-]+){0,2} `[^`]+`\s+(?:is used to\s+)?")


def _without_opening(sentence: str) -> str:
    """"This Python method `C.f` is used to parse ..." -> "Parse ...": the source line names
    the symbol already (a fifth of a reply's tokens were these openings)."""
    rest = _OPENING.sub("", sentence, count=1)
    return rest[:1].upper() + rest[1:] if rest and rest != sentence else sentence


def _cut_words(text: str, limit: int) -> str:
    parts = text.split()
    return " ".join(parts) if len(parts) <= limit else " ".join(parts[:limit]) + " …"


def _cut_code(code: str) -> str:
    code = code.rstrip()
    if len(code) <= EXCERPT_CHARS:
        return code
    return code[: code.rfind("\n", 0, EXCERPT_CHARS) if "\n" in code[:EXCERPT_CHARS] else EXCERPT_CHARS] + "\n…"
