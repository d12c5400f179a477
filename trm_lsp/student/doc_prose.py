"""A doc comment's first paragraph as plain prose: the target of a harvested pretraining pair.

Comments are found where each language keeps them (above the symbol, or at the head of its body),
their markers removed (`//`, `/**`, `#`, ` * `), and the first paragraph kept with its markup turned
into words (Javadoc tags, JSDoc links, reST roles, HTML); directives, licences, generated-code
banners and one-word docs are refused with a reason, which harvest.py counts.
"""

from __future__ import annotations

import html
import re

from trm_lsp.extract.languages import line_comment
from trm_lsp.textutil import sentences

MIN_WORDS, MAX_WORDS = 4, 80


def comment_above(before: str, language: str) -> list[str]:
    """The doc comment right above a symbol (no blank line between), marks removed: a run of
    line comments or one block comment. Java counts only Javadoc (`/**`) and Rust only `///`
    and `/**`: their plain comments are notes, often commented-out code."""
    lines = before.split("\n")[:-1]
    i = len(lines)
    mark = line_comment(language)
    if mark == "//" and i and lines[i - 1].rstrip().endswith("*/"):
        while i and "/*" not in lines[i - 1]:
            i -= 1
        opening = "/**" if language in ("java", "rust") else "/*"
        return _unmark(lines[i - 1 :]) if i and lines[i - 1].lstrip().startswith(opening) else []
    while i and lines[i - 1].lstrip().startswith(mark) and not lines[i - 1].lstrip().startswith(("#!", "//!")):
        i -= 1
    run = [] if language == "java" else lines[i:]
    if language == "rust":  # a `// FIXME` line may sit inside a `///` block
        run = [line for line in run if re.match(r"\s*///(?!/)", line)]
    return _unmark(run)


def strip_head_comments(code: str) -> tuple[str, list[str]]:
    """Comments between a symbol's attributes (`@Ann`, `#[attr]`, `template<>`) and its keyword
    lie inside its span: cut them out, and return them as its doc when none is above."""
    lines = code.split("\n")
    kept: list[str] = []
    removed: list[str] = []
    i = 0
    while i < len(lines):
        s = lines[i].strip()
        if s.startswith("/*"):
            j = next((j for j in range(i, len(lines)) if "*/" in lines[j]), len(lines) - 1)
            if not lines[j].rstrip().endswith("*/"):
                break
            removed += lines[i : j + 1]
            i = j
        elif s.startswith("//"):
            removed.append(lines[i])
        elif s.startswith(("@", "#[", "template")) and i + 1 < len(lines):
            kept.append(lines[i])
        else:
            break
        i += 1
    return ("\n".join(kept + lines[i:]) if removed else code), _unmark(removed)


_MARKS = re.compile(r"^\s*(?:/\*+!?|//+!?|\*+(?!/)|#+)?[ \t]?|\s*\*+/\s*$")


def _unmark(lines: list[str]) -> list[str]:
    return [_MARKS.sub("", line).rstrip() for line in lines]


# ---------------------------------------------------------------- doc -> target prose

#: Lines that are instructions to tools, not prose: skipped wherever they are.
_DIRECTIVE = re.compile(
    r"^(?:go:\w|\+build|nolint|lint:|eslint|jshint|istanbul|c8 |prettier-|@ts-|noqa|type:|pylint:|pragma\b|NOLINT|"
    r"clang-format|#(?:end)?region|-\*-|vim?:|@(?:__PURE__|license|preserve|jsx|flow)|[@\\][{}]|"
    r"[@\\](?:name|defgroup|addtogroup|ingroup|file)\b|(?:CAPI3REF|KEYWORDS|METHOD|EXPERIMENTAL):|.*(?:\{\{\{|\}\}\}))")
#: Lines that end the first paragraph: tags, fields, sections, examples, Javadoc paragraphs.
_STOP = re.compile(
    r"^(?:@(?!brief\b|description\b|summary\b|desc\b|details?\b)\w|\\(?!brief\b|details?\b)[a-z]+\b|"
    r":(?:param|type|returns?|rtype|raises?|except|exception|arg|key|keyword|kwarg|var|ivar|cvar|yields?|meta)\b|"
    r"(?:Args|Arguments|Parameters|Params|Returns?|Raises|Yields|Examples?|Notes?|Usage|Attributes|See Also|"
    r"Warnings?|Todo|Keyword Args|Other Parameters)\s*:?\s*$|(?:TODO|FIXME|XXX)\b|>>>|```|#{1,6} |\.\. |"
    r"<(?:p|pre|ul|ol|dl|table|h\d|blockquote)\b)", re.I)
_TRIVIAL = [  # tried on the doc's first line (the license on all of it)
    ("license", re.compile(r"\bcopyright\b|\(c\) \d|SPDX-License|licensed under|all rights reserved|"
                           r"permission is hereby granted|General Public License|free software", re.I)),
    ("inherit_doc", re.compile(r"inheritdoc", re.I)),
    ("todo", re.compile(r"^\W*(?:TODO|FIXME|XXX|HACK)\b")),
    ("deprecated", re.compile(r"^\W*deprecated\b", re.I)),
    ("usage", re.compile(r"^\W*usage:", re.I)),
    ("see", re.compile(r"^\W*(?:@?see\b|@link\b)", re.I)),
    ("generated", re.compile(r"^\W*(?:This (?:file|code|class) (?:is|was) )?(?:auto-?)?generated (?:by|from)\b|DO NOT EDIT", re.I)),
    # banners (`----- private -----`, `%%% note`), bullet lists, commented-out code
    ("not_prose", re.compile(r"^([^\w\s`'\"(\[])\1|^[-*\u2022] |^(?:#!?\[|use |let |fn |import |//|/\*)")),
]
_HTML_TAGS = re.compile(r"</?(?:p|a|b|i|em|strong|code|pre|tt|br|ul|ol|li|dl|dt|dd|blockquote|table|tr|td|th|h\d|span|"
                        r"div|sup|sub|var|cite|small|big|u|s|strike|del|ins|hr|img|kbd|samp|abbr|q|dfn|meta)\b[^<>]*>", re.I)
_LEFTOVER = re.compile(r"\{@|(?<![\w.])@(?:param|returns?|throws|link|code|see)\b|\*/|/\*")


def explain_doc(lines: list[str], language: str) -> tuple[str, str | None]:
    """The first paragraph of a doc comment as plain prose, or ("", why it is no target)."""
    prose, reason = _prose(lines, language)
    if reason is not None:
        return "", reason
    words = len(prose.split())
    if words < MIN_WORDS or not re.search(r"[A-Za-z]{2}", prose):
        return "", "too_few_words"
    return (prose, None) if words <= MAX_WORDS else ("", "too_many_words")


def doc_sentence(doc: str, language: str) -> str:
    """What a symbol's doc comment says first, as a reader would quote it: its first paragraph's
    first sentence with the markup turned into words; "" for a doc that says nothing to quote (a
    licence, a directive, a bare tag list, one word). Unlike `explain_doc`, a short doc ("Decoding
    iterator.") or a long paragraph (its first sentence) is quoted: it is shown, not learnt from."""
    prose, reason = _prose(doc.splitlines(), language)
    first = next(iter(sentences(prose)), "") if reason is None else ""
    return first if len(re.findall(r"[A-Za-z]{2,}", first)) >= 2 else ""


def _prose(lines: list[str], language: str) -> tuple[str, str | None]:
    """The doc's first paragraph, markup out, or ("", why there is no prose to take)."""
    para: list[str] = []
    first = ""
    for line in lines:
        s = line.strip()
        if _DIRECTIVE.match(s):
            continue
        first = first or s
        if not s or re.fullmatch(r"[\W_]{3,}", s):  # blank, or a rule like `-----`
            if para:
                break
            continue
        if _STOP.match(s) and (para or not s.lower().startswith("<p")):
            break
        para.append(re.sub(r"^[@\\](?:brief|description|summary|desc|details?)\b:?\s*", "", s))
    for reason, pattern in _TRIVIAL:
        if pattern.search(" ".join(lines) if reason == "license" else first):
            return "", reason
    if not para:
        params = re.match(r"(?:@param|:param|Args|Parameters)\b", first)
        return "", "no_doc" if not first else "params" if params else "tag_only"
    prose = clean_prose(" ".join(para), language)
    return ("", "markup") if _LEFTOVER.search(prose) else (prose, None)


def _link(match: re.Match) -> str:
    """`{@link Foo#bar}` -> `Foo.bar`; a label wins: `{@link url text}`, `{@link Foo | text}`."""
    content = match.group(1).strip()
    target, _, label = content.partition("|") if "|" in content else content.partition(" ")
    return label.strip() or target.strip().lstrip("#").replace("#", ".")


def _tag(match: re.Match) -> str:
    """Any other inline tag: its text; `{@docRoot}` is nothing, a malformed `{@Foo}` is `Foo`."""
    return match.group(2) or ("" if match.group(1) in ("docRoot", "value", "inheritDoc") else match.group(1))


def _role(match: re.Match) -> str:
    """``:class:`~a.b.C` `` -> `` `C` ``, ``:func:`text <target>` `` -> `` `text` ``."""
    return "`" + (match.group(2).split(".")[-1] if match.group(1) else match.group(2)) + "`"


def clean_prose(text: str, language: str) -> str:
    """Markup out, prose in: reST roles, Javadoc/JSDoc/Doxygen tags, HTML, Markdown links."""
    text = re.sub(r"^\s*<p\b[^>]*>", "", text, flags=re.I)
    text = re.split(r"(?i)<p\b[^>]*>", text, maxsplit=1)[0]  # a Javadoc paragraph break
    text = re.sub(r"\{@(?:code|literal)\s+((?:[^{}]|\{[^{}]*\})*)\}", r"\1", text)
    text = re.sub(r"\[([^\]]*)\]\{@link[^}]*\}", r"\1", text)
    text = re.sub(r"\{@(?:link|linkplain|linkcode|value)\s+([^}]*)\}", _link, text)
    text = re.sub(r"\{@(\w+)\s*([^}]*)\}", _tag, text)
    if language in ("c", "cpp"):  # Doxygen; kernel-doc's `struct name - ` prefix
        text = re.sub(r"^(?:(?:struct|union|enum)\s+)?\w+(?:\(\))?\s+-\s+", "", text)
        text = re.sub(r"[@\\]link\s+\S+\s+(.*?)\s*[@\\]endlink", r"\1", text)
        text = re.sub(r"[@\\](?:a|p|c|e|b|em|ref)\s+(\S+)", r"\1", text)
        text = re.sub(r"(?<![\w%])%(?=\w)|^%\s+", "", text)
    text = _HTML_TAGS.sub(lambda m: " " if m.group().lower().startswith("<br") else "", text)
    text = re.sub(r"&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);", lambda m: html.unescape(m.group()), text)
    text = re.sub(r"(?::[\w-]+)+:`(~?)([^`<]*?)\s*(?:<[^>]*>)?`", _role, text)
    text = re.sub(r"`([^`<]+?)\s*<[^>]+>`_{1,2}", r"\1", text)  # reST links
    text = re.sub(r"``(.+?)``", r"`\1`", text)
    text = re.sub(r"\[([^\]]+)\]\([^)\s]*\)|\[([^\]]+)\]\[[^\]]*\]", lambda m: m.group(1) or m.group(2), text)
    text = re.sub(r"(?<![\w\]])\[(`[^`\]]+`|[A-Za-z_][\w.:*]*(?:\(\))?)\](?![(\[])", r"\1", text)  # [`Foo`], [io.Reader]
    text = re.sub(r"\*\*([^*]+)\*\*|(?<![\w*])\*([^*\s][^*]*?)\*(?![\w*])", lambda m: m.group(1) or m.group(2), text)
    text = re.sub(r"(?<![\w|])\|(\w[\w.]*)\|(?![\w|])", r"\1", text)  # reST substitutions: |None|
    text = re.sub(r"\\([<>*_\[\]`#|\\])", r"\1", text)  # Markdown escapes
    text = re.sub(r"::(?=\s|$)", ":", text)  # reST's literal-block marker
    return re.sub(r"\s+", " ", text).strip()
