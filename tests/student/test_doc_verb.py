"""The doc comment's opening verb, which the student's beam search lifts (`infer.DOC_VERB_BIAS`)."""

from pathlib import Path

import pytest

from trm_lsp.student.code_input import with_doc
from trm_lsp.student.doc_verb import base_form, code_doc, doc_verb, says_the_doc_verb


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
    ("WriteTo implements the PacketConn WriteTo method.", "go", "UnixConn.WriteTo", ""),  # says what it is, not does
    ("Always returns null.", "java", "getExternalSubset", ""),
    ("Optionally sets the timeout.", "python", "timeout", ""),
    ("Apply the patch to the tree.", "python", "patch", "applies"),
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
    doc = code_doc(code, "python")
    assert converts[0] not in student._own_words("getboolean", doc, "python")  # the base alone
    student.doc_verb_bias = DOC_VERB_BIAS  # as a student fine-tuned from the base has it
    assert student._own_words("getboolean", doc, "python")[converts[0]] == DOC_VERB_BIAS
    assert converts[0] not in student._own_words("getboolean", "If s is set, convert it.", "python")


@pytest.mark.parametrize("answer, symbol, verb, says", [
    # The student's frame over the doc's "Serve a POST request.": a reader is told something false.
    ("This Python method `H.do_POST` is used to create a POST request.", "H.do_POST", "serves", False),
    ("This Python method `H.do_POST` serves a POST request to a CGI script.", "H.do_POST", "serves", True),
    ("This Python method `H.do_POST` is used to serve a POST request.", "H.do_POST", "serves", True),
    # Words of like meaning, as the teacher writes them: "Return True if ..." -> "checks if ...".
    ("This Python method `A.is_private` checks if the address is private.", "A.is_private", "returns", True),
    ("This Python method `Tix.option_get` returns the options of the scheme.", "Tix.option_get", "gets", True),
    ("This Python method `Notebook.__init__` creates a Ttk notebook.", "Notebook.__init__", "constructs", True),
    ("This Go method `Queue.Push` is used to add an item to the queue.", "Queue.Push", "appends", True),
    ("This Go method `Time.IsDST` checks if the time is in daylight saving time.", "Time.IsDST", "reports", True),
    ("This Java method `Context.setParsed` is used to set the parsed zone.", "Context.setParsed", "stores", True),
    ("This Python method `Pool._maintain_pool` is used to create a new instance of a worker.",
     "Pool._maintain_pool", "cleans", False),
    # Any form of the verb; the name said again after the opening counts with its words.
    ("This Python method `Pdb.do_step` is used when stepping into a call.", "Pdb.do_step", "steps", True),
    ("This Python method `Loop.shutdown` is used to `shutdown` the loop.", "Loop.shutdown", "shutdowns", True),
    ("This Python method `Loop.shutdown` is used to create a new loop.", "Loop.shutdown", "shutdowns", False),
    # The opening's own name does not count: `Registry.register` "is used to create a registry".
    ("This Python method `Registry.register` is used to create a registry.", "Registry.register", "registers", False),
])
def test_an_answer_says_the_doc_verb_or_one_of_like_meaning(answer, symbol, verb, says):
    assert says_the_doc_verb(answer, symbol, verb) is says


@pytest.mark.parametrize("verb, base", [("returns", "return"), ("applies", "apply"), ("fetches", "fetch"),
                                        ("goes", "go"), ("passes", "pass"), ("adds", "add"), ("read", "read"),
                                        ("resizes", "resize"), ("uses", "use"), ("buzzes", "buzz")])
def test_the_base_form_undoes_the_third_person(verb, base):
    assert base_form(verb) == base
