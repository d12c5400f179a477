"""`trace_logic`'s callers on real files and real grammars: the calls of a name, each line once;
never the comment, the string, the header's declaration or the definition that only name it."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import write
from trm_lsp.indexer import index_workspace
from trm_lsp.serve.trace import callers
from trm_lsp.store import Store, symbols


def test_callers_are_calls_not_comments_strings_or_declarations(tmp_path: Path):
    write(tmp_path, "gcd.h", "#pragma once\n/* gcd(a, b) = gcd(b, a mod b) */\nlong gcd(long a, long b);\n")
    write(tmp_path, "gcd.c", "#include \"gcd.h\"\n/* Euclid: gcd(a, b) = gcd(b, a mod b), gcd(a, 0) = |a|. */\n"
                             "long gcd(long a, long b) { return b ? gcd(b, a % b) : a; }\n"
                             "long reduce(long n, long d) { return n / gcd(n, d) + d / gcd(d, n); }\n")
    write(tmp_path, "use.py", "def show(a, b):\n    # gcd(a, b) is in C\n    print('gcd(a, b)')\n"
                              "    return lib.gcd(a, b)\n")
    write(tmp_path, "lib.rs", "fn gcd(a: u64, b: u64) -> u64 { a }\nfn lcm(a: u64) -> u64 { gcd::<u64>(a, 1) }\n")
    store = Store.for_workspace(tmp_path)
    try:
        index_workspace(tmp_path, store)
        gcd = next(s for s in symbols.in_file(store, "gcd.c") if s.name == "gcd")
        found = callers(tmp_path, store.path, gcd)
    finally:
        store.close()
    assert sorted((c["path"], c["line"], c["in"]) for c in found) == [
        ("gcd.c", 4, "reduce"), ("lib.rs", 2, "lcm"), ("use.py", 4, "show")]


def test_a_named_callback_or_an_anonymous_class_method_is_not_a_caller(tmp_path: Path):
    write(tmp_path, "app.js", "app.get('/', function handler(req, res) {\n  return res;\n});\n"
                              "function handler(x) { return x; }\nserve(handler, handler(1));\n")
    write(tmp_path, "Main.java", "class Main {\n  void go() {\n    run(new Runnable() { public void handler(int a) {} });\n"
                                 "    this.handler(2);\n  }\n  void handler(int a) {}\n}\n")
    store = Store.for_workspace(tmp_path)
    try:
        index_workspace(tmp_path, store)
        handler = [s for s in symbols.in_file(store, "app.js") if s.name == "handler"][-1]
        found = sorted((c["path"], c["line"]) for c in callers(tmp_path, store.path, handler))
    finally:
        store.close()
    assert found == [("Main.java", 4), ("app.js", 5)]  # by name, as the tool says: not lines 1 and 3
