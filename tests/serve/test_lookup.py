"""Where a hover lands: the identifier under a UTF-16 column, in a real index of a real file."""

from __future__ import annotations

from trm_lsp.indexer import index_workspace
from trm_lsp.serve.lookup import symbol_at_position, word_at
from trm_lsp.store import Store, state_dir

SOURCE = 'def été(x):\n    return x\n\n\ndef after_emoji():  # 😀\n    return été(1)\n\n\ns = "😀"; naïve_sum = after_emoji\n'


def test_names_in_any_script_are_found_at_their_utf16_columns(tmp_path):
    (tmp_path / "accents.py").write_text(SOURCE, encoding="utf-8")
    store = Store(state_dir(tmp_path) / "index.sqlite3")
    index_workspace(tmp_path, store)
    lines = SOURCE.splitlines(keepends=True)
    for column in (4, 5, 6, 7):  # on `été`, its end included
        found = symbol_at_position(store, "accents.py", 0, column, lines)
        assert found is not None and found.name == "été", column
    assert symbol_at_position(store, "accents.py", 5, 12, lines).name == "été"  # a use of it
    # after an astral character (two UTF-16 units: one more column than its index), inside the name
    assert word_at(lines[8], lines[8].index("naïve") + 1 + 1) == "naïve_sum"
    assert symbol_at_position(store, "accents.py", 8, 30, lines).name == "after_emoji"
    store.close()


def test_a_hover_finds_the_setter_it_is_on_and_no_other_languages_symbol(tmp_path):
    """`@x.setter` above `def x(self, v)` made the setter's first line naming `x` the decorator's,
    so a hover on the setter showed the getter; a hover on a name this file does not define fell
    back to any file's symbol of that name, a TypeScript declaration's for a JavaScript `helper`."""
    py = "class A:\n    @property\n    def x(self):\n        return 1\n\n    @x.setter\n    def x(self, v):\n        pass\n"
    (tmp_path / "a.py").write_text(py, encoding="utf-8")
    (tmp_path / "types.ts").write_text("export function helper(): void {}\n", encoding="utf-8")
    (tmp_path / "other.py").write_text("def helper():\n    pass\n", encoding="utf-8")
    js = "module.exports.helper = function () {};\nhelper();\n"
    (tmp_path / "app.js").write_text(js, encoding="utf-8")
    (tmp_path / "main.c").write_text("int main(void) { return helper(); }\n", encoding="utf-8")
    store = Store(state_dir(tmp_path) / "index.sqlite3")
    index_workspace(tmp_path, store)
    setter = symbol_at_position(store, "a.py", 6, 9, py.splitlines(keepends=True))
    assert (setter.qualname, setter.start_line) == ("A.x", 6)
    assert symbol_at_position(store, "app.js", 1, 2, js.splitlines(keepends=True)).path == "types.ts"
    assert symbol_at_position(store, "main.c", 0, 26, ["int main(void) { return helper(); }\n"]) is None
    assert symbol_at_position(store, "README.md", 0, 2, ["helper() does it\n"]) is not None  # prose: any language
    store.close()
