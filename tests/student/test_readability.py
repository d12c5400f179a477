"""The model-free readability check (make test) and the words the student may write."""

from __future__ import annotations

import pytest

from trm_lsp.student import fluency
from trm_lsp.student.lexicon import Lexicon, Vetter

#: The old student's answers quoted in the readable-student issue, and the teacher's style.
NONSENSE = [
    "It takes a entry of the entry of a entry in the entry is a entry has a entry.",
    "The Go struct `Queue` is a The 1. he ad is a a The, which is a single a designed to the `",
    "This Python method `Box.get` returns automaticallyonent the value.",
]
FLUENT = "This Python method `Box.get` returns the item stored at the given index of the box."


def test_the_check_flags_what_made_the_old_student_unreadable():
    flags = [fluency.check(text, "def get(self, i):\n    return self.items[i]", "Box.get") for text in NONSENSE]
    assert flags[0].loop and flags[1].repeated_word and flags[2].non_words == ["automaticallyonent"]
    assert not fluency.check(FLUENT, "def get(self, index):\n    return self.items[index]", "Box.get").flagged


def test_identifiers_of_the_code_and_inflections_are_words():
    code = "def parse_http_response(rawBytes):\n    return decode(rawBytes)"
    text = "It resizes nothing: `parse_http_response` decodes `rawBytes` with `decode` (HTTP)."
    assert fluency.check(text, code, "parse_http_response").non_words == []
    assert fluency.check("It calls `frobnicate`.", code, "parse_http_response").non_words == ["frobnicate"]


def test_report_gives_shares_per_problem():
    report = fluency.report(NONSENSE + [FLUENT], ["x = 1"] * 4, ["Box.get"] * 4)
    assert report["n"] == 4 and report["flagged"] == 0.75
    assert report["loop"] == 0.25 and report["repeated_word"] == 0.25 and report["non_word"] == 0.25


@pytest.fixture
def vetter() -> Vetter:
    pieces = ["This", " method", " `", "get", "_", "pa", "`", " returns", " automatically", "onent", " the", ".",
              "<pad>", " valu", "e", " value", "items", ".", "()", "`."]
    lexicon = Lexicon(["this", "method", "returns", "automatically", "the", "value"])
    return Vetter(pieces, lexicon, "def get_value(self):\n    return self.items[0]\nBox.get_value", {12})


def test_the_vetter_never_lets_a_word_or_a_name_break(vetter):
    this_method = [0, 1]
    assert vetter(this_method, 7)                 # " returns": a word
    assert not vetter(this_method + [8], 9)       # "automatically" + "onent": no such word
    assert not vetter(this_method, 12)            # a special token
    assert vetter(this_method + [13], 14)         # " valu" + "e" makes "value"
    assert not vetter(this_method + [13], 10)     # ending on "valu"
    span = this_method + [2, 3, 4]                # "`get_"
    assert not vetter(span, 15)                   # "`get_ value": no space inside a name
    assert not vetter(span + [5], 6)              # "`get_pa`": half a name
    assert vetter(this_method + [2, 3], 6) is True  # "`get`" is a part of get_value
    assert not vetter(this_method + [2, 16], 17)  # "`items.": the code has `self.items`, no path goes on from it


def test_a_code_span_names_a_path_only_as_the_context_writes_it():
    """Students wrote "is used to test the `tests.tests` function" of a Rust test in `mod tests`:
    `tests` is a name of the code, `tests.tests` is no path of it."""
    pieces = [" `", "tests", ".", "test", "_vcge", "s", "`", "mem", "transmute", "self", "x", "y", "()"]
    code = ("mod tests { unsafe fn test_vcge() { let a = mem::transmute(x);\n    self.x\n        .y(); } }\n"
            "tests.test_vcge")
    vetter = Vetter(pieces, Lexicon(["the"]), code, set(), end=99)
    tick, tests, dot, test, _vcge, s, close, mem, transmute, self_, x, y, call = range(len(pieces))
    assert vetter([tick, tests, dot, test, _vcge], close)      # `tests.test_vcge`: the symbol's path
    assert vetter([tick, tests, dot], test)                    # on the way to it
    assert not vetter([tick, tests, dot, test], s)             # `tests.tests`: no such path
    assert not vetter([tick, tests, dot, test], close)         # `tests.test`: half of a name in it
    assert vetter([tick, mem, dot, transmute], close)          # `mem.transmute` for `mem::transmute`
    assert vetter([tick, self_, dot, x, dot, y, call], close)  # `self.x.y()`, a chain across lines
    assert not vetter([tick, x, dot, self_], close)            # `x.self`: both names, no path
    assert vetter([tick, tests], close) and vetter([tick, x], close)  # a name alone, as before


def test_the_lexicon_keeps_words_written_more_than_once():
    lexicon = Lexicon.learn(["It returns the value.", "It returns a valeu once."], min_count=2)
    assert "returns" in lexicon and "it" in lexicon and "valeu" not in lexicon
    assert Lexicon(lexicon.text().split()).words == lexicon.words


def test_the_gate_shows_as_much_as_it_can_while_the_shown_stay_clean():
    from trm_lsp.student.gate import calibrate

    scores = [-0.5, -0.6, -0.7, -0.8, -0.9, -1.0, -1.1, -1.2, -1.3, -1.4]
    unreadable = [False] * 7 + [True, False, True]
    cal = calibrate(scores, unreadable, max_unreadable=0.05, min_shown=0.6)
    assert cal.shown == 0.7 and cal.unreadable_shown == 0.0 and -1.2 < cal.threshold < -1.1
    assert cal.unreadable_all == 0.2
    # Seven clean answers are too few to trust at 90%: the floor of shown answers is kept.
    assert calibrate(scores, unreadable, max_unreadable=0.05, min_shown=0.6, z=1.28).shown == 0.6
    # Never below the floor of shown answers, even when that lets some unreadable through.
    strict = calibrate(scores, [True] + [False] * 6 + [True] * 3, max_unreadable=0.0, min_shown=0.8)
    assert strict.shown == 0.8 and strict.unreadable_shown == 0.25 and strict.unreadable_all == 0.4
    # A score that does not separate them would decline at random: the gate is off.
    assert calibrate(scores, [True, False] * 5, min_shown=0.8).threshold is None
    # Nothing to hide: no threshold.
    assert calibrate(scores, [False] * 10).threshold is None


def test_possessives_and_contractions_are_not_broken_words():
    lexicon = Lexicon(["the", "object", "name", "it", "doesn", "return"])
    pieces = ["The", " object", "'s", " name", ".", " It", " doesn", "'t", " return", "'x"]
    vetter = Vetter(pieces, lexicon, "", set())
    assert vetter([0, 1], 2) and vetter([0, 1, 2], 3)
    assert vetter([0, 1, 2, 3, 4, 5, 6], 7) and vetter([0, 1, 2, 3, 4, 5, 6, 7], 8)
    assert not vetter([0, 1], 9)  # "object'x": no such ending
    assert Lexicon.learn(["OR-ing the bits.", "OR-ing again.", "the object's name doesn't"], min_count=1).words == \
        sorted({"again", "bits", "doesn", "name", "object", "the"})


def test_the_vetter_never_lets_a_word_follow_itself(vetter):
    value, dot, returns = vetter.pieces.index(" value"), vetter.pieces.index("."), vetter.pieces.index(" returns")
    assert not vetter([returns, value, value], dot)  # "returns value value."
    assert not vetter.ends_well([returns, value, value])
    assert vetter([returns, value], dot) and vetter.ends_well([returns, value])
    the = vetter.pieces.index(" the")
    assert not vetter([returns, the, value, the, value], dot)  # "returns the value the value."
    assert not vetter.ends_well([returns, the, value, the, value])
    assert vetter.ends_well([returns, the, value])


def test_an_answer_that_says_of_one_symbol_what_it_says_of_another_is_counted():
    answers = ["This Python method `Font.getboolean` is used to create a new instance of a class.",
               "This Python method `Queue.put` is used to create a new instance of a class.",
               "This Python method `Queue.get` removes and returns the oldest item of the queue.",
               "This Python method `Stack.get` removes and returns the newest item of the stack."]
    symbols = ["Font.getboolean", "Queue.put", "Queue.get", "Stack.get"]
    assert fluency.said_of_another(answers, symbols) == [True, True, False, False]
    assert fluency.report(answers, [""] * 4, symbols)["said_of_another"] == 0.5


def test_the_gist_leaves_out_the_opening_that_names_the_kind():
    assert fluency.gist("The Go struct `Queue` is designed to take a single argument.", "Queue") == \
        fluency.gist("This Go method `Queue.Push` is designed to take a single argument.", "Queue.Push")


def test_after_the_opening_the_sentence_goes_on_with_its_verb():
    """"This Go method `Graph.Prune` to the lowest weight." has no verb; "returns", "is", "can" do."""
    pieces = ["This", " Go", " method", " `", "Graph", ".", "Prune", "`", " to", " the", " returns", " is", " can",
              ".", " ret", "urn", " when"]
    lexicon = Lexicon(["this", "go", "method", "to", "the", "returns", "is", "can", "return", "when"])
    opening = [0, 1, 2, 3, 4, 5, 6, 7]
    vetter = Vetter(pieces, lexicon, "Graph.Prune", set(), end=99, opening=opening)
    to, the, returns, is_, can, dot, ret, urn, when = (pieces.index(p) for p in (
        " to", " the", " returns", " is", " can", ".", " ret", "urn", " when"))
    assert vetter(opening, to)                      # " to" may yet become " tokenizes"
    assert not vetter(opening + [to], the)          # "... `Graph.Prune` to the": no verb
    assert not vetter(opening + [when], dot) and not vetter.ends_well(opening + [to])
    assert vetter(opening + [returns], the) and vetter(opening + [is_], the) and vetter(opening + [can], the)
    assert not vetter(opening + [ret, urn], the)    # "return" is not the third person
    assert vetter(opening + [returns, the], to)     # later words are free
    free = Vetter(pieces, lexicon, "Graph.Prune", set(), end=99)
    assert free(opening + [to], the)                # no opening, no rule (the base alone)


def test_the_verb_after_the_opening_is_a_lowercase_word_not_a_name_or_its_arguments():
    """The base alone writes Go's name first, as Go's docs do ("IsDST reports whether ..."), and then
    wanted to go on with more name: "New Values returns ...", "WriteTo(b) WriteTo(c.EINVAL).",
    "New NewValue's value."."""
    pieces = ["New", " Values", " returns", "(b", ")", "()", " doesn", "'t", "'s", " value", " New", "Value", " "]
    lexicon = Lexicon(["new", "values", "returns", "doesn", "value", "b", "doesn't"])
    vetter = Vetter(pieces, lexicon, "func (v Value) New(b int) Value { return NewValue(b) }", set(), end=99,
                    opening=[0])
    values, returns, args, close, call, doesn, nt, s_, value, new, value_, space = range(1, 13)
    # a word is judged once it is complete, when the piece after it comes
    assert not vetter([0, values], space) and vetter([0, returns], space)  # "New Values": a name, not a verb
    assert not vetter([0], args)                                           # "New(b": arguments
    assert vetter([0], call) and vetter([0, call, returns], space)         # "New() returns" reads
    assert vetter([0, doesn, nt], space)                                   # "New doesn't"
    assert vetter([0, new, value_], s_) and not vetter([0, new, value_, s_], value)  # "New NewValue's value"
    assert not vetter([0, doesn, s_], space)                               # a possessive is no verb


def test_a_sentence_does_not_stop_mid_phrase():
    """"`Runner.close` is used to." stops where the reader waits for the rest."""
    pieces = [" is", " used", " to", ".", " close", " the", "tal"]
    lexicon = Lexicon(["is", "used", "to", "close", "the", "total"])
    vetter = Vetter(pieces, lexicon, "Runner.close", set(), end=99)
    is_, used, to, dot, close, the, tal = range(len(pieces))
    assert not vetter([is_, used, to], dot) and not vetter.ends_well([is_, used, to])
    assert not vetter([is_, used, to, close, the], dot)
    assert vetter([is_, used, to, close], dot) and vetter.ends_well([is_, used, to, close])
    assert vetter([is_, used, to], close)           # the phrase goes on
    assert vetter([is_, the, to, tal], dot)         # " to" + "tal": "total" is not "to"


def test_a_capitalised_piece_of_a_name_is_not_written_as_a_verb():
    """A Go student wrote "`pipe.SetWriteDeadline` is used to Set a pipe.": "set" is a word, but
    "Set" there is a piece of the name copied as it was written."""
    pieces = [" is", " used", " to", " Set", " set", " a", " pipe", ".", " Pipe"]
    lexicon = Lexicon(["is", "used", "to", "set", "a", "pipe", "write"])
    vetter = Vetter(pieces, lexicon, "func (p *pipe) SetWriteDeadline(t time.Time) error { return nil }\n"
                    "pipe.SetWriteDeadline\nThe Pipe type.", set(), end=99)
    is_, used, to, Set, set_, a, pipe, dot, Pipe = range(len(pieces))
    assert not vetter([is_, used, to, Set], a)        # "is used to Set a"
    assert not vetter.ends_well([is_, used, to, Set])
    assert vetter([is_, used, to, set_], a) and vetter([is_, used, to, set_, a], pipe)
    assert vetter([Set], a)                           # a sentence may start with it
    assert vetter([is_, used, to, set_, a, Pipe], dot)  # "Pipe" is written as a word in the context
    assert vetter([is_, a, Set], dot)                 # elsewhere capitals are left to the model


def test_after_used_to_comes_a_verb_not_its_s_form():
    """Students wrote "is used to initializes a Kerberos input stream" and "is used to needs to be
    quoted"; the judge passed most of them. "process" and "focus" end in s and are verbs as they are."""
    pieces = [" is", " used", " to", " initializes", " initialize", " process", " focus", " a", " stream", ".",
              " returns", " converts", " bytes"]
    lexicon = Lexicon(["is", "used", "to", "initialize", "initializes", "process", "focus", "a", "stream", "returns",
                       "converts", "bytes", "byte"])
    vetter = Vetter(pieces, lexicon, "def init(stream): pass", set(), end=99)
    is_, used, to, initializes, initialize, process, focus, a, stream, dot, returns, converts, bytes_ = range(len(pieces))
    assert not vetter([is_, used, to, initializes], a) and not vetter.ends_well([is_, used, to, initializes])
    assert vetter([is_, used, to, initialize], a)
    assert vetter([is_, used, to, process], a) and vetter([is_, used, to, focus], a)
    assert vetter([returns, a, stream, converts, to, bytes_], dot)  # "to" as a preposition: "converts ... to bytes"


def test_after_used_to_comes_no_word_that_cannot_be_a_verb():
    """Students wrote "`Vec.from` is used to from a `u8` object.", "is used to Return a list",
    "is used to Tag the `Tags` function" and "is used to tagName": after "used to" the verb is
    a plain lower-case word; elsewhere those words are the model's to place."""
    pieces = [" is", " used", " to", " from", " Return", " tagName", " gen_error", " the", " convert", " a",
              " list", ".", " safely", " be"]
    lexicon = Lexicon(["is", "used", "to", "from", "return", "the", "convert", "a", "list", "safely", "be"])
    vetter = Vetter(pieces, lexicon, "def tagName(gen_error): return list(gen_error)", set(), end=99)
    is_, used, to, from_, Return, tagName, gen_error, the, convert, a, list_, dot, safely, be = range(len(pieces))
    for word in (from_, Return, tagName, gen_error, the):
        assert not vetter([is_, used, to, word], a), pieces[word]
        assert not vetter.ends_well([is_, used, to, word])
    for word in (convert, safely, be):
        assert vetter([is_, used, to, word], a), pieces[word]
    assert vetter([convert, a, list_, from_, the, list_], dot)   # "from" as a preposition
    assert vetter([Return, a, list_, to, the, list_], dot)       # "Return" opening a sentence
    assert vetter([is_, used, to, convert, tagName], dot)       # a name written as a word elsewhere


def test_a_noun_phrase_that_ends_on_the_noun_it_is_about_says_nothing():
    """"Return the name of the name." reads fluently to the judge (3 of 88 such student answers
    unreadable to it) and says nothing to a reader; compounds, contrasts and setters are not it."""
    said_nothing = ["Return the name of the name.", "Pushes the line to the line.",
                    "Return the key for the given key and return it.", "It copies a file to a file",
                    "Get the node in the node's node.", "Return the size of the given size of this size.",
                    "Return the node of the node …", "Returns the float value of the given float value."]
    fine = ["Write a file to a file descriptor.", "Return a list of lists.",
            "Set the second sequence to the first sequence.", "Compare a string with another string.",
            "`setParsed` is used to set the zone to the specified zone.",
            "Return the hardware address of the given address.", "Return the float value of the given value."]
    assert all(fluency.says_nothing(t) and fluency.check(t).tautology for t in said_nothing)
    assert not any(fluency.says_nothing(t) or fluency.check(t).tautology for t in fine)
    assert fluency.says_nothing("Return the name of the name.") == "name of the name"
    assert fluency.report(said_nothing + fine, ["x = 1"] * 15, ["f"] * 15)["tautology"] == round(8 / 15, 4)


def test_the_commonest_opening_counts_one_frame_with_different_endings():
    """"is used to create a new instance of the `x` class" with another `x` each time is said of
    no other symbol word for word; the opening after the name shows the frame."""
    symbols = ["Repr.repr_str", "build.run", "_dumps", "Box.get"]
    answers = ["This Python method `Repr.repr_str` is used to create a new instance of the `repr` class.",
               "This Python method `build.run` is used to create a new instance of the `build` class.",
               "This Python function `_dumps` is used to create a new file object.",
               "This Python method `Box.get` returns the item stored at the given index."]
    assert fluency.said_of_another(answers, symbols) == [False] * 4
    assert fluency.commonest_opening(answers, symbols) == ("is used to create a", 0.75)
    report = fluency.report(answers, [""] * 4, symbols)
    assert (report["commonest_opening"], report["commonest_opening_share"]) == ("is used to create a", 0.75)
    assert fluency.commonest_opening(["", " "], ["a", "b"]) == ("", 0.0)
