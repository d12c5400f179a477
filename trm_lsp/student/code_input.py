"""How the student reads a symbol's code: one definition for the samples it learns from
(serve/training.py), the code it answers for (serve/answers.py) and the code search embeds
(serve/search.py), so the three cannot drift apart."""

from __future__ import annotations

from trm_lsp.extract.languages import line_comment
from trm_lsp.textutil import first_paragraph

#: The doc comment's first paragraph, cut to this many characters: it shares the code's token budget.
DOC_CHARS = 240


def with_doc(code: str, doc: str, language: str) -> str:
    """The symbol's code as the student reads it: with its own doc comment on top where its text
    lacks it. Go, Rust, Java, C and JSDoc comments sit above a definition, outside the symbol's
    range; the teacher's prompt carries them (distill/prompts.py) but the student would guess.
    A Python docstring is inside the text already, and then nothing is added. Used the same way
    for the samples the student trains on and the code it answers for."""
    paragraph = first_paragraph(doc)
    first_line = doc.strip().split("\n")[0].strip()
    if not paragraph or first_line in code:
        return code
    if len(paragraph) > DOC_CHARS:
        paragraph = paragraph[:DOC_CHARS].rsplit(" ", 1)[0]
    return f"{line_comment(language)} {paragraph}\n{code}"
