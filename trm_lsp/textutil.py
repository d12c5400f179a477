"""Words out of code and prose, shared by BM25 ranking and the student's tokenizer:
identifiers split on snake_case and camelCase, lower-cased; and a doc comment's first paragraph."""

from __future__ import annotations

import re

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def split_identifier(name: str) -> list[str]:
    """`parseHTTPResponse_v2` -> ['parse', 'http', 'response', 'v', '2']."""
    parts = []
    for chunk in name.split("_"):
        parts.extend(p.lower() for p in _CAMEL.findall(chunk))
    return parts


def words(text: str) -> list[str]:
    """Every identifier and its sub-words, lower-cased (both, so `getValue` matches `get`)."""
    out = []
    for token in _IDENT.findall(text):
        parts = split_identifier(token)
        low = token.lower()
        out.append(low)
        if len(parts) > 1:
            out.extend(parts)
    return out


def first_paragraph(text: str) -> str:
    """A doc comment's first paragraph on one line, whitespace collapsed."""
    return " ".join(text.strip().split("\n\n")[0].split())


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")
#: How a UTF-16 file (Windows editors' "Unicode") begins: little- or big-endian byte-order mark.
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def sentences(text: str) -> list[str]:
    """Split after `.`, `!` or `?` followed by whitespace: plain enough for the one-paragraph
    prose the teacher and doc comments write (`e.g. x` splits too; nothing here needs better)."""
    return [s for s in _SENTENCE_END.split(text.strip()) if s]


def summary(text: str, limit: int) -> str:
    """As many whole sentences of the first paragraph as fit in `limit` characters; when even
    the first does not, it is cut at a word with " …". A summary cut mid-word ("the modulus ope")
    reads as a broken answer, not a shortened one."""
    said = sentences(first_paragraph(text))
    kept = ""
    for sentence in said:
        longer = f"{kept} {sentence}".strip()
        if len(longer) > limit:
            break
        kept = longer
    if kept or not said:
        return kept
    return said[0][: limit - 2].rsplit(" ", 1)[0] + " …"
