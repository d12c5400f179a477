"""The pretrained base shipped inside the package loads and answers readably, with no workspace
answers at all: what a user sees in the first minute."""

from __future__ import annotations

import time

import pytest

from trm_lsp.student import fluency
from trm_lsp.student.checkpoint import BASE, shipped_base
from trm_lsp.student.infer import Student

CODE = {
    "python": ("read_config", "def read_config(path):\n    with open(path) as fh:\n        return json.load(fh)"),
    "go": ("Stack.Push", "func (s *Stack) Push(v int) {\n\ts.items = append(s.items, v)\n}"),
    "java": ("Counter.increment", "public int increment() {\n    count += 1;\n    return count;\n}"),
    "rust": ("is_empty", "pub fn is_empty(&self) -> bool {\n    self.len == 0\n}"),
}


@pytest.fixture(scope="module")
def base() -> Student:
    assert shipped_base() is not None, f"no base checkpoint in {BASE}: run `make pretrain`"
    return Student.load(BASE, memory=[])


def test_the_shipped_base_is_small_and_documented():
    size = sum(p.stat().st_size for p in BASE.iterdir())
    assert size <= 20e6, f"{size / 1e6:.1f} MB"
    assert (BASE / "manifest.json").exists() and (BASE / "lexicon.txt").exists()


@pytest.mark.parametrize("language", sorted(CODE))
def test_the_base_alone_answers_readably_and_fast(base, language):
    symbol, code = CODE[language]
    started = time.perf_counter()
    answer = base.explain(code, symbol.rsplit(".", 1)[-1], symbol=symbol, kind="function", language=language)
    assert time.perf_counter() - started < 2.0
    words = answer.text.split()
    assert 3 <= len(words) and answer.text[-1] in ".!?`)", answer.text
    flags = fluency.check(answer.text, code, symbol)
    assert not flags.flagged, (answer.text, flags)
