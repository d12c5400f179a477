"""Documents, diagrams and images into the index (issue 3), from real files of every type."""

from __future__ import annotations

import glob
import json
import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_cli, write
from tests.docgen import (drawio_model, make_docx, make_drawio, make_pdf, make_vsdx, render_text_image,
                          visio_page)


def rows_of(workspace: Path) -> list[dict]:
    return [json.loads(x) for x in run_cli("index", str(workspace), "--json", "--text").stdout.splitlines()]


def test_docx_sections_by_heading_with_tables_in_order(workspace: Path):
    make_docx(workspace / "spec.docx", [
        ("Retry policy", ["Every call is retried three times.", "Backoff doubles each time."]),
        ("Circuit breaker", ["After five failures the breaker opens."]),
    ], table=[["attempt", "delay"], ["1", "100 ms"], ["2", "200 ms"]])
    rows = [r for r in rows_of(workspace) if r["path"] == "spec.docx"]
    assert [(r["kind"], r["name"]) for r in rows] == [("section", "Retry policy"), ("section", "Circuit breaker")]
    retry = rows[0]["text"].splitlines()
    assert retry == ["Retry policy", "Every call is retried three times.", "Backoff doubles each time.",
                     "attempt | delay", "1 | 100 ms", "2 | 200 ms"]
    assert rows[0]["language"] == "docx" and rows[0]["start_line"] < rows[1]["start_line"]


def test_pdf_one_item_per_page(workspace: Path):
    make_pdf(workspace / "guide.pdf", ["Chapter one\nThe queue holds jobs.", "Chapter two\nWorkers take jobs."])
    rows = [r for r in rows_of(workspace) if r["path"] == "guide.pdf"]
    assert [(r["kind"], r["name"], r["start_line"]) for r in rows] == [("page", "page 1", 1), ("page", "page 2", 2)]
    assert rows[0]["text"] == "Chapter one\nThe queue holds jobs."


def test_pdf_with_an_empty_user_password_is_read_and_a_locked_one_skipped(workspace: Path):
    make_pdf(workspace / "open.pdf", ["Readable by anyone"], encrypt=("", "owner-secret"))
    make_pdf(workspace / "locked.pdf", ["Top secret"], encrypt=("user-secret", "owner-secret"))
    result = run_cli("index", str(workspace), "--json", "--text")
    assert "locked.pdf: encrypted PDF: a password is required" in result.stderr
    texts = [json.loads(x)["text"] for x in result.stdout.splitlines()]
    assert texts == ["Readable by anyone"]


def test_real_pdfs_from_the_machine(workspace: Path):
    pdfs = sorted(glob.glob("/usr/share/doc/**/*.pdf", recursive=True))[:3]
    if not pdfs:
        pytest.skip("no PDFs under /usr/share/doc on this machine")
    for n, pdf in enumerate(pdfs):
        shutil.copy(pdf, workspace / f"doc{n}.pdf")
    rows = rows_of(workspace)
    for n in range(len(pdfs)):
        pages = [r for r in rows if r["path"] == f"doc{n}.pdf"]
        assert pages and all(r["kind"] == "page" for r in pages)
        assert sum(len(r["text"]) for r in pages) > 200


@pytest.mark.parametrize("compressed", [False, True])
def test_drawio_pages_labels_and_edges(workspace: Path, compressed: bool):
    overview = drawio_model({"a": "<b>Editor</b>", "b": "Language&nbsp;server", "c": "Teacher"},
                            [("a", "b", "LSP"), ("b", "c", "")])
    storage = drawio_model({"s": "SQLite store", "q": "Job queue"}, [("q", "s", "commits")])
    make_drawio(workspace / "arch.drawio", [("Overview", overview), ("Storage", storage)], compressed)
    rows = [r for r in rows_of(workspace) if r["path"] == "arch.drawio"]
    assert [(r["kind"], r["name"]) for r in rows] == [("diagram", "Overview"), ("diagram", "Storage")]
    text = rows[0]["text"]
    assert "- Editor" in text and "- Language server" in text and "- Teacher" in text
    assert "Editor -> Language server (LSP)" in text
    assert "Language server -> Teacher" in text
    assert "Job queue -> SQLite store (commits)" in rows[1]["text"]


def test_drawio_edge_label_as_a_child_cell(workspace: Path):
    model = ('<mxGraphModel><root><mxCell id="0"/><mxCell id="1" parent="0"/>'
             '<mxCell id="a" value="Client" vertex="1" parent="1"/><mxCell id="b" value="Server" vertex="1" parent="1"/>'
             '<mxCell id="e" edge="1" parent="1" source="a" target="b"/>'
             '<mxCell id="l" value="HTTP" style="edgeLabel;" vertex="1" connectable="0" parent="e"/>'
             '</root></mxGraphModel>')
    write(workspace, "plain.drawio", model)
    (row,) = rows_of(workspace)
    assert "Client -> Server (HTTP)" in row["text"]
    assert "- HTTP" not in row["text"]


def test_vsdx_pages_shapes_and_connections(workspace: Path):
    make_vsdx(workspace / "flow.vsdx", [
        ("Request flow", visio_page({"1": "Browser", "2": "Gateway", "3": "Service"},
                                    [("1", "2", "HTTPS"), ("2", "3", "")])),
        ("Data", visio_page({"7": "Cache", "8": "Database"}, [("7", "8", "miss")])),
    ])
    rows = [r for r in rows_of(workspace) if r["path"] == "flow.vsdx"]
    assert [(r["kind"], r["name"]) for r in rows] == [("diagram", "Request flow"), ("diagram", "Data")]
    assert "- Browser" in rows[0]["text"]
    assert "Browser -> Gateway (HTTPS)" in rows[0]["text"] and "Gateway -> Service" in rows[0]["text"]
    assert "Cache -> Database (miss)" in rows[1]["text"]


OCR_LINES = [
    "def factorial(n): return n * factorial(n - 1)",
    "The retry budget doubles after every failure",
    "Workers commit each answer before they acknowledge it",
]


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract not installed (make test installs it)")
@pytest.mark.parametrize("font,size", [("DejaVuSans.ttf", 16), ("DejaVuSerif.ttf", 20), ("DejaVuSansMono.ttf", 28),
                                       ("DejaVuSans-Bold.ttf", 22)])
def test_ocr_recovers_the_words(workspace: Path, font: str, size: int):
    render_text_image(workspace / "shot.png", OCR_LINES, font, size)
    (row,) = rows_of(workspace)
    assert row["kind"] == "image" and row["name"] == "shot.png"
    expected = [w for line in OCR_LINES for w in re.findall(r"\w+", line.lower())]
    got = set(re.findall(r"\w+", row["text"].lower()))
    recall = sum(w in got for w in expected) / len(expected)
    assert recall >= 0.9, (recall, row["text"])


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract not installed")
def test_image_without_text_is_skipped(workspace: Path):
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (400, 300), "white")
    ImageDraw.Draw(image).ellipse((50, 50, 350, 250), fill="navy")
    image.save(workspace / "logo.png")
    result = run_cli("index", str(workspace))
    assert "logo.png: no text found" in result.stderr
