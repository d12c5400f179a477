"""Answers as markdown: the hover card and the explanation document (MCP replies: consult.py)."""

from __future__ import annotations

from trm_lsp.serve.answers import Answer

_FENCE = {"python": "python", "javascript": "javascript", "typescript": "typescript", "tsx": "tsx", "java": "java",
          "go": "go", "c": "c", "cpp": "cpp", "rust": "rust", "bash": "bash"}
_REASONING_CHARS = 4000


def hover_markdown(answer: Answer, language: str = "") -> str:
    parts = [f"**{answer.symbol}** · {answer.kind} · `{answer.path}:{answer.line}`", "", answer.text.strip(), "",
             f"*{answer.provenance()}*"]
    if answer.signature:
        parts += ["", f"```{_FENCE.get(language, '')}", answer.signature.strip(), "```"]
    if answer.reasoning.strip():
        reasoning = answer.reasoning.strip()
        if len(reasoning) > _REASONING_CHARS:
            reasoning = reasoning[:_REASONING_CHARS] + " …"
        parts += ["", "<details><summary>Teacher's reasoning</summary>", "", reasoning, "", "</details>"]
    return "\n".join(parts)


def explanation_document(answer: Answer, language: str = "") -> str:
    """The page `trm-lsp.explain` opens beside the code."""
    return f"# {answer.symbol}\n\n" + hover_markdown(answer, language) + "\n"
