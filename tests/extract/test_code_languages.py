"""Every code and web/config language: known symbols come out of the fixture files with the
right kind, qualified name and lines (through the real grammars and our query files)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, index_rows

EXPECTED = {
    "sample.py": [("class", "Shape", 5, 20), ("class", "Shape.Meta", 8, 9), ("method", "Shape.area", 11, 15),
                  ("method", "Shape.render", 17, 20), ("function", "Shape.render.inner", 18, 19),
                  ("function", "increment", 24, 25)],
    "sample.js": [("function", "greet", 2, 4), ("class", "Counter", 6, 9), ("method", "Counter.increment", 8, 8),
                  ("function", "double", 11, 11), ("constant", "LIMIT", 12, 12)],
    "sample.jsx": [("function", "Button", 1, 3), ("function", "Panel", 4, 4)],
    "sample.ts": [("interface", "Point", 1, 1), ("type", "Pair", 2, 2), ("enum", "Color", 3, 3),
                  ("function", "add", 6, 8), ("class", "Vector", 10, 13), ("method", "Vector.distance", 12, 12)],
    "sample.tsx": [("interface", "Props", 1, 1), ("function", "Title", 2, 4)],
    "Sample.java": [("class", "Sample", 4, 15), ("constant", "Sample.MAX", 5, 5), ("method", "Sample.Sample", 7, 7),
                    ("method", "Sample.toString", 9, 10), ("interface", "Sample.Visitor", 12, 12),
                    ("enum", "Sample.Mode", 14, 14)],
    "sample.go": [("struct", "Stack", 4, 4), ("interface", "Pusher", 6, 6), ("constant", "Limit", 8, 8),
                  ("method", "Stack.Push", 11, 11), ("function", "NewStack", 13, 13)],
    "sample.c": [("macro", "SQUARE", 2, 2), ("function", "sum", 5, 9), ("function", "names", 11, 11)],
    "sample.h": [("struct", "point", 3, 3), ("type", "point_t", 4, 4), ("enum", "color", 5, 5)],
    "sample.cpp": [("module", "geo", 2, 13), ("class", "geo.Box", 3, 8), ("method", "geo.Box.get", 6, 6),
                   ("struct", "geo.Point", 10, 10), ("function", "geo.area", 12, 12),
                   ("method", "geo.Box.size", 15, 15)],
    "sample.rs": [("struct", "Point", 2, 3), ("enum", "Shape", 5, 5), ("trait", "Area", 7, 7),
                  ("impl", "Shape", 9, 11), ("method", "Shape.area", 10, 10), ("constant", "ORIGIN", 13, 13),
                  ("function", "distance", 15, 15)],
    "sample.sh": [("function", "greet", 3, 5), ("function", "cleanup", 7, 9)],
    "page.html": [("style", "style", 3, 3), ("element", "main", 5, 5), ("script", "script", 6, 6)],
    "style.css": [("rule", ":root", 1, 1), ("variable", "--accent", 1, 1), ("keyframes", "spin", 2, 2),
                  ("rule", ".button, .link", 3, 3)],
    "style.scss": [("variable", "$base", 1, 1), ("mixin", "pad", 2, 2), ("rule", ".card", 3, 3)],
    "config.json": [("key", "name", 2, 2), ("key", "retries", 3, 3), ("key", "features", 4, 4)],
    "transform.xslt": [("template", "/", 3, 5), ("template", "row", 6, 8)],
    "data.xml": [("element", "bk101", 3, 3), ("element", "timeout", 4, 4)],
    "config.yaml": [("key", "service", 2, 3), ("key", "replicas", 4, 4)],
}
LANGUAGE = {"sample.h": "c", "sample.jsx": "javascript", "sample.tsx": "tsx", "Sample.java": "java",
            "page.html": "html", "style.css": "css", "style.scss": "scss", "config.json": "json",
            "transform.xslt": "xml", "data.xml": "xml", "config.yaml": "yaml", "sample.sh": "bash",
            "sample.rs": "rust", "sample.cpp": "cpp", "sample.c": "c", "sample.go": "go",
            "sample.ts": "typescript", "sample.js": "javascript", "sample.py": "python"}


@pytest.fixture(scope="module")
def rows(tmp_path_factory) -> list[dict]:
    root = tmp_path_factory.mktemp("fixtures") / "code"
    shutil.copytree(FIXTURES / "code", root)
    return index_rows(root, "--text")


@pytest.mark.parametrize("path", sorted(EXPECTED))
def test_known_symbols_come_out(rows, path):
    got = {(r["kind"], r["qualname"], r["start_line"], r["end_line"]) for r in rows if r["path"] == path}
    missing = [e for e in EXPECTED[path] if e not in got]
    assert not missing, f"{path}: missing {missing}; got {sorted(got)}"
    assert {r["language"] for r in rows if r["path"] == path} == {LANGUAGE[path]}


def test_every_language_has_a_query_file():
    from trm_lsp.extract.languages import LANGUAGES, query_path

    for language in LANGUAGES:
        if language.grammar is not None:
            assert query_path(language.id).is_file(), language.id


def test_text_is_the_symbol_lines_and_sha256_is_its_hash(rows):
    source = (FIXTURES / "code" / "sample.py").read_text().splitlines()
    area = next(r for r in rows if r["qualname"] == "Shape.area")
    assert area["text"] == "\n".join(source[10:15])
    assert area["text"].startswith("    @functools.cache")  # decorators belong to the symbol
    for row in rows:
        assert row["sha256"] == hashlib.sha256(row["text"].encode()).hexdigest(), row["qualname"]


def test_signature_docstring_and_parent(rows):
    area = next(r for r in rows if r["qualname"] == "Shape.area")
    assert area["signature"] == "def area(width: float, height: float) -> float"
    assert area["doc"] == "Width times height."
    assert area["parent"] == "Shape"
    increment = next(r for r in rows if r["qualname"] == "increment")
    assert increment["doc"] == "Adds one."  # a leading comment when there is no docstring
    push = next(r for r in rows if r["qualname"] == "Stack.Push")
    assert push["doc"] == "Push adds v on top."
    assert next(r for r in rows if r["qualname"] == "Point" and r["language"] == "rust")["doc"] == "A point in the plane."


def test_lsp_range_is_zero_based_and_exact(rows):
    area = next(r for r in rows if r["qualname"] == "Shape.area")
    assert area["range"] == {"start": {"line": 10, "character": 4}, "end": {"line": 14, "character": 29}}


def test_utf16_columns_for_non_ascii_lines(workspace: Path):
    # "é" is 2 bytes in UTF-8 but 1 UTF-16 unit; "😀" is 4 bytes and 2 units.
    (workspace / "u.js").write_text("const é = 1; function f() {}\nconst s = '😀'; function g() {}\n")
    rows = {r["name"]: r for r in index_rows(workspace)}
    assert rows["f"]["range"]["start"] == {"line": 0, "character": 13}
    assert rows["g"]["range"]["start"] == {"line": 1, "character": 16}
    assert rows["g"]["range"]["end"] == {"line": 1, "character": 31}


def test_a_scripts_interpreter_line_is_not_its_first_functions_doc():
    from trm_lsp.extract.code import extract_code

    script = b"#!/bin/bash\n# Copy the build to the server.\nsync_files() {\n  rsync -a build/ host:/srv/\n}\n"
    (item,) = [i for i in extract_code("bash", script) if i.name == "sync_files"]
    assert item.doc == "Copy the build to the server."
    bare = b"#!/bin/sh\nrestart() {\n  systemctl restart app\n}\n"
    assert [i.doc for i in extract_code("bash", bare) if i.name == "restart"] == [""]


@pytest.mark.parametrize("language, source, signature", [
    ("python", "def after_emoji(): # 😀\n    return 1\n", "def after_emoji()"),
    ("python", "def pair(a,  # the first\n         b):\n    return a, b\n", "def pair(a, b)"),
    ("go", "func Sum(a int, /* then */ b int) int { // adds\n\treturn a + b\n}\n", "func Sum(a int, b int) int"),
    ("rust", "fn half(a: u8 /* even */) -> u8 { a / 2 }\n", "fn half(a: u8) -> u8"),
])
def test_a_comment_inside_a_definitions_head_is_not_part_of_its_signature(language, source, signature):
    from trm_lsp.extract.code import extract_code

    assert [i.signature for i in extract_code(language, source.encode())] == [signature]


def test_a_cpp_function_returning_a_reference_is_named_by_its_name(tmp_path: Path):
    (tmp_path / "v.cpp").write_text("class V {\npublic:\n    double& at(int r) { return d[r]; }\n"
                                    "    int&& mv() { return 1; }\n    double d[4];\n};\n"
                                    "double& first(V& v) { return v.at(0); }\n", encoding="utf-8")
    assert [r["qualname"] for r in index_rows(tmp_path)] == ["V", "V.at", "V.mv", "first"]


def test_symbols_sharing_a_line_each_have_their_own_text_and_hash(tmp_path: Path):
    """The keys of a one-line JSON object and the functions of a minified file are told apart
    (one hash would mean one teacher answer for all of them); a symbol alone on its lines keeps
    them whole, indentation included, so the hashes its teacher answers are stored under hold."""
    (tmp_path / "cfg.json").write_text('{"name": "demo", "retries": 3, "timeout": 30}\n', encoding="utf-8")
    (tmp_path / "m.js").write_text("const add = (a, b) => a + b; const sub = (a, b) => a - b;\n", encoding="utf-8")
    (tmp_path / "k.py").write_text("class K:\n    def f(self):\n        return 1\n", encoding="utf-8")
    rows = {r["qualname"]: r for r in index_rows(tmp_path, "--text")}
    assert rows["retries"]["text"] == '"retries": 3' and rows["sub"]["text"] == "const sub = (a, b) => a - b;"
    shas = [rows[name]["sha256"] for name in ("name", "retries", "timeout", "add", "sub")]
    assert len(set(shas)) == 5 and rows["sub"]["sha256"] == hashlib.sha256(rows["sub"]["text"].encode()).hexdigest()
    assert rows["K.f"]["text"] == "    def f(self):\n        return 1"
