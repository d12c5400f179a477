"""Finding the symbol a question is about (serve/search.py), on a real indexed workspace with
imported teacher answers: questions are phrased like explanations, and most symbols have none."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import index_rows, run_cli, write

TOPICS = ["parse a date", "sort the rows", "send an email", "hash a password", "resize an image", "count the words",
          "merge two lists", "open a socket", "format a price", "load a config"]


def make_workspace(root: Path) -> None:
    """40 explained helpers, and one unexplained function the question is about."""
    for n in range(40):
        write(root, f"helpers/h{n}.py", f"def helper_{n}(value):\n    return transform_{n}(value)\n")
    write(root, "logs/rotation.py", "def refresh_handle(path, handle):\n    if handle.closed:\n"
                                    "        handle = open(path, 'a')\n    return handle\n")
    rows = [r for r in index_rows(root, "--text") if r["name"].startswith("helper_")]
    records = [{"path": r["path"], "language": "python", "kind": r["kind"], "symbol": r["qualname"],
                "sha256": r["sha256"], "input": r["text"], "teacher": "deepseek-r1:1.5b",
                "output": f"This Python function `{r['qualname']}` is used to {TOPICS[i % 10]}. It takes a value "
                          f"as its parameter and returns the result of the transformation to the caller."}
               for i, r in enumerate(rows)]
    (root / "answers.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    run_cli("import", str(root), str(root / "answers.jsonl"))


async def test_a_question_in_an_explanations_words_finds_the_symbol_nobody_explained(tmp_path: Path):
    from trm_lsp.serve.search import SymbolSearch
    from trm_lsp.store import Store

    make_workspace(tmp_path)
    search = SymbolSearch(Store.for_workspace(tmp_path))
    await search.ready()
    question = ("This Python function is used to reopen a file when the handle is closed. It takes a path "
                "as its parameter and returns the handle to the caller.")
    hits = search.search(question)
    assert hits[0].symbol.qualname == "refresh_handle", [h.symbol.qualname for h in hits[:5]]
    # Stems: "handles" and "closing" are the code's `handle` and `closed`.
    assert search.search("which function handles closing")[0].symbol.qualname == "refresh_handle"
    # The words every explanation uses say nothing about which symbol is meant: a question of
    # those alone finds nothing rather than five symbols that happen to be explained.
    assert {"python", "function", "parameter", "returns", "caller"} <= search._terms.stop
    assert search.search("This Python function takes a value as its parameter and returns the result") == []


async def test_a_search_built_before_the_first_index_is_rebuilt_as_soon_as_it_lands(tmp_path: Path):
    """A question in the first second (an agent that starts with the editor) builds the search
    over an empty store; the first index landing must not leave it so for the 30 s between
    rebuilds while answers arrive."""
    from trm_lsp.indexer import index_workspace
    from trm_lsp.serve.search import SymbolSearch
    from trm_lsp.store import Store

    store = Store.for_workspace(tmp_path)
    try:
        search = SymbolSearch(store)
        await search.ready()
        assert search.search("greatest common divisor") == []
        write(tmp_path, "gcd.py", "def gcd(a, b):\n    \"\"\"Greatest common divisor.\"\"\"\n    return a\n")
        index_workspace(tmp_path, store)
        search.invalidate(at_once=True)  # what the daemon does when an index lands
        await search.ready()
        assert [h.symbol.name for h in search.search("greatest common divisor")] == ["gcd"]
        # An index that lands while a build is running is not lost with that build.
        import asyncio
        import threading

        gate, real = threading.Event(), search._build

        def read_then_wait():  # the store is read before the index lands, returned after
            built = real()
            gate.wait(5)
            return built

        search._build = read_then_wait
        search.invalidate(at_once=True)
        building = asyncio.create_task(search.ready())
        await asyncio.sleep(0.1)
        write(tmp_path, "mod.py", "def modulo(a, b):\n    \"\"\"Remainder of a division.\"\"\"\n    return a\n")
        index_workspace(tmp_path, store)
        search.invalidate(at_once=True)
        gate.set()
        await building
        search._build = real
        await search.ready()
        assert [h.symbol.name for h in search.search("remainder of a division")] == ["modulo"]
        search.invalidate()  # an answer landing: the search is rebuilt at most every 30 s
        write(tmp_path, "lcm.py", "def lcm(a, b):\n    \"\"\"Least common multiple.\"\"\"\n    return a\n")
        index_workspace(tmp_path, store)
        await search.ready()
        assert "lcm" not in [h.symbol.name for h in search.search("least common multiple")]
    finally:
        store.close()
