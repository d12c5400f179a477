"""A model-free readability check, cheap enough for `make test` (no llama.cpp).

It flags what made the old student's answers unreadable ("It takes a entry of the entry of a
entry ...", "automaticallyonent"): a word written twice in a row; a loop (a word 3-gram written
three times, or one content word making up over a quarter of the answer); and words that are
neither English (the system dictionary, Debian's `wamerican`, plus the programming words
below) nor identifiers of the code or the symbol's name. Small teachers repeat themselves too
(on the corpus dev set 20% of SmolLM2's answers loop), so the shares are read against the
teacher's on the same set. The perplexity judge (`judge.py`) is the measure; this is its fast,
independent smoke detector.

It also flags a noun phrase that ends on the noun it is about ("Return the name of the name.",
`tautology`, `says_nothing`): 36 of the base alone's 225 dev answers, 88 of 1,035 students'
answers (six checkpoints, four corpora) at stop 38, the teacher's 6 of 585; the judge found 3 of
the 88 unreadable, as repetition is what a language model predicts best. Neither sees an answer
that reads well and says little: "`getboolean` is used to create a new instance of a class."
`said_of_another` counts the answers that are, word for word once the symbol's name is taken
out, what the same system said of another symbol (the teacher: none of 225 on the dev set).
`commonest_opening` counts what that misses, the same frame with another ending: at stop 46,
98 of the fine-tuned student's 225 dev answers went on from the name with "is used to create a"
(the teacher's 17), and 64 of the 138 it showed said "create a new".
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from trm_lsp.textutil import split_identifier

DICTIONARIES = (Path("/usr/share/dict/words"), Path("/usr/share/dict/american-english"),
                Path("/usr/share/dict/web2"))
#: Words of the trade that a general dictionary lacks.
TECHNICAL = frozenset("""
api apis args argv async await bool boolean bytecode callable callback callbacks charset config
const ctor dataclass dataclasses dict dicts enum enums eof filename filenames filesystem getter
hashable html http https init initializer iterable iterables iterator iterators javascript json
kwargs lookup metadata middleware mixin mutex namespace namespaces param params parsers pathname
plugin plugins runtime stderr stdin stdout str struct structs subclass subclasses subprocess
superclass syscall timestamp timestamps tuple tuples typescript unicode url urls utf utils
whitespace wrapper xml yaml regex regexes deserialize deserialized serializer serialize serialized
docstring docstrings traceback checksum multipart superset tcp udp os cpu gui ascii resize tokenize tokenizer
""".split())
#: How many words of what follows the name make an answer's opening (`commonest_opening`).
OPENING_WORDS = 5
_OPENING_WORD = re.compile(r"[a-z']+")
_STOP = frozenset("a an the of to in is and or for it that this with as by on be are from its if which when at".split())
_SUFFIXES = ("ies", "es", "s", "ed", "ing", "ly", "er")
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*[A-Za-z0-9_]|[A-Za-z]")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: A noun phrase that ends on the noun it is about: "the name of the name", "a string to a string",
#: "the key for the given key" (ended by punctuation, the answer's end or a word that closes the
#: phrase). Not "a list of lists", "the second sequence to the first sequence", "a file to a file
#: descriptor"; "a string to a string of bytes" is counted ("of" closes it: "the size of the given
#: size of this size"). The noun may be two words: "the float value of the given float value".
_ITSELF = (r"\b((?:(?!(?:the|this|its|new|given|specified|same|current) )[A-Za-z]{3,} )?[A-Za-z]{3,}) "
           r"(?:of|to|from|with|for|in|into) (?:(?:the|a|an|this|its) )?"
           r"(?:(?:given|specified|same|current) )?\1")
_SETTER = re.compile(r"\bsets? (?:the|a|an) $", re.I)
_PLAIN_NOUN = re.compile(r"\b(?:the|a|an|this|its|new|given|specified|same) $", re.I)
_PHRASE_ENDS = "of in and or to with from for is that which as by on at when if using it so then are".split()
_TAUTOLOGY = re.compile(_ITSELF + r"(?=\s*[.,;:!?)(\['\"…-]|\s*$|\s+(?:" + "|".join(_PHRASE_ENDS) + r")\b)", re.I)


def says_nothing(answer: str) -> str:
    """The words of `answer` that state a thing of itself ("the name of the name"), or "". Fluent
    to a language model (the judge found 3 of 88 such student answers unreadable), empty to a
    reader: a student's answer with them is declined (`infer.Student.explain`). Not when the first
    noun is narrowed ("a qualified name of the given name", "the hardware address of the given
    address"), nor a setter's "sets the zone to the given zone", which says what it does."""
    for match in _TAUTOLOGY.finditer(answer):
        before = answer[: match.start()]
        plain = _PLAIN_NOUN.search(before)
        setter = _SETTER.search(before) and match.group(0)[len(match.group(1)):].startswith(" to ")
        if plain and not setter:
            return match.group(0)
    return ""


class DictionaryMissing(RuntimeError):
    """No word list on this machine."""


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    for path in DICTIONARIES:
        if path.exists():
            words = path.read_text(encoding="utf-8", errors="replace").split()
            return frozenset(w.lower().removesuffix("'s") for w in words) | TECHNICAL
    raise DictionaryMissing("no word list in /usr/share/dict: sudo apt-get install wamerican")


@dataclass
class Flags:
    repeated_word: bool = False
    loop: bool = False
    non_words: list[str] = field(default_factory=list)
    tautology: bool = False  # "Return the name of the name.": fluent to a language model, empty to a reader

    @property
    def flagged(self) -> bool:
        return self.repeated_word or self.loop or bool(self.non_words) or self.tautology


def code_identifiers(*texts: str) -> set[str]:
    """Identifiers of the code and the symbol's name, whole and cut into their words."""
    out: set[str] = set()
    for text in texts:
        for ident in _IDENT.findall(text):
            out.add(ident.lower())
            out.update(part.lower() for part in split_identifier(ident))
    return out


def _english(low: str, english: frozenset[str]) -> bool:
    """In the dictionary, or an inflection of a word in it ("resizes")."""
    return low in english or any(low.endswith(s) and low[: -len(s)] in english for s in _SUFFIXES if len(low) > len(s) + 2)


def _known(token: str, english: frozenset[str], idents: set[str]) -> bool:
    low = token.lower()
    if _english(low, english) or low in idents:
        return True
    parts = [p for p in re.split(r"[._]", token) if p]
    if len(parts) > 1 or "_" in token:  # a dotted or snake name: each piece must be known
        return all(_known(p, english, idents) for p in parts) if parts else True
    pieces = split_identifier(token)
    return len(pieces) > 1 and all(_english(p.lower(), english) or p.lower() in idents for p in pieces)


def check(answer: str, code: str = "", symbol: str = "") -> Flags:
    english = english_words()
    idents = code_identifiers(code, symbol)
    words = [w.lower() for w in re.findall(r"[A-Za-z0-9_']+", answer)]
    flags = Flags()
    flags.repeated_word = any(a == b and not a.isdigit() for a, b in zip(words, words[1:]))
    grams = Counter(zip(words, words[1:], words[2:]))
    content = Counter(w for w in words if w not in _STOP)
    flags.loop = any(n >= 3 for n in grams.values()) or (
        len(words) >= 8 and any(n > len(words) / 4 for n in content.values()))
    flags.non_words = [t for t in _TOKEN.findall(answer) if not _known(t, english, idents)]
    flags.tautology = bool(says_nothing(answer))
    return flags


def gist(answer: str, symbol: str) -> str:
    """What an answer says of its symbol: what follows the name's first mention (the opening
    before it names the kind: "This Go method `Queue.Push`", "The Go struct `Queue`"), the
    name (and its last part) masked."""
    for name in sorted({symbol, symbol.rsplit(".", 1)[-1]} - {""}, key=len, reverse=True):
        answer = answer.replace(name, "<name>")
    answer = answer.split("<name>", 1)[1].lstrip("`'\" ") if "<name>" in answer else answer
    return " ".join(answer.lower().split())


def said_of_another(answers: list[str], symbols: list[str]) -> list[bool]:
    """For each answer: is its `gist` the answer given for another symbol too?"""
    gists = [gist(a, s) if a.strip() else "" for a, s in zip(answers, symbols)]
    seen = Counter(g for g in gists if g)
    return [bool(g) and seen[g] > 1 for g in gists]


def commonest_opening(answers: list[str], symbols: list[str], words: int = OPENING_WORDS) -> tuple[str, float]:
    """The first `words` words most answers go on with after the name (`gist`), and the share of
    answers that do: how far a system falls back on one frame whatever the code (the teacher's
    answers on the dev set 7.6%, "is used to create a"). ("", 0.0) for no answers."""
    openings = Counter(" ".join(_OPENING_WORD.findall(gist(a, s))[:words]) for a, s in zip(answers, symbols) if a.strip())
    if not openings:
        return "", 0.0
    frame, count = openings.most_common(1)[0]
    return frame, round(count / sum(openings.values()), 4)


def report(answers: list[str], codes: list[str], symbols: list[str]) -> dict:
    """Shares of answers with each problem, and with any of the per-answer ones (`flagged`)."""
    flags = [check(a, c, s) for a, c, s in zip(answers, codes, symbols) if a.strip()]
    n = max(len(flags), 1)
    frame, frame_share = commonest_opening(answers, symbols)
    return {
        "commonest_opening": frame,
        "commonest_opening_share": frame_share,
        "said_of_another": round(sum(said_of_another(answers, symbols)) / n, 4),
        "flagged": round(sum(f.flagged for f in flags) / n, 4),
        "repeated_word": round(sum(f.repeated_word for f in flags) / n, 4),
        "loop": round(sum(f.loop for f in flags) / n, 4),
        "non_word": round(sum(bool(f.non_words) for f in flags) / n, 4),
        "tautology": round(sum(f.tautology for f in flags) / n, 4),
        "n": len(flags),
    }
