"""The doc comment's opening verb, which the student's beam search lifts (`infer.DOC_VERB_BIAS`)."""

from pathlib import Path

import pytest

from trm_lsp.student.code_input import with_doc
from trm_lsp.student.doc_verb import code_doc, doc_verb


@pytest.mark.parametrize("doc, language, name, verb", [
    ("Convert Tcl object to True or False.", "python", "getboolean", "converts"),
    ("Return the list of entries.\n\nThe list is sorted.", "python", "entries", "returns"),
    ("Returns the number of elements in this list.", "java", "size", "returns"),
    ("Push adds x to the back of the queue.", "go", "Queue.Push", "adds"),
    ("Apply the patch to the tree.", "rust", "apply", "applies"),
    ("Fetch the remote refs now.", "typescript", "fetch", "fetches"),
    ("Emit a record.", "python", "Handler.emit", "emits"),  # too short for a pretraining target, still a verb
    (":param x: the value\n:returns: nothing", "python", "f", ""),
    ("If newpos is specified, sets the position.", "python", "sash", ""),
    ("Helper for the parser.", "python", "_helper", ""),
    ("Called to shutdown and close a request.", "python", "shutdown_request", ""),
    ("True if the widget is mapped.", "python", "winfo_ismapped", ""),
    ("HTTP request handler with GET commands.", "python", "Handler", ""),
    ("L.index(value) -> integer -- return first index of value.", "python", "index", ""),
    ("A FIFO ring buffer of ints.", "go", "Queue", ""),
    ("", "python", "f", ""),
])
def test_the_verb_a_doc_opens_with_in_the_third_person_or_none(doc, language, name, verb):
    assert doc_verb(doc, language, name) == verb


def test_the_doc_is_read_back_from_the_code_the_student_reads():
    """A Python docstring inside the code, a Go comment put on top by `with_doc`: both found, so
    every caller of `Student.explain` (hover, MCP, eval) lifts the same verb."""
    python = 'def getboolean(s):\n    """Convert Tcl object to True or False."""\n    return bool(s)\n'
    assert code_doc(python, "python") == "Convert Tcl object to True or False."
    go = with_doc("func (q *Queue) Push(x int) {\n\tq.items = append(q.items, x)\n}", "Push adds x to the queue.", "go")
    assert doc_verb(code_doc(go, "go"), "go", "Queue.Push") == "adds"
    assert code_doc("def f():\n    return 1\n", "python") == ""
    assert code_doc("anything", "klingon") == ""
    for document in ("pdf", "docx", "drawio", "visio", "image"):  # sections of the sample workspace: no grammar
        assert code_doc("Section 2. Results\nThe model converges.", document) == ""


def test_a_fine_tuned_student_lifts_its_doc_verb_and_the_base_alone_does_not():
    from trm_lsp.student.checkpoint import shipped_base
    from trm_lsp.student.infer import DOC_VERB_BIAS, Student

    base = shipped_base()
    assert base is not None
    student = Student.load(Path(base), memory=[])
    code = 'def getboolean(s):\n    """Convert Tcl object to True or False."""\n    return bool(s)\n'
    converts = student.tok.encode(" converts")
    assert len(converts) == 1
    assert converts[0] not in student._own_words("getboolean", code, "python", None)  # the base alone
    student.doc_verb_bias = DOC_VERB_BIAS  # as a student fine-tuned from the base has it
    assert student._own_words("getboolean", code, "python", None)[converts[0]] == DOC_VERB_BIAS
    assert converts[0] not in student._own_words("getboolean", code, "python", "If s is set, convert it.")
