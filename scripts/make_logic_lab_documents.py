"""Regenerate the binary documents of data/logic_lab (DOCX, PDF, Draw.io, Visio, PNG) with the
same generators the tests use. Run from the repository root: `python scripts/make_logic_lab_documents.py`
(needs the test extras: `pip install -e '.[test]'`)."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.docgen import (drawio_model, make_docx, make_drawio, make_pdf, make_vsdx,  # noqa: E402
                          render_text_image, visio_page)

LAB = REPO / "data" / "logic_lab"


def main() -> None:
    make_docx(LAB / "design.docx", [
        ("Retry policy", ["Every teacher call is retried with exponential backoff and full jitter.",
                          "After four failed attempts the symbol is marked failed with its reason."]),
        ("Bounded stack", ["Sample.push refuses to grow past the capacity and returns false instead."]),
    ], table=[["attempt", "max delay"], ["1", "100 ms"], ["2", "200 ms"], ["3", "400 ms"]])
    make_pdf(LAB / "guide.pdf", [
        "Logic Lab guide\nfactorial_recursive follows the definition n! = n * (n-1)!.\n"
        "factorial_iterative uses a loop, so deep inputs do not hit the recursion limit.",
        "Queues\nQueue.Push doubles its ring buffer when full; Pop returns ErrEmpty on an empty queue.",
    ])
    overview = drawio_model({"editor": "Editor", "server": "trm-lsp server", "teacher": "Teacher (Ollama)",
                             "store": "SQLite store"},
                            [("editor", "server", "LSP"), ("server", "teacher", "explain"), ("server", "store", "")])
    make_drawio(LAB / "architecture.drawio", [("Overview", overview)], compressed=True)
    make_vsdx(LAB / "flow.vsdx", [("Order flow", visio_page({"1": "Order received", "2": "Check stock", "3": "Ship"},
                                                            [("1", "2", ""), ("2", "3", "in stock")]))])
    render_text_image(LAB / "screenshot.png", [
        "def gcd(a, b):",
        "    while b:",
        "        a, b = b, a % b",
        "    return abs(a)",
    ], font="DejaVuSansMono.ttf", size=22)


if __name__ == "__main__":
    main()
