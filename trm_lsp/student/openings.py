"""How the teacher opens its answers ("This Python method `X`"), learnt from the samples at
training time and written first by the student, so that its answer names the right language,
kind and symbol before it writes the rest."""

from __future__ import annotations

import re
from collections import Counter

from trm_lsp.student.data import Record


def common_openings(records: list[Record]) -> tuple[dict[str, str], dict[str, str]]:
    """Per kind, the words the teacher most often writes before the symbol's name, with the
    language's name as a `{language}` slot ("This {language} method "), when at least a third of
    its answers open that way; and each language's name as the teacher spells it ("Go")."""
    by_kind: dict[str, Counter] = {}
    names: dict[str, Counter] = {}
    for r in records:
        head, tick, _ = r.output.partition("`")
        if not tick or len(head) > 40:
            continue
        pattern = "|".join(re.escape(n) for n in {r.language, spelled_name(r.language)})
        spelled = re.search(rf"(?<![A-Za-z]){pattern}(?![A-Za-z])", head, re.IGNORECASE) if r.language else None
        if spelled:
            names.setdefault(r.language, Counter())[spelled[0]] += 1
            head = head[: spelled.start()] + "{language}" + head[spelled.end():]
        elif any(not w.islower() for w in head.split()[1:]):
            continue  # names something we cannot place ("This C++ class " for language cpp)
        by_kind.setdefault(r.kind, Counter())[head] += 1
    out = {}
    for kind, counts in by_kind.items():
        head, count = counts.most_common(1)[0]
        if count * 3 >= sum(1 for r in records if r.kind == kind):
            out[kind] = head
    return out, {language: counts.most_common(1)[0][0] for language, counts in names.items()}


def opening_for(meta: dict, kind: str, language: str) -> str:
    """The opening to write for this kind and language, or "" when there is none to trust."""
    opening = meta.get("openings", {}).get(kind, "")
    if "{language}" in opening:
        opening = opening.replace("{language}", meta.get("language_names", {}).get(language) or spelled_name(language))
    return opening


def prose_name(symbol: str, parts: int, kind: str = "method") -> str:
    """The symbol as the answer names it: a method or a nested type by its last `parts` dotted
    parts (`InternalReadSubscription.resumeReadEvent`, not
    `SocketTube.InternalReadPublisher.InternalReadSubscription.resumeReadEvent`), as prose names a
    method by its class; a function by its own name (`test_vcge_s64`, not `tests.test_vcge_s64`):
    what comes before it is a module or an enclosing function, which prose leaves out (the Rust
    corpus' teacher did, 118 of 176 times). 0 keeps the whole path."""
    if parts <= 0:
        return symbol
    return ".".join(symbol.split(".")[-(1 if kind == "function" else parts):])


def spelled_name(language: str) -> str:
    """The language's name as people write it ("C++" for cpp)."""
    from trm_lsp.extract.languages import BY_ID

    known = BY_ID.get(language)
    return known.name if known is not None else language.capitalize()
