"""The verb a symbol's doc comment opens with, as the teacher would write it after the name.

The teacher reads the doc comment and mostly says it again in its own frame: "Convert Tcl object
to True or False." becomes "`getboolean()` converts a Tcl object to True or False.". A student
fine-tuned on a few hundred of its answers reads the same doc but opens with its likeliest frame,
"is used to create a new ...". The doc's verb in the third person ("converts") is the word to
lift in its beam search (`infer.DOC_VERB_BIAS`), where the student already finds it plausible.
"""

from __future__ import annotations

import re

from trm_lsp.student.doc_prose import explain_doc
from trm_lsp.student.openings import is_the_name
from trm_lsp.textutil import split_identifier

#: First words of a doc that are not a verb to say it with: conditions, notes, modals, nouns
#: ("Helper for ...", "Constructor.", "True if ..."), pronouns.
_NOT_A_VERB = frozenset("""if internal this these that same used for in on at by when while with as to
    note see deprecated like helper private public protected only override overrides implement implements called
    convenience alias wrapper utility also default base abstract dummy any all each every some
    no one two new old constructor factory method function class object type name number list
    string value flag property version implementation decorator context mixin interface
    exception error shortcut simple generic main top our my your its their it we you they he
    she there here what which who why how where example examples legacy backward backwards
    obsolete experimental unused hook callback handler entry point subclass subclasses
    superclass instance instances must should may might can could will would shall true false
    none null yes non not callable inplace the a an always never just then still often already again""".split())
#: Verbs that end like an adverb ("Optionally ...", "Recursively ..."): the rest that do are adverbs.
_LY_VERBS = frozenset("apply reply supply multiply comply imply rely fly ally tally rally bully".split())


def third_person(verb: str) -> str:
    """return -> returns, apply -> applies, fetch -> fetches, do -> does."""
    v = verb.lower()
    if re.search(r"(s|sh|ch|x|z|o)$", v):
        return v + "es"
    if re.search(r"[^aeiou]y$", v):
        return v[:-1] + "ies"
    return v + "s"


def doc_verb(doc: str, language: str, name: str) -> str:
    """The doc's opening verb in the third person ("Return the ..." -> "returns"; Go's "Push adds
    ..." -> "adds"), or "" when its prose opens with anything else: a noun, a condition, a name,
    an acronym, a participle ("Called to ..."), an adverb ("Always returns null."), a signature
    line ("L.index(value) -> int")."""
    prose, reason = explain_doc(doc.splitlines(), language)
    if reason == "too_few_words":  # "Emit a record." says what it does in three words
        prose = " ".join(doc.split("\n\n", 1)[0].split())
    elif reason is not None:
        return ""
    words = prose.split()
    # Go and C docs open with the name ("Push adds x ..."), some with it quoted or called.
    if words and is_the_name(words[0], name):
        words = words[1:]
    if len(words) < 2 or not re.fullmatch(r"[A-Za-z][a-z]+", words[0]):
        return ""
    first = words[0].lower()
    if first in _NOT_A_VERB or first.endswith(("ing", "ed", "ion", "ness", "ment")) \
            or (first.endswith("ly") and first not in _LY_VERBS):
        return ""
    return first if first.endswith("s") and not first.endswith("ss") else third_person(first)


def code_doc(code: str, language: str) -> str:
    """The doc comment of the definition `code` holds: a Python docstring inside it, or the
    comment the student reads on top (`code_input.with_doc`); "" when it has none."""
    from trm_lsp.extract.code import extract_code
    from trm_lsp.extract.languages import BY_ID

    if language not in BY_ID or BY_ID[language].grammar is None:  # a document's section has no doc comment
        return ""
    items = extract_code(language, code.encode("utf-8"))
    return items[0].doc if items else ""


#: Verbs a teacher says in place of the doc's own ("Return True if ..." -> "checks if ...", "Get the
#: options" -> "returns the options", "Construct a Notebook" -> "creates"): groups of like meaning,
#: from the train split's teacher answers that do not repeat their doc's verb ("report" and "store"
#: from Go's and Java's docs, read beside their answers). With them, 8 of the 75 teacher answers
#: there with a doc verb say none of its group (11%), the student's 27.
LIKE_MEANING = [frozenset(group.split()) for group in (
    "return get give fetch retrieve obtain produce find compute calculate check determine test tell yield look count",
    "construct create make build initialize initialise instantiate",
    "test check determine verify tell see report",
    "set assign change update reset configure modify store",
    "remove delete drop discard clear destroy erase",
    "add append insert put push register",
    "convert transform turn translate encode decode format",
    "write emit print output send save dump flush",
    "read load parse receive fetch",
    "start begin launch run open execute call invoke",
    "stop end terminate finish close shutdown cancel kill",
    "handle process serve manage dispatch",
)]


def base_form(verb: str) -> str:
    """returns -> return, applies -> apply, fetches -> fetch: `third_person` undone."""
    v = verb.lower()
    if v.endswith("ies"):
        return v[:-3] + "y"
    if re.search(r"(ss|sh|ch|x|zz|o)es$", v):  # resizes -> resize, buzzes -> buzz
        return v[:-2]
    return v[:-1] if v.endswith("s") and not v.endswith("ss") else v


def _forms(base: str) -> set[str]:
    """The forms an answer may write a verb in: serve, serves, served, serving."""
    out = {base, base + "s", base + "es", base + "ed", base + "d", base + "ing"}
    if base.endswith("e"):
        out.add(base[:-1] + "ing")
    if base.endswith("y"):
        out |= {base[:-1] + "ies", base[:-1] + "ied"}
    if re.search(r"[^aeiou][aeiou][bdgklmnprt]$", base):  # stop -> stopped, set -> setting
        out |= {base + base[-1] + "ing", base + base[-1] + "ed"}
    return out


def says_the_doc_verb(answer: str, symbol: str, verb: str) -> bool:
    """Whether `answer` says what the doc's opening `verb` says: that verb, or one of like meaning
    (`LIKE_MEANING`), in any form, after the opening that names the symbol. The symbol's name,
    written again after it, counts with its words ("`Loop.close` is used to `close` the loop")."""
    rest = answer.split("`", 2)[2] if answer.count("`") >= 2 else answer
    said = set(re.findall(r"[a-z]+", rest.lower()))
    last = symbol.rsplit(".", 1)[-1]
    if last and last in rest:
        said.update(split_identifier(last))
    base = base_form(verb)
    group = set().union(*(g for g in LIKE_MEANING if base in g)) or {base}
    return any(_forms(b) & said for b in group)
