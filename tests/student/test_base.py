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
    # What would be shown is clean; what is not is declined, and says why (Go's is, at stop 38:
    # "Push appends a Push from the Push.", which the check has counted since).
    assert not flags.flagged or (answer.declined and flags.tautology and answer.says_nothing), (answer.text, flags)
    assert not (flags.repeated_word or flags.loop or flags.non_words), (answer.text, flags)


def test_the_base_alone_names_a_go_symbol_first_as_go_docs_do(base):
    """Go's doc comments open with the name ("IsDST reports whether ..."), and the base learnt them
    so: left to write the name itself, through its copy pointer, it went wrong piece by piece and
    the vocabulary check refused the made-up name: "IsDST …", "WriteTo(b) WriteTo(c.EINVAL).". It
    writes the name, then a finite verb in lower case, and a whole sentence (README: the base alone)."""
    assert base.beams == 4 and base.meta["name_first"] == ["go"]
    for symbol, code in [
        ("Time.IsDST", "func (t Time) IsDST() bool {\n\t_, _, _, _, isDST := t.loc.lookup(t.Unix())\n\treturn isDST\n}"),
        ("Dial", "func Dial(network, address string) (Conn, error) {\n\tvar d Dialer\n\treturn d.Dial(network, address)\n}"),
    ]:
        name = symbol.rsplit(".", 1)[-1]
        answer = base.explain(code, name, symbol=symbol, kind="method" if "." in symbol else "function", language="go")
        first, verb, *rest = answer.text.split()
        assert first == name and verb[0].islower() and verb.endswith("s") and rest, answer.text
        assert answer.text.endswith("."), answer.text
    python = base.explain(CODE["python"][1], "read_config", symbol="read_config", kind="function")
    assert not python.text.startswith("read_config"), python.text  # Python's docstrings do not open with it


@pytest.mark.parametrize("language,kind,symbol,code,plain,garbled", [
    ("go", "struct", "Queue", "type Queue struct {\n\titems []int\n}",
     "holds the items of a first-in, first-out queue.", "is a The 1. he ad is a a The, which is a single a designed to the `"),
    ("python", "function", "read_config", CODE["python"][1],
     "reads a JSON configuration file and returns its contents.",
     "It takes a entry of the entry of a entry in the entry is a entry has."),
], ids=["go", "python"])
def test_the_gate_scores_what_the_old_student_wrote_below_plain_english(language, kind, symbol, code, plain, garbled):
    """The answers quoted in the issue that asked for a readable student, against plain ones."""
    from trm_lsp.student.data import header
    from trm_lsp.student.gate import Readability

    opening = f"This {language.capitalize() if language != 'go' else 'Go'} {kind} `{symbol}`"
    good, bad = Readability.of_base()(code, header(language, kind, symbol),
                                       [f"{opening} {plain}", f"{opening} {garbled}"], opening)
    assert good > bad + 0.5, (good, bad)


def test_the_score_of_what_follows_the_opening_is_the_same_with_the_opening_run_once():
    """`Readability` runs an opening all answers share with the prompt, not in every answer's
    row: each score must be what scoring every whole answer token by token gives."""
    import numpy as np

    from trm_lsp.student.data import header
    from trm_lsp.student.gate import Readability

    scorer = Readability.of_base()
    code, head = CODE["python"][1], header("python", "function", "read_config")
    opening = "This Python function `read_config`"
    answers = [f"{opening} reads a JSON configuration file and returns its contents.",
               f"{opening} is used to read a file.", f"{opening} It takes a entry of the entry of a entry."]
    scored = scorer.token_logprobs(code, head, answers, opening)
    whole = [float(np.mean(logps[skip:])) for logps, skip in scored]
    assert all(skip for _, skip in scored)  # all start with the opening: the shared-opening path
    assert np.allclose(scorer(code, head, answers, opening), whole, atol=1e-4)
    other = "read_config reads a file."  # no shared opening: scored whole, as before
    assert np.allclose(scorer(code, head, [answers[0], other], opening),
                       [whole[0], float(np.mean(scorer.token_logprobs(code, head, [other], opening)[0][0]))], atol=1e-4)


def test_between_near_equal_beams_the_student_says_what_reads_plainly(base):
    from trm_lsp.student.data import header
    from trm_lsp.student.engine import Generation

    code = CODE["python"][1]
    opening = "This Python function `read_config`"
    garbled = base.tok.encode(f"{opening} It takes a entry of the entry of a entry in the entry is a entry has.")
    plain = base.tok.encode(f"{opening} reads a JSON configuration file and returns its contents.")
    likeliest = Generation(garbled, -1.00, others=[Generation(plain, -1.05)])
    base.gate, gate = None, base.gate  # every answer reranked, however plainly the likeliest reads
    chosen, text, readability = base._choose(likeliest, code, header("python", "function", "read_config"), opening)
    assert chosen.tokens == plain and "JSON configuration" in text
    base.rerank = 0.0  # without the readability term the likeliest beam stands
    try:
        assert base._choose(likeliest, code, header("python", "function", "read_config"), opening)[0].tokens == garbled
    finally:
        base.rerank, base.gate = 1.0, gate



def test_a_whole_sentence_goes_before_a_fragment_and_a_fragment_says_it_was_cut(base):
    from trm_lsp.student.data import header
    from trm_lsp.student.engine import Generation
    from trm_lsp.student.infer import _tidy

    opening = "This Python function `read_config`"
    fragment = base.tok.encode(f"{opening} is used to create a string with information about the")
    whole = base.tok.encode(f"{opening} reads a JSON configuration file.")
    chosen, text, _ = base._choose(Generation(fragment, -0.5, others=[Generation(whole, -1.5)]), CODE["python"][1],
                                   header("python", "function", "read_config"), opening)
    assert chosen.tokens == whole and text.endswith("file.")
    assert _tidy(f"{opening} is used to create a string with information about the").endswith("information about …")
    # the last word of a fragment may be half written, or the one before it again: it goes
    assert _tidy("Return the distinct distin") == "Return the distinct …"
    assert _tidy("Return a generic generic") == "Return a generic …"
    assert _tidy(f"{opening} reads a file. It then") == f"{opening} reads a file."


def test_a_beam_stopped_in_its_second_sentence_counts_as_whole(base):
    """The student stops a beam once it has begun a sentence it will not show: tidied, that beam
    is a whole sentence and goes before a fragment, even when the fragment is likelier and reads
    well enough to be taken without scoring the others."""
    from trm_lsp.student.data import header
    from trm_lsp.student.engine import Generation

    opening = "This Python function `read_config`"
    fragment = base.tok.encode(f"{opening} reads a JSON configuration file and returns the")
    stopped = base.tok.encode(f"{opening} reads a JSON configuration file. It then")
    base.gate, gate = -100.0, base.gate  # the first text always reads well enough
    try:
        chosen, text, _ = base._choose(Generation(fragment, -0.5, others=[Generation(stopped, -1.5)]),
                                       CODE["python"][1], header("python", "function", "read_config"), opening)
    finally:
        base.gate = gate
    assert chosen.tokens == stopped and text == f"{opening} reads a JSON configuration file."


def test_an_answer_that_reads_badly_with_its_hint_is_written_again_from_the_code_alone():
    from trm_lsp.student.data import Record, header

    misleading = Record(input="def save_image(img, path):\n    img.write(path)", symbol="save_image", kind="function",
                        path="images.py",
                        language="python", output="This Python function `save_image` is used to create a wr in "
                        "Python 3.7.1.0.0-0 of are decided only (`img, path`) a listen.")
    student = Student.load(BASE, memory=[misleading])
    student.meta["openings"] = {"function": "This {language} function "}
    student.meta["language_names"] = {"python": "Python"}
    code = "def load_image(path):\n    return Image.open(path)"
    hint, _ = student.neighbour(code, "load_image")
    assert "Python 3.7" in hint
    opening = "This Python function `load_image`"
    head = header("python", "function", "load_image")
    bias = student._own_words("load_image", "", "python")
    with_hint = student._write(code, hint, head, opening, "load_image", 64, bias)[2]
    alone = student._write(code, "", head, opening, "load_image", 64, bias, beams=student.fallback_beams)[2]
    student.fallback_below = 0.0  # every answer reads below it: the student always writes again
    answer = student.explain(code, "load_image", symbol="load_image")
    assert answer.readability == pytest.approx(max(with_hint, alone))
    assert (answer.hint == "") == (alone > with_hint)
    student.fallback = False
    assert student.explain(code, "load_image", symbol="load_image").readability == pytest.approx(with_hint)


def test_an_answer_said_of_another_symbol_too_is_declined_and_names_it(base):
    code = "def close(self):\n    if self._file:\n        self._file.close()"
    base.forget()  # what the other tests had it say is not remembered
    first = base.explain(code, "close", symbol="io.close", kind="function")
    again = base.explain(code, "close", symbol="io.close", kind="function")
    other = base.explain(code, "close", symbol="os.close", kind="function")
    assert fluency.gist(first.text, "io.close") == fluency.gist(other.text, "os.close"), (first, other)
    assert not first.same_as and not again.same_as  # the same symbol asked again keeps its answer
    assert other.declined and other.same_as == "io.close"


def test_an_answer_that_says_nothing_is_declined_and_says_why(base):
    """The base alone wrote "Return the name of the name." for this dev sample (and such a sentence
    for 41 of the 225); hover and MCP show the structure and the closest teacher answer instead."""
    code = ("    def getNameByQName(self, name):\n        if name not in self._attrs:\n"
            "            raise KeyError(name)\n        return name")
    base.forget()
    answer = base.explain(code, "getNameByQName", symbol="AttributesImpl.getNameByQName", kind="method")
    assert answer.text == "Return the name of the name."
    assert answer.declined and answer.says_nothing == "name of the name" and not answer.same_as


def test_a_nested_method_is_named_by_its_class_and_name_as_prose_names_it(base):
    """`SocketTube.InternalReadPublisher.InternalReadSubscription.resumeReadEvent` in a sentence is a
    path to read past; the answer says `InternalReadSubscription.resumeReadEvent` (README: the other
    languages' corpora)."""
    code = "void resumeReadEvent() {\n    readPending = true;\n    selector.wakeup();\n}"
    symbol = "SocketTube.InternalReadPublisher.InternalReadSubscription.resumeReadEvent"
    saved, parts = dict(base.meta), base.name_parts
    base.meta["openings"] = {"method": "This {language} method "}
    try:
        answer = base.explain(code, "resumeReadEvent", symbol=symbol, kind="method", language="java")
        base.name_parts = 0
        whole = base.explain(code, "resumeReadEvent", symbol=symbol, kind="method", language="java")
    finally:
        base.meta, base.name_parts = saved, parts
    assert answer.text.startswith("This Java method `InternalReadSubscription.resumeReadEvent` "), answer.text
    assert whole.text.startswith(f"This Java method `{symbol}` "), whole.text


def test_a_function_is_named_by_its_own_name_not_its_module(base):
    """A Rust test in `mod tests` is `tests.test_vcge_s64` in the index; prose (and the teacher, 118
    of 176 times in the Rust corpus) says `test_vcge_s64`."""
    code = "fn test_vcge_s64() {\n    let a = 1;\n    assert!(vcge_s64(a, a));\n}"
    saved = dict(base.meta)
    base.meta["openings"] = {"function": "This {language} function "}
    try:
        answer = base.explain(code, "test_vcge_s64", symbol="tests.test_vcge_s64", kind="function", language="rust")
    finally:
        base.meta = saved
    assert answer.text.startswith("This Rust function `test_vcge_s64` "), answer.text


def test_a_fine_tuned_answer_that_does_not_say_what_the_doc_says_is_declined_for_it():
    """"Frobnicate" is no word the student can write: whatever it says, it does not say what the
    doc says, so hover and MCP show the structure (with the doc's sentence) and say why."""
    from trm_lsp.student.data import Record

    taught = Record(input="def load(path):\n    return open(path).read()", symbol="load", kind="function",
                    path="io.py", language="python", output="This Python function `load` reads a file.")
    student = Student.load(BASE, memory=[taught])  # a workspace student: it answers documented symbols
    code = 'def frob(registry):\n    """Frobnicate the widget registry."""\n    registry.clear()'
    answer = student.explain(code, "frob", symbol="frob", kind="function")
    assert answer.declined and answer.unlike_doc == "frobnicate", answer
    assert not answer.doc  # not left to the doc unread, as the base alone does: the student wrote one
    student.forget()
    student.defer_to_doc = False
    assert not student.explain(code, "frob", symbol="frob", kind="function").unlike_doc
