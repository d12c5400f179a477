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
