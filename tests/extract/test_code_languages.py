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


def _qualnames(language: str, source: str) -> list[tuple[str, str, int, int]]:
    from trm_lsp.extract.code import extract_code

    return [(i.kind, i.qualname, i.start_line, i.end_line) for i in extract_code(language, source.encode())]


def test_cpp_macros_the_parser_cannot_expand_do_not_become_names():
    """libstdc++ style (probe of stop 41): `_GLIBCXX_NOEXCEPT` after the parameters named 39 of its
    functions, a macro line before a template lost the template, `namespace std VISIBILITY(default)`
    made a function `namespace`, and `Box<T>::` at a line's end put a newline in the name."""
    source = ("namespace std VISIBILITY(default)\n{\nBEGIN_NAMESPACE_VERSION\n"
              "  template<typename T>\n    struct Node\n    {\n      T* ptr() { return p; }\n"
              "      void clear() NOEXCEPT { p = 0; }\n      T* p;\n    };\n"
              "  template<typename T>\n    CONSTEXPR\n    void\n    Box<T>::\n    grow(int n) NOEXCEPT\n    { n++; }\n"
              "END_NAMESPACE_VERSION\n}\nclass Q_CORE_EXPORT Widget { int n; };\n")
    assert _qualnames("cpp", source) == [
        ("module", "std", 1, 18), ("struct", "std.Node", 4, 10), ("method", "std.Node.ptr", 7, 7),
        ("method", "std.Node.clear", 8, 8), ("method", "std.Box.grow", 11, 16), ("class", "Widget", 19, 19)]
    # A macro that names a definition, with its body under it, stays the definition it was; an
    # all-capitals name is a name (the review's cases: blanked at first, they lost their symbols).
    assert [q for _, q, _, _ in _qualnames("c", "PHP_FUNCTION(strlen)\n{\n  return 1;\n}\n")] == ["strlen"]
    capitals = ("struct URL { int a; };\ntypedef struct _NODE { int x; } NODE;\nstruct RESULT compute(int x) { return r; }\n"
                "class HTTP final { void go() {} };\nnamespace GFX { int clear() { return 0; } }\n")
    assert [q for _, q, _, _ in _qualnames("cpp", capitals)] == [
        "URL", "NODE", "_NODE", "compute", "HTTP", "HTTP.go", "GFX", "GFX.clear"]


def test_rust_impls_of_types_without_a_name_keep_their_methods():
    """`impl<T> [T]` held core's 110 slice methods, extracted as free functions; `impl dyn Any`
    was named `dyn`, `*const T` `const`, `(A, B)` `(A,`."""
    source = ("impl<T> Hash for [T] {\n    fn hash(&self) {}\n}\nimpl<T, const N: usize> Debug for [T; N] {\n"
              "    fn fmt(&self) {}\n}\nimpl dyn Any + Send {\n    pub fn is<T>(&self) -> bool { true }\n}\n"
              "impl<T: ?Sized> Clone for *const T {\n    fn clone(&self) -> Self { *self }\n}\n"
              "impl<A, B> PartialEq for (A, B) {\n    fn eq(&self) -> bool { true }\n}\n"
              "impl<'a, T> Hash for &'a [T] {\n    fn hash(&self) {}\n}\n")
    methods = [q for kind, q, _, _ in _qualnames("rust", source) if kind == "method"]
    assert methods == ["slice.hash", "array.fmt", "Any.is", "pointer.clone", "tuple.eq", "slice.hash"]


def test_doc_comments_above_export_decorators_and_extern_c_are_read():
    """The doc comment of every exported JavaScript/TypeScript declaration was lost (it is above
    `export`, not above `function`), and so were those of decorated TypeScript members, whose
    decorators fell outside the range; `extern "C" void f()` lost its too."""
    from trm_lsp.extract.code import extract_code

    ts = ('/** Adds two numbers. */\nexport function add(a: number, b: number): number { return a + b; }\n'
          '/** Subtracts. */\nexport const sub = (a: number, b: number) => a - b;\n'
          '/** A service. */\n@Injectable()\nexport class Svc {\n  /** Runs it. */\n  @Log()\n  run(): void {}\n}\n')
    items = {i.qualname: i for i in extract_code("typescript", ts.encode())}
    assert {q: i.doc for q, i in items.items()} == {"add": "Adds two numbers.", "sub": "Subtracts.",
                                                    "Svc": "A service.", "Svc.run": "Runs it."}
    assert (items["Svc"].start_line, items["Svc.run"].start_line) == (6, 9)  # from the decorator
    js = "/** Greets. */\nexport default function greet(name) { return name; }\n"
    assert [i.doc for i in extract_code("javascript", js.encode())] == ["Greets."]
    cpp = '// Adds the library info.\nextern "C" void AddLibraryInfo(int b)\n{\n}\n'
    assert [(i.qualname, i.doc) for i in extract_code("cpp", cpp.encode())] == [("AddLibraryInfo", "Adds the library info.")]


def test_overload_signatures_fold_into_the_implementation():
    """rxjs' `Observable.pipe` was 12 symbols, 11 of them a line of types, each a teacher call, and
    `explain Observable.pipe` found the first signature. One symbol now, from the first signature
    (its doc is above it) to the end of the body; a signature with no body after it stays."""
    from trm_lsp.extract.code import extract_code

    ts = ("/** Parses. */\nexport function parse(x: string): number;\nexport function parse(x: number): number;\n"
          "export function parse(x: any): number { return 0; }\n"
          "class S {\n  f(a: string): void;\n  f(a: any): void {}\n}\ndeclare function declared(x: number): void;\n")
    assert [(i.qualname, i.start_line, i.end_line, i.doc) for i in extract_code("typescript", ts.encode())] == [
        ("parse", 2, 4, "Parses."), ("S", 5, 8, ""), ("S.f", 6, 7, ""), ("declared", 9, 9, "")]
    py = ("@overload\ndef ov(x: int) -> int: ...\n@typing.overload\ndef ov(x: str) -> str: ...\n"
          "def ov(x):\n    \"\"\"Either.\"\"\"\n    return x\n")
    assert [(i.qualname, i.start_line, i.end_line, i.doc) for i in extract_code("python", py.encode())] == [
        ("ov", 1, 7, "Either.")]


def test_object_literals_enum_constants_and_interfaces_hold_their_methods():
    """`const api = { get() {} }` gave `get` (parent `api`), a Java enum constant's own `code()`
    was a second `Color.code`, an anonymous class's `run()` was the outer class's, TypeScript missed
    `arrow: () => 2`, and Go's interface methods (`io.Reader.Read`) were not extracted at all."""
    js = "const api = {\n  get(url) { return url; },\n  put: (url) => url,\n  'delete-all': () => 0,\n};\n"
    assert [q for _, q, _, _ in _qualnames("javascript", js)] == ["api", "api.get", "api.put", "api.delete-all"]
    assert [q for _, q, _, _ in _qualnames("typescript", js)] == ["api", "api.get", "api.put", "api.delete-all"]
    java = ("class Outer {\n  enum Color {\n    RED { String code() { return \"r\"; } },\n    GREEN;\n"
            "    String code() { return \"g\"; }\n  }\n  Runnable task = new Runnable() {\n"
            "    public void run() {}\n  };\n}\n")
    assert [q for _, q, _, _ in _qualnames("java", java)] == [
        "Outer", "Outer.Color", "Outer.Color.RED", "Outer.Color.RED.code", "Outer.Color.code", "Outer.task",
        "Outer.task.run"]
    go = "package p\n\n// Reader reads.\ntype Reader interface {\n\t// Read reads into p.\n\tRead(p []byte) (int, error)\n}\n"
    assert _qualnames("go", go) == [("interface", "Reader", 4, 7), ("method", "Reader.Read", 6, 6)]
