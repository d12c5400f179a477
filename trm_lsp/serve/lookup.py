"""From an editor position, a path:line or a name to the indexed symbol it means.

Every lookup is an indexed SQLite query (`store/symbols.py`) on the loop thread: a hover must
cost a millisecond, so nothing here parses or reads files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from trm_lsp.extract.languages import language_for
from trm_lsp.store import Store, symbols
from trm_lsp.store.symbols import Symbol

if TYPE_CHECKING:
    from trm_lsp.serve.search import SymbolSearch

_WORD = re.compile(r"(?:[^\W\d]|\$)[\w$]*")  # identifiers in any script: `été`, `naïve_sum`
#: Kinds that get an "Explain" code lens.
LENS_KINDS = {"function": "function", "method": "function", "constructor": "function", "class": "class",
              "struct": "class", "interface": "class", "trait": "class", "enum": "class", "impl": "class"}


def uri_to_path(uri: str) -> Path | None:
    """The resolved local path of a `file:` URI (None for `untitled:` and the like)."""
    parsed = urlparse(uri)
    return Path(unquote(parsed.path)).resolve() if parsed.scheme == "file" else None


def uri_to_rel(uri: str, root: Path) -> str | None:
    """The workspace-relative `/` path of a `file:` URI, or None when it lies outside."""
    try:
        path = uri_to_path(uri)
        return path.relative_to(root).as_posix() if path is not None else None
    except (ValueError, OSError):
        return None


class NotFound(LookupError):
    """No indexed symbol is what a target names."""


@dataclass(frozen=True)
class Target:
    """What to explain, as an editor command, an MCP call or the command line names it: a
    qualified name, a line (1-based), or both (the name is tried first), in a file or anywhere."""

    path: str | None = None
    qualname: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.qualname or (str(self.line) if self.line is not None else "?")
        return f"{self.path}{'::' if self.qualname else ':'}{where}" if self.path else where


async def find(store: Store, search: "SymbolSearch", target: Target) -> Symbol | None:
    """The symbol a target means: by qualified name (in its file when it names one), else the
    innermost symbol at its line, else, for a name nobody indexed as such, a BM25 hit whose last
    name part matches (`Parser.parse` finds `parse` in a module)."""
    if target.qualname:
        found = symbols.by_qualname(store, target.qualname, target.path)
        if found is not None:
            return found
    if target.path is not None and target.line is not None:
        found = symbols.at_line(store, target.path, target.line)
        if found is not None:
            return found
    if not target.qualname:
        return None
    await search.ready()
    last = target.qualname.split(".")[-1]
    for hit in search.search(target.qualname, k=20):
        if hit.symbol.name == last and (target.path is None or hit.symbol.path == target.path):
            return hit.symbol
    return None


def word_at(line_text: str, character: int) -> str:
    """The identifier under a 0-based UTF-16 column of `line_text`."""
    column = _utf16_to_index(line_text, character)
    for match in _WORD.finditer(line_text):
        if match.start() <= column <= match.end():
            return match.group()
    return ""


def symbol_at_position(store: Store, rel: str, line: int, character: int, lines: list[str]) -> Symbol | None:
    """What a hover at (0-based line, UTF-16 column) is about: the symbol defined there when the
    cursor is on its name, else a known symbol of that name (same file first, then anywhere)."""
    if not 0 <= line < len(lines):
        return None
    word = word_at(lines[line], character)
    if not word:
        return None
    enclosing = symbols.select(store, "WHERE f.path = ? AND s.name = ? AND s.sl <= ? AND ? <= s.el ORDER BY s.sl DESC",
                            (rel, word, line, line))
    for symbol in enclosing:
        if _first_line_naming(symbol, word, lines) == line:  # its definition, not a use in its body
            return symbol
    same_file = symbols.select(store, "WHERE f.path = ? AND s.name = ? ORDER BY s.start_line LIMIT 1", (rel, word))
    if same_file:
        return same_file[0]
    # Elsewhere: from code, only in a language it could be calling (a JavaScript `helper` is not
    # a TypeScript declaration's, nor a C++ `clear` a Python one's); from anything else (a README,
    # a YAML file, a document) in any language.
    language = language_for(rel)
    kin = _KIN.get(language.id, (language.id,)) if language is not None and language.family == "code" else ()
    marks = ", ".join("?" * len(kin))
    where = f"WHERE s.name = ? AND f.language IN ({marks})" if kin else "WHERE s.name = ?"
    anywhere = symbols.select(store, f"{where} ORDER BY length(f.path), f.path LIMIT 1", (word, *kin))
    return anywhere[0] if anywhere else None


#: Languages whose symbols a code file of each language can use (others: its own).
_KIN = {language: family for family in (("javascript", "typescript", "tsx"), ("c", "cpp")) for language in family}


def _first_line_naming(symbol: Symbol, word: str, lines: list[str]) -> int | None:
    """The first line of the symbol that holds its name, decorators and attributes left out
    (`@x.setter` names the getter, `def x(self, v)` on the next line is the setter)."""
    pattern = re.compile(rf"(?<![\w$]){re.escape(word)}(?![\w$])")
    for number in range(symbol.sl, min(symbol.el, len(lines) - 1) + 1):
        if pattern.search(lines[number]) and not lines[number].lstrip().startswith(("@", "#[")):
            return number
    return None


def _utf16_to_index(text: str, units: int) -> int:
    if text.isascii():
        return min(units, len(text))
    count = 0
    for index, char in enumerate(text):
        if count >= units:
            return index
        count += 2 if ord(char) > 0xFFFF else 1
    return len(text)
