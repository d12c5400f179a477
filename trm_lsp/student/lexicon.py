"""Words the student may write: never a broken one.

A sub-word model can glue pieces into words that exist nowhere ("automaticallyonent") or close a
code span on half a name ("`_pa."). While decoding, every word the student completes must be a
word of its training text (the lexicon, saved with the checkpoint) or an identifier of the code
it explains, the symbol's name or the neighbour's explanation it reads; a word still being
written must be the start of one; a code span (backticks) must close on such an identifier or
a path the context writes. Spelling is not left to the model; grammar is, but for a few slips
students made after "to" that the judge passed (`Vetter._placed_ok`).
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

_WORD = re.compile(r"[A-Za-z]+")
#: A word standing alone, with its 's or n't (counted as "object", "doesn"); not a piece of
#: "OR-ing" or "O'Brien", which would teach "ing" and "brien".
_STANDALONE = re.compile(r"(?<![A-Za-z'-])([A-Za-z]+)(?:'(?:s|t|re|ll|ve|d|m))?(?![A-Za-z'-])")
_CLITICS = frozenset({"s", "t", "re", "ll", "ve", "d", "m"})  # the 's of "object's", the t of "doesn't"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A word while decoding: letters, digits and underscores (so `foo_bar` outside backticks is
# judged as one word, not as `foo`, punctuation and `bar`).
_TAIL_LETTERS = re.compile(r"[A-Za-z0-9_]+$")
_HEAD_LETTERS = re.compile(r"^[A-Za-z0-9_]+")
_PIECE_WORD = re.compile(r"[A-Za-z0-9_]+")
_CALL_OR_INDEX = re.compile(r"\(\)$|\[[^\]]*\]$")
_NOT_A_NAME = re.compile(r"[^A-Za-z_]+")
#: Text after which a verb comes ("is used to", "to"), as its infinitive.
_AFTER_USED_TO = re.compile(r"\bused to\s+$")
_AFTER_TO = re.compile(r"\bto\s+$")
#: How code writes a path, as a code span writes it: `a.b`, `a::b`, `a->b`, a chain across lines.
_PATH_SEPARATOR = re.compile(r"\s*(?:\.|::|->)\s*")


class Lexicon:
    def __init__(self, words: Iterable[str]) -> None:
        self.sorted = _Sorted(words)  # built once; every Vetter looks words up in it
        self.words = self.sorted.items

    @classmethod
    def learn(cls, texts: Iterable[str], min_count: int = 2) -> "Lexicon":
        """The words written at least `min_count` times (a typo written once is not learnt), of
        two letters or more but for "a" and "I" (the "s" of "object's" is not a word)."""
        counts = Counter(w.lower() for text in texts for w in _STANDALONE.findall(text))  # group 1
        return cls(w for w, n in counts.items() if n >= min_count and (len(w) > 1 or w in ("a", "i")))

    @classmethod
    def load(cls, path: Path) -> "Lexicon":
        return cls(path.read_text(encoding="utf-8").split())

    def text(self) -> str:
        return "\n".join(self.words) + "\n"

    def __contains__(self, word: str) -> bool:
        return self.sorted.has(word)

    def __len__(self) -> int:
        return len(self.words)

    def union(self, other: "Lexicon") -> "Lexicon":
        return Lexicon([*self.words, *other.words])


class _Sorted:
    """Prefix look-ups in a sorted list of lower-cased strings."""

    def __init__(self, items: Iterable[str]) -> None:
        self.items = sorted({i.lower() for i in items if i})
        self.set = frozenset(self.items)

    def has(self, word: str) -> bool:
        return word.lower() in self.set

    def has_prefix(self, prefix: str) -> bool:
        prefix = prefix.lower()
        i = bisect.bisect_left(self.items, prefix)
        return i < len(self.items) and self.items[i].startswith(prefix)


class _Union:
    """Look-ups in several `_Sorted`: the lexicon's, sorted once, and an answer's own names.
    Sorting the lexicon again with each answer's names was 5% of an explanation's time (225 dev
    answers, 5 pairs in turn under farm-bench: p50 0.93x, p95 0.955x, the same answers)."""

    def __init__(self, *parts: _Sorted) -> None:
        self.parts = parts

    def has(self, word: str) -> bool:
        return any(part.has(word) for part in self.parts)

    def has_prefix(self, prefix: str) -> bool:
        return any(part.has_prefix(prefix) for part in self.parts)


_LAST_TWO_WORDS = re.compile(r"([A-Za-z]+)\s+([A-Za-z]+)$")
_LAST_FOUR_WORDS = re.compile(r"([A-Za-z]+)\s+([A-Za-z]+)\s+([A-Za-z]+)\s+([A-Za-z]+)$")
_FIRST_WORD = re.compile(r"\s*(?:\(\)\s*)?([A-Za-z][A-Za-z']*)(?=[^A-Za-z0-9_'])")
#: Finite verbs that do not end in -s, which may follow the symbol's name.
_AUXILIARIES = frozenset({"can", "may", "will", "must", "should", "could", "would", "might"})
#: Words a sentence cannot end on: it would stop mid-phrase ("... is used to.").
_DANGLING = frozenset({"a", "an", "the", "to", "of", "and", "or", "with", "from", "by", "for", "that", "which"})
#: Words of a closed class that are never the verb after "used to" ("`Vec.from` is used to from a
#: `u8` object."): articles, prepositions, conjunctions, pronouns, and the finite forms of "be".
_NOT_INFINITIVES = _DANGLING | frozenset({
    "this", "these", "those", "its", "their", "his", "her", "our", "your", "my", "some", "any", "each", "every",
    "all", "no", "not", "in", "on", "at", "into", "onto", "over", "under", "about", "as", "than", "via", "per",
    "through", "between", "within", "without", "but", "if", "when", "while", "who", "whose", "where", "it",
    "they", "them", "he", "she", "we", "you", "i", "is", "are", "was", "were", "has", "have", "had"})


class _Written:
    """A hypothesis's text so far, and what `Vetter` asks of it."""

    __slots__ = ("text", "doubled", "in_span", "tail")

    def __init__(self, text: str) -> None:
        self.text = text
        self.doubled = _doubled(text)
        self.in_span = text.count("`") % 2 == 1
        tail = _TAIL_LETTERS.search(text)
        self.tail = tail.group() if tail else ""  # the word being written, if any


@lru_cache(maxsize=65536)
def _piece_words(piece: str) -> tuple[str, tuple[tuple[str, int], ...], bool]:
    """A token's text as `Vetter._prose_ok` reads it: the letters it starts with (continuing the
    word before it), its words with where each ends, and whether it ends inside a word. Asked of
    the same few thousand tokens all through a decode."""
    head = _HEAD_LETTERS.match(piece)
    return (head.group() if head else "", tuple((m.group(), m.end()) for m in _PIECE_WORD.finditer(piece)),
            _TAIL_LETTERS.search(piece) is not None)


def _doubled(text: str) -> bool:
    """The text ends on a word, or two words, written twice in a row ("Push Push", "a new a new")."""
    tail = text[-80:]
    match = _LAST_TWO_WORDS.search(tail)
    if match and match.group(1).lower() == match.group(2).lower():
        return True
    # Two words again: only when one of them says something ("a new a new"); two short function
    # words ("is a is a") are left to the judge, as refusing them left the base alone on a Rust
    # function with no sentence to finish ("Returns true if the is a is …").
    match = _LAST_FOUR_WORDS.search(tail)
    if not match or max(len(match.group(1)), len(match.group(2))) < 3:
        return False
    return [w.lower() for w in match.group(1, 2)] == [w.lower() for w in match.group(3, 4)]


class Vetter:
    """`vetter(tokens, candidate) -> bool` for `Engine.generate`: may this token come next?"""

    def __init__(self, pieces: list[str], lexicon: Lexicon, context: str, special: set[int],
                 end: int | None = None, opening: list[int] | None = None) -> None:
        self.pieces = pieces  # token id -> its text
        self.special = special
        self.end = end  # the end-of-answer token: allowed once the last word is whole
        #: Where the sentence's verb must come: right after the forced opening ("This Go method
        #: `Graph.RemoveRedundantEdges`"), whose subject has no verb yet ("... to the lowest weight.").
        self.verb_at = len("".join(pieces[t] for t in opening)) if opening else None
        idents = set(_IDENT.findall(context))
        parts = {p for i in idents for p in re.split(r"_+", i) if p}
        subwords = {w for i in idents for w in re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+", i)}
        self.idents = _Sorted(idents | parts)
        self.paths = _PATH_SEPARATOR.sub(".", context).lower()
        # Capitalised pieces of names that are no name themselves ("Set" of `SetWriteDeadline`):
        # as a verb they read as a typo of the word ("is used to Set a pipe.").
        self.fragments = frozenset(w for w in parts | subwords if w[:1].isupper() and not w.isupper()) - idents
        self.words = _Union(lexicon.sorted, _Sorted([*parts, *subwords, *idents]))
        self._written: dict[tuple[int, ...], _Written] = {}
        # The same words and spans are asked about by every beam and candidate of an answer
        # (~900 calls an explanation, most of them repeats): each is judged once.
        self._word_memo: dict[tuple[str, bool], bool] = {}
        self._span_memo: dict[tuple[str, bool], bool] = {}
        self._last: tuple[list[int], _Written] | None = None

    def written(self, tokens: list[int]) -> "_Written":
        """The text of `tokens` and what the checks ask of it, worked out once per hypothesis:
        each of a beam's candidates (up to 8 x beams + 8) asks the same of it, with the same list
        (`Engine.generate` never changes a hypothesis's list, it makes a new one)."""
        last = self._last
        if last is not None and last[0] is tokens:
            return last[1]
        key = tuple(tokens)
        state = self._written.get(key)
        if state is None:
            state = _Written(self.written(tokens[:-1]).text + self.pieces[tokens[-1]] if tokens else "")
            self._written[key] = state
        self._last = (tokens, state)
        return state

    def __call__(self, tokens: list[int], candidate: int) -> bool:
        if candidate == self.end:
            return self.ends_well(tokens)
        if candidate in self.special:
            return False
        before = self.written(tokens)
        piece = self.pieces[candidate]
        if not piece:
            return False
        if self.verb_at is not None and not self._verb_ok(before.text[self.verb_at:], piece):
            return False
        if not piece[0].isalpha() and before.doubled:
            return False  # the word just finished is the one before it again ("Push Push")
        if before.in_span:
            return self._code_span_ok(before.text, piece)
        if piece[0] in ".!?" and before.tail.lower() in _DANGLING:
            return False  # the sentence would stop mid-phrase ("is used to.")
        if "`" not in piece:
            return self._prose_ok(before, piece)
        # Opening a span: the prose before it must end on a whole word, the span start well.
        prose, _, rest = piece.partition("`")
        if not self._prose_ok(before, prose or " "):
            return False
        if "`" in rest:
            return self._span_ok(rest[: rest.index("`")], complete=True)
        return self._span_ok(rest, complete=False)

    def ends_well(self, tokens: list[int]) -> bool:
        """The answer may stop here: no code span left open, no word left half written, no
        phrase left open ("is used to")."""
        state = self.written(tokens)
        if state.in_span or state.doubled:
            return False
        if self.verb_at is not None and not self._verb_ok(state.text[self.verb_at:], " "):
            return False
        if state.tail.lower() in _DANGLING:
            return False
        tail = state.tail
        return not tail or (self._word_ok(tail, complete=True)
                            and self._placed_ok(tail, state.text, len(state.text) - len(tail)))

    def _prose_ok(self, before: "_Written", piece: str) -> bool:
        head, spans, ends_inside = _piece_words(piece)
        tail = before.tail
        tail_at = len(before.text) - len(tail)
        if head and tail:  # the piece continues the word being written
            complete = len(head) < len(piece)
            if complete and not self._placed_ok(tail + head, before.text, tail_at):
                return False
            return self._word_ok(tail + head, complete=complete)
        if tail and not self._clitic(before.text) and (
                not self._word_ok(tail, complete=True) or not self._placed_ok(tail, before.text, tail_at)):
            return False  # the piece ends a word that does not exist, or one out of place (`_placed_ok`)
        if not spans:
            return True
        text = before.text + piece
        for i, (word, end) in enumerate(spans):
            last = i == len(spans) - 1
            if self._clitic(text[: len(before.text) + end]):
                continue
            complete = not (last and ends_inside)
            if not self._word_ok(word, complete=complete):
                return False
            if complete and not self._placed_ok(word, text, len(before.text) + end - len(word)):
                return False
        return True

    def _placed_ok(self, word: str, text: str, start: int) -> bool:
        """A word that is one, written where it is. Not:
        - a capitalised piece of a name as the verb after "to" ("is used to Set a pipe."); capitals
          elsewhere are left alone: refusing every name's piece mid-sentence changed 13 of 120 Java
          answers (Java's names are all pieces), about as many for the worse as for the better;
        - after "used to", a word that cannot be a verb there: a closed-class word ("is used to from
          a `u8` object"), a capitalised one ("is used to Return a list", "is used to Tag the
          `Tags` function") or a name written as prose ("is used to gen_error(line)",
          "is used to tagName"); nor a verb's -s form ("is used to initializes"; "process" and
          "focus" are not -s forms: their stems are no words).
        Not refused: a noun phrase that ends on the noun it is about ("Return the name of the
        name."): refused, students wrote something else as empty or wrong as often as better
        (docs/student-notebook.md, stop 38); such an answer is declined instead (`fluency.says_nothing`)."""
        # `text[:start]` is what precedes the word, not sliced off: this is asked of every word
        # every beam completes (225 dev answers: 1.03x stop 37's time with a slice, 1.01x without).
        if word in self.fragments and _AFTER_TO.search(text, max(0, start - 6), start):
            return False
        if not _AFTER_USED_TO.search(text, max(0, start - 12), start):
            return True
        if not (word.isalpha() and word.islower()) or word in _NOT_INFINITIVES:
            return False
        if word[-1:] == "s" and word[-2:] != "ss":
            return not any(self._word_ok(stem, complete=True) for stem in (word[:-1], word[:-2], word[:-3] + "y") if stem)
        return True

    @staticmethod
    def _verb_ok(said: str, piece: str) -> bool:
        """The first word after the opening, once this piece completes it, is a finite verb: a
        third-person -s form ("returns", "is", "checks") or a modal ("can")."""
        if _FIRST_WORD.match(said):
            return True  # judged when it was completed
        text = (said + piece).lstrip()
        if text[:1] == "(" and not "()".startswith(text[:2]):
            return False  # arguments, not a verb ("WriteTo(b) WriteTo(c.EINVAL)."); a bare call "()" may go before it
        word = _FIRST_WORD.match(text)
        if word is None:
            return True
        w = word.group(1)
        if not w[0].islower():
            return False  # a name or a sentence's start, not its verb ("New Values returns ...")
        w = w.lower()
        if "'" in w:
            return w.endswith("n't")  # "doesn't", not a possessive ("New NewValue's value.")
        return (w.endswith("s") and not w.endswith("ss") and w not in ("this", "its", "as", "thus")) or w in _AUXILIARIES

    @staticmethod
    def _clitic(text: str) -> bool:
        """`text` ends on the 's of "object's" or the t of "doesn't"."""
        head, mark, tail = text.rpartition("'")
        return bool(mark) and tail.lower() in _CLITICS and head[-1:].isalpha()

    def _word_ok(self, word: str, complete: bool) -> bool:
        known = self._word_memo.get((word, complete))
        if known is None:
            low = word.lower()
            if low.isdigit():
                known = True
            elif complete:
                known = self.words.has(low) or low in ("a", "i")
            else:
                known = self.words.has_prefix(low)
            self._word_memo[word, complete] = known
        return known

    def _code_span_ok(self, before: str, piece: str) -> bool:
        span = before[before.rindex("`") + 1 :]
        if "`" in piece:  # closing: the span must name something in the context
            inside = span + piece[: piece.index("`")]
            return self._span_ok(inside, complete=True)
        return self._span_ok(span + piece, complete=False)

    def _span_ok(self, span: str, complete: bool) -> bool:
        """A span is a dotted path of identifiers, possibly called: `a.b`, `f()`, `x[0]`."""
        known = self._span_memo.get((span, complete))
        if known is None:
            known = self._span_memo[span, complete] = self._judge_span(span, complete)
        return known

    def _judge_span(self, span: str, complete: bool) -> bool:
        core = _CALL_OR_INDEX.sub("", span.strip())
        if not core:
            return not complete or bool(span.strip())
        names = core.split(".")
        for i, name in enumerate(names):
            last = i == len(names) - 1
            if not name:
                if last and not complete:
                    continue
                return False
            if not _IDENT.fullmatch(name):
                return bool(_NOT_A_NAME.fullmatch(core))  # an operator or a literal: `%`, `0`, `{}`
            if last and not complete:
                if not self.idents.has_prefix(name):
                    return False
            elif name.lower() not in self.idents.set:
                return False
        return len(names) == 1 or self._path_written(core, complete)

    def _path_written(self, path: str, complete: bool) -> bool:
        """A dotted path names something only where the context writes it (as `a.b`, `a::b` or
        `a->b`): of names that are each in the code, students made up `tests.tests` (10 of 120 Rust
        answers, 8 unreadable to the judge), `a.le`, `request.help`."""
        pattern = r"(?<![a-z0-9_])" + re.escape(path.lower()) + ("" if not complete else r"(?![a-z0-9_])")
        return re.search(pattern, self.paths) is not None
