"""The answer consult_logic_model composes: what bears on the question, within its budget,
nothing twice, and sources one line each."""

from __future__ import annotations

from trm_lsp.serve.answers import Answer
from trm_lsp.serve.consult import BRIEF_WORDS, Consultation, Source, compose


def answer(text: str, source: str = "teacher", symbol: str = "f") -> Answer:
    return Answer(symbol=symbol, kind="function", path="m.py", line=1, signature="", text=text, source=source,
                  teacher="t")


def test_the_best_source_speaks_first_the_second_once_where_it_bears():
    answers = [answer("The stack refuses a push when it is full. It keeps items in a list."),
               answer("Past its capacity, a push raises OverflowError. The stack grows by doubling.",
                      symbol="Stack.push"),
               answer("The stack of a queue hands out items first in, first out.", symbol="Queue.get")]
    text = compose("how does the stack refuse to grow past its capacity", answers, BRIEF_WORDS)
    assert text.startswith("The stack refuses a push when it is full.")
    assert "OverflowError" in text and "doubling" not in text  # one sentence from the second
    # ... in its own paragraph, naming whose it is: "Past its capacity" is not the first's
    assert text.split("\n\n")[1] == "`Stack.push`: Past its capacity, a push raises OverflowError."
    # A second source that shares one word with the question says nothing about it.
    unrelated = [answers[0], answer("A file is sent over the stack of a socket.", symbol="send")]
    assert "socket" not in compose("how does the stack refuse to grow past its capacity", unrelated, BRIEF_WORDS)
    assert "queue" not in text.lower()  # the third speaks on its source line only
    other = [answers[0], answer("A queue hands out items first in, first out.", symbol="Queue.get")]
    assert "queue" not in compose("how does the stack refuse to grow", other, BRIEF_WORDS).lower()


def test_the_budget_holds_and_nothing_is_said_twice():
    huge = " ".join(f"The loop multiplies step {n} into the product." for n in range(400))
    answers = [answer(huge), answer("The loop multiplies step 0 into the product.", symbol="g")]
    text = compose("how does the loop multiply", answers, BRIEF_WORDS)
    assert len(text.split()) <= BRIEF_WORDS
    assert text.count("The loop multiplies step 0 into the product.") == 1


def test_sources_are_one_line_each_and_do_not_repeat_the_answer():
    sources = [Source("m.py", 3, 9, "function", "f", "teacher t", 5.0, "It adds two numbers."),
               Source("n.py", 7, 8, "method", "C.g", "TRM student", None, "It subtracts.")]
    text = Consultation("It adds two numbers.", sources).text()
    lines = text.splitlines()
    assert lines[0] == "It adds two numbers." and lines[2] == "Sources:"
    assert lines[3] == "- `m.py:3` function `f` (teacher)"  # its sentence is the answer already; the model: structured
    assert lines[4] == "- `n.py:7` method `C.g` (TRM student): It subtracts."
    assert Consultation("x", sources, declined=True).structured()["declined"] is True


def test_a_source_line_does_not_repeat_the_name_it_shows():
    from trm_lsp.serve.consult import _without_opening

    assert _without_opening("This Python method `C.f` is used to parse the file.") == "Parse the file."
    assert _without_opening("This Go struct `Queue` holds items.") == "Holds items."
    assert _without_opening("It adds two numbers.") == "It adds two numbers."


def test_a_class_is_not_cited_beside_its_own_method():
    from trm_lsp.serve.consult import most_specific
    from trm_lsp.store.symbols import Symbol

    def sym(i: int, name: str, path: str, start: int, end: int) -> Symbol:
        return Symbol(i, 1, "class" if "." not in name else "method", name.split(".")[-1], name, None, start, end,
                      0, 0, start - 1, 0, end - 1, 0, "", "", f"{i:064x}", None, path, "python")

    stack, push, other_file = sym(1, "Stack", "s.py", 1, 30), sym(2, "Stack.push", "s.py", 5, 9), sym(3, "Queue", "q.py", 1, 40)
    assert most_specific([stack, push, other_file, push]) == [push, other_file]
    assert most_specific([stack, other_file]) == [stack, other_file]  # alone, the class is cited
