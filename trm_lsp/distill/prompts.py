"""Versioned prompts, one shape per kind of item: code (functions, classes), config sections
and document items. Bump PROMPT_VERSION whenever the wording changes: samples are cached per
(text, teacher, prompt version), so a new prompt re-asks, and an old answer is never passed off
as an answer to the new question."""

from __future__ import annotations

from dataclasses import dataclass

from trm_lsp.distill.context import DOCUMENT_KINDS, ContextIndex
from trm_lsp.store.symbols import Symbol

PROMPT_VERSION = 1

#: What gets explained. Constants, variables and namespaces are context, not subjects.
EXPLAINABLE = frozenset({
    "function", "method", "class", "interface", "struct", "union", "enum", "trait", "impl", "type", "macro",
    "key", "rule", "keyframes", "mixin", "element", "script", "style", "template",
    *DOCUMENT_KINDS,
})
_CODE = frozenset({"function", "method", "macro"})
_TYPES = frozenset({"class", "interface", "struct", "union", "enum", "trait", "impl", "type"})

SYSTEM = (
    "You are a senior engineer who explains code to a colleague. You reason step by step about what "
    "the code does and why it is written that way, then you give a short, accurate explanation."
)

LANGUAGE_NAMES = {"python": "Python", "javascript": "JavaScript", "typescript": "TypeScript", "tsx": "TypeScript (TSX)",
                  "java": "Java", "go": "Go", "c": "C", "cpp": "C++", "rust": "Rust", "bash": "shell",
                  "html": "HTML", "css": "CSS", "scss": "SCSS", "json": "JSON", "xml": "XML", "yaml": "YAML",
                  "pdf": "PDF", "docx": "Word", "drawio": "Draw.io", "visio": "Visio", "image": "image (OCR)"}


@dataclass
class Prompt:
    messages: list[dict]
    truncated: bool


def _budget(parts: list[str], chars: int) -> list[str]:
    out, used = [], 0
    for part in parts:
        if used + len(part) > chars:
            break
        out.append(part)
        used += len(part)
    return out


def build_prompt(sym: Symbol, text: str, context: ContextIndex, context_tokens: int,
                 max_input_chars: int) -> Prompt:
    kind, language = sym.kind, sym.language
    lang = LANGUAGE_NAMES.get(language, language)
    truncated = len(text) > max_input_chars
    body = text[:max_input_chars] + ("\n... (cut: the rest is not shown)" if truncated else "")
    budget = context_tokens * 4
    facts = [f"File: {sym.path}"]
    if sym.parent:
        facts.append(f"Inside: {sym.parent}")
    if kind in _CODE or kind in _TYPES:
        facts.append(f"Signature: {sym.signature}")
    if sym.doc:
        facts.append(f"Its documentation says: {sym.doc[:400]}")
    context_parts = []
    if kind not in DOCUMENT_KINDS:
        calls = context.callees(text, sym.name)
        if calls:
            context_parts.append("It calls: " + "; ".join(f"{c.qualname} ({c.signature})" for c in calls[:12]) + "\n")
        for used in context.types_used(text, language, sym.name):
            used_text = context.text_of(used.sha256)
            if used_text:
                context_parts.append(f"Type {used.qualname} ({used.path}):\n```\n{used_text[:800]}\n```\n")
        query = f"{sym.name} {sym.qualname} {sym.doc or ''}"
        for doc in context.related_documents(query):
            if doc.path != sym.path:
                context_parts.append(f"Related document {doc.path} ({doc.name}):\n{doc.text[:600]}\n")
    context_block = "".join(_budget(context_parts, budget))
    if kind in DOCUMENT_KINDS:
        what = {"page": "page of a PDF document", "section": "section of a Word document",
                "diagram": "diagram page", "image": "screenshot (text recovered by OCR)"}[kind]
        ask = (f"Here is a {what}, named {sym.name!r}.\n{chr(10).join(facts)}\n\n{body}\n\n"
               "Reason step by step about what it describes and how it relates to the code of the project. "
               "Then write a line 'Explanation:' followed by two to four sentences that explain what it "
               "says and why it matters.")
    elif kind in _CODE or kind in _TYPES:
        noun = {"method": "method", "function": "function", "macro": "macro"}.get(kind, kind)
        ask = (f"Explain this {lang} {noun} `{sym.qualname}`.\n{chr(10).join(facts)}\n"
               + (f"\nContext:\n{context_block}\n" if context_block else "")
               + f"\n```{language}\n{body}\n```\n\n"
               "Reason step by step: what it takes, what it does with it, the edge cases it handles, and why it "
               f"is written this way. Then write a line 'Explanation:' followed by two to four sentences that "
               f"explain what this {noun} does and why it works the way it does.")
    else:
        ask = (f"Explain this {lang} {kind} `{sym.name}` from a configuration or web file.\n"
               f"{chr(10).join(facts)}\n" + (f"\nContext:\n{context_block}\n" if context_block else "")
               + f"\n```{language}\n{body}\n```\n\n"
               "Reason step by step about what each setting or rule does and what depends on it. Then write a "
               "line 'Explanation:' followed by two to four sentences that explain its purpose.")
    return Prompt([{"role": "system", "content": SYSTEM}, {"role": "user", "content": ask}], truncated)


def question_prompt(question: str, sources: list[tuple[str, str, str]], words: int) -> list[dict]:
    """A free-form question about the code base (MCP `consult_logic_model` with the teacher up):
    the retrieved symbols as context, `(where, code, what is known)` each, the reply held to
    `words` words and asked to cite path:line."""
    context = "\n\n".join(f"{where}\n{code}\nKnown: {known}" for where, code, known in sources)
    return [
        {"role": "system", "content": f"You answer questions about a code base in at most {words} words, "
                                      "citing path:line of the code you rely on."},
        {"role": "user", "content": f"{context}\n\nQuestion: {question}"},
    ]
