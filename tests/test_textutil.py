"""The prose helpers shared by hover, MCP and the demo's table."""

from trm_lsp.textutil import sentences, summary

ANSWER = ("This JavaScript function `fizzbuzz` takes a parameter n. It uses a for loop to check each number "
          "for divisibility by 3 and 5 using the modulus operator.\n\nThe code starts by setting up a counter.")


def test_a_summary_keeps_whole_sentences_of_the_first_paragraph_within_its_limit():
    first = "This JavaScript function `fizzbuzz` takes a parameter n."
    assert summary(ANSWER, 60) == first
    assert summary(ANSWER, len(first)) == first  # a sentence exactly as long as the limit fits
    assert summary(ANSWER, 500) == " ".join(sentences(ANSWER.split("\n\n")[0]))
    assert "starts by" not in summary(ANSWER, 500)


def test_a_first_sentence_too_long_for_the_limit_is_cut_at_a_word_and_says_so():
    cut = summary(ANSWER, 40)
    assert len(cut) <= 40 and cut.endswith(" …")
    assert ANSWER.startswith(cut[:-2]) and ANSWER[len(cut) - 2] == " "  # a whole word ends where it is cut


def test_sentences_split_after_the_end_of_each():
    assert sentences("It returns x. Then y!  Why? ") == ["It returns x.", "Then y!", "Why?"]
    assert summary("", 10) == ""
