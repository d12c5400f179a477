"""How the teacher opens its answers ("This Python method `X`"), learnt from the samples at
training time and written first by the student, so that its answer names the right language,
kind and symbol before it writes the rest."""

from __future__ import annotations

import re
from collections import Counter

from trm_lsp.student.data import Record

#: A language whose doc comments open with the symbol's own name in at least this share of the
#: pairs the base was pretrained on (`name_first_languages`). On this machine's harvest: Go 84.1%
#: ("IsDST reports whether ..."), C 2.4%, Java 1.3%, C++ 1.6%, Python 0.4%, Rust 0.2%.
NAME_FIRST_SHARE = 0.5


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


def name_first_languages(records: list[Record]) -> list[str]:
    """The languages whose doc comments open with the symbol's name ("Push adds x to the queue.",
    Go's convention), as the base learnt them: where it has no teacher's opening to write, it
    writes the name first there (`name_opening`)."""
    seen: Counter = Counter()
    first: Counter = Counter()
    for r in records:
        seen[r.language] += 1
        words = r.output.split(maxsplit=1)
        first[r.language] += bool(words) and is_the_name(words[0], r.symbol)
    return sorted(lang for lang, n in seen.items() if first[lang] >= NAME_FIRST_SHARE * n)


def is_the_name(word: str, symbol: str) -> bool:
    """`word` is the symbol's name as a doc writes it first: `Push`, "Push", Push(), Queue.Push."""
    return word.strip("`'\"").removesuffix("()") in (symbol, symbol.rsplit(".", 1)[-1])


def name_opening(meta: dict, symbol: str, language: str) -> str:
    """The opening of a student that learnt none from a teacher (the base alone): the symbol's
    own name where the language's doc comments open with it, else "" (it writes as the docs do).
    Left to find the name itself, the base wrote Go's names piece by piece through its copy
    pointer and often went wrong ("IsDSTST", "NewArgs" for `Value.New`), which the vocabulary
    check then refused, leaving "IsDST …"; with the name given it writes "IsDST reports whether
    ...". (`Value.New` still ends at "New …": the pointer wants more name after it.)"""
    return symbol.rsplit(".", 1)[-1] if language in meta.get("name_first", ()) else ""


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
