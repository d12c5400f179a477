"""Which file is which language, and where its tree-sitter grammar and query live.

One table maps file extensions to languages. Grammars come from the maintained per-language
wheels (`tree-sitter-python`, ...); nothing is downloaded at run time. Query files are data in
`grammars/<language>-tags.scm`.
"""

from __future__ import annotations

import functools
import importlib
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

GRAMMAR_DIR = Path(__file__).resolve().parent.parent / "grammars"


@dataclass(frozen=True)
class Language:
    id: str
    #: "code" and "web" go through tree-sitter; "document" through the document extractors.
    family: str
    extensions: tuple[str, ...]
    #: (module, function) that returns the tree-sitter language pointer.
    grammar: tuple[str, str] | None = None
    #: Node types that can hold a definition. When given, the query runs only on candidate
    #: nodes found by walking these, instead of on every node of the tree: the same matches
    #: (tests/bench check it against `ast`) for about half the query time.
    scopes: frozenset[str] | None = None
    #: How people write its name, where that is not the id capitalised.
    spelled: str = ""
    #: What starts a line comment: doc comments are read (student/doc_prose.py) and written
    #: (student/code_input.py) with it.
    line_comment: str = "//"

    @property
    def name(self) -> str:
        return self.spelled or self.id.capitalize()


LANGUAGES: tuple[Language, ...] = (
    Language("python", "code", (".py", ".pyi"), ("tree_sitter_python", "language"), frozenset({
        "module", "block", "class_definition", "function_definition", "decorated_definition", "if_statement",
        "elif_clause", "else_clause", "for_statement", "while_statement", "try_statement", "except_clause",
        "except_group_clause", "finally_clause", "with_statement", "match_statement", "case_clause", "ERROR",
    }), line_comment="#"),
    Language("javascript", "code", (".js", ".jsx", ".mjs", ".cjs"), ("tree_sitter_javascript", "language"),
             spelled="JavaScript"),
    Language("typescript", "code", (".ts", ".mts", ".cts"), ("tree_sitter_typescript", "language_typescript"),
             spelled="TypeScript"),
    Language("tsx", "code", (".tsx",), ("tree_sitter_typescript", "language_tsx"), spelled="TypeScript"),
    Language("java", "code", (".java",), ("tree_sitter_java", "language")),
    Language("go", "code", (".go",), ("tree_sitter_go", "language")),
    Language("c", "code", (".c", ".h"), ("tree_sitter_c", "language")),
    Language("cpp", "code", (".cpp", ".cc", ".cxx", ".hpp", ".hh", ".hxx"), ("tree_sitter_cpp", "language"),
             spelled="C++"),
    Language("rust", "code", (".rs",), ("tree_sitter_rust", "language")),
    Language("bash", "code", (".sh", ".bash"), ("tree_sitter_bash", "language"), line_comment="#"),
    Language("html", "web", (".html", ".htm"), ("tree_sitter_html", "language"), spelled="HTML"),
    Language("css", "web", (".css",), ("tree_sitter_css", "language"), spelled="CSS"),
    Language("scss", "web", (".scss",), ("tree_sitter_scss", "language"), spelled="SCSS"),
    Language("json", "web", (".json",), ("tree_sitter_json", "language"), spelled="JSON"),
    Language("xml", "web", (".xml", ".xslt", ".xsl", ".svg"), ("tree_sitter_xml", "language_xml"), spelled="XML"),
    Language("yaml", "web", (".yaml", ".yml"), ("tree_sitter_yaml", "language"), spelled="YAML", line_comment="#"),
    Language("pdf", "document", (".pdf",), spelled="PDF"),
    Language("docx", "document", (".docx",), spelled="Word"),
    Language("drawio", "document", (".drawio", ".dtmp"), spelled="Draw.io"),
    Language("visio", "document", (".vsdx",)),
    Language("image", "document", (".png", ".jpg", ".jpeg", ".tiff", ".tif", ".bmp")),
)

BY_ID = {lang.id: lang for lang in LANGUAGES}
BY_EXTENSION = {ext: lang for lang in LANGUAGES for ext in lang.extensions}


def line_comment(language_id: str) -> str:
    """What starts a line comment in this language ("//" for ids not in the table)."""
    lang = BY_ID.get(language_id)
    return lang.line_comment if lang else "//"


# A `.h` file is C++ when it uses a construct that C does not have.
_CPP_HEADER = re.compile(
    rb"^\s*(?:class\s+\w+[^;]*\{|namespace\s+\w*\s*\{|template\s*<|public:|private:|protected:)"
    rb"|\bstd::|#include\s*<(?:string|vector|memory|map|iostream)>",
    re.MULTILINE,
)


def language_for(path: str | Path) -> Language | None:
    """The language a file is indexed as, by its extension (case-insensitive)."""
    return BY_EXTENSION.get(Path(path).suffix.lower())


def refine(language: Language, data: bytes) -> Language:
    """Settle cases the extension leaves open: a `.h` header written in C++."""
    if language.id == "c" and _CPP_HEADER.search(data[:65536]):
        return BY_ID["cpp"]
    return language


#: Bump when extraction changes in a way the query files do not show (names, ranges, kinds,
#: signatures, docs). 2: comments are cut out of signatures. 3: C++ names under a reference
#: declarator (`double& at`); items sharing a line have their own bytes as text. 4: DOCX
#: sections from the XML (headings by outline level and based-on styles, the text Word shows),
#: diagram files without their bad pages, EXIF-upright and multi-page images. 5: C/C++ macros
#: blanked before parsing, names across lines; Rust impls of slices, pointers, tuples, `dyn`; doc
#: comments above `export` and TypeScript decorators; overload signatures folded into their
#: implementation; object literals and Java enum constants as scopes; Go interface methods.
EXTRACTOR_VERSION = 5


@functools.lru_cache(maxsize=None)
def extractor_fingerprint() -> str:
    """Changes whenever extraction would give other results: stored with the index, so an
    upgraded trm-lsp re-extracts everything instead of mixing old and new symbols."""
    import hashlib

    digest = hashlib.sha256(str(EXTRACTOR_VERSION).encode())
    for path in sorted(GRAMMAR_DIR.glob("*.scm")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=None)
def ts_language(language_id: str):
    """The tree-sitter `Language` for a code or web language, loaded once per process."""
    import tree_sitter

    module_name, func = BY_ID[language_id].grammar  # type: ignore[misc]
    module = importlib.import_module(module_name)
    with warnings.catch_warnings():
        # tree-sitter-scss 1.0 still hands out an int pointer; it works, but warns.
        warnings.simplefilter("ignore", DeprecationWarning)
        return tree_sitter.Language(getattr(module, func)())


#: Languages that share another's query file (TSX is TypeScript with JSX on top).
QUERY_FILE = {"tsx": "typescript"}


def query_path(language_id: str) -> Path:
    return GRAMMAR_DIR / f"{QUERY_FILE.get(language_id, language_id)}-tags.scm"


@functools.lru_cache(maxsize=None)
def ts_query(language_id: str):
    """The compiled tags query for a language, from `grammars/<language>-tags.scm`."""
    import tree_sitter

    source = query_path(language_id).read_text(encoding="utf-8")
    return tree_sitter.Query(ts_language(language_id), source)


@functools.lru_cache(maxsize=None)
def definition_roots(language_id: str) -> frozenset[str]:
    """Node types that patterns capture as `@definition.*` at their outermost node."""
    roots = set()
    for line in query_path(language_id).read_text(encoding="utf-8").splitlines():
        match = re.match(r"\((\w+)\b.*\)\s*@definition\.\w+\s*$", line.strip())
        if match:
            roots.add(match.group(1))
    return frozenset(roots)


@functools.lru_cache(maxsize=None)
def ts_parser(language_id: str):
    import tree_sitter

    return tree_sitter.Parser(ts_language(language_id))
