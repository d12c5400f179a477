"""Documents, diagrams and images into the index (issue 3), from real files of every type."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import time
import zipfile
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


def test_one_bad_diagram_page_costs_itself_not_the_file(workspace: Path):
    """An empty page (a new tab nobody drew on) is no page; a page that cannot be read is left
    out with a note; the other pages are indexed. Visio pages named by absolute part names too."""
    good = drawio_model({"a": "Browser", "b": "Gateway"}, [("a", "b", "HTTPS")])
    path = make_drawio(workspace / "flows.drawio", [("Edge", good), ("Core", good)], compressed=True)
    xml = path.read_text(encoding="utf-8").replace(
        "</mxfile>", '<diagram id="x" name="Blank"></diagram><diagram id="y" name="Broken">!!notbase64</diagram></mxfile>')
    path.write_text(xml, encoding="utf-8")
    vsdx = make_vsdx(workspace / "net.vsdx", [("One", visio_page({"1": "Router"}, [])),
                                              ("Two", visio_page({"1": "Switch"}, []))])
    with zipfile.ZipFile(vsdx) as old:
        members = {name: old.read(name) for name in old.namelist()}
    members["visio/pages/_rels/pages.xml.rels"] = members["visio/pages/_rels/pages.xml.rels"].replace(
        b'Target="page2.xml"', b'Target="/visio/pages/page2.xml"')
    members["visio/pages/page1.xml"] = b"<PageContents><Shapes>"  # cut short
    with zipfile.ZipFile(vsdx, "w") as new:
        for name, body in members.items():
            new.writestr(name, body)
    result = run_cli("index", str(workspace), "--json")
    rows = [json.loads(x) for x in result.stdout.splitlines()]
    assert [(r["path"], r["name"]) for r in rows] == [("flows.drawio", "Edge"), ("flows.drawio", "Core"),
                                                      ("net.vsdx", "Two")], result.stderr
    assert "Draw.io page 'Broken'" in result.stderr and "Blank" not in result.stderr
    assert "visio/pages/page1.xml" in result.stderr


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


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract not installed (make test installs it)")
def test_ocr_reads_a_phone_photo_upright_and_every_page_of_a_tiff(workspace: Path):
    """A phone stores pixels as the sensor saw them and says in EXIF how to turn them; a scanner
    writes one TIFF with a page per sheet. Read sideways or only the first page, the words were
    lost. A language without its data is said once, with how to install it, not as a timeout."""
    from PIL import Image

    shot = Image.open(render_text_image(workspace / "upright.png", OCR_LINES[:1], size=28))
    sideways = shot.rotate(-90, expand=True)  # stored turned clockwise: viewers turn it back (EXIF 8)
    exif = Image.Exif()
    exif[0x0112] = 8
    sideways.convert("RGB").save(workspace / "photo.jpg", exif=exif, quality=95)
    second = Image.open(render_text_image(workspace / "p2.png", OCR_LINES[1:2], size=28))
    blank = Image.new("RGB", second.size, "white")
    blank.save(workspace / "scan.tiff", save_all=True, append_images=[second])
    (workspace / "upright.png").unlink()
    (workspace / "p2.png").unlink()
    rows = {r["name"]: r["text"].lower() for r in rows_of(workspace)}
    assert "factorial" in rows["photo.jpg"] and "retry budget" in rows["scan.tiff"], rows
    (workspace / "trm-lsp.toml").write_text('[documents]\nocr_lang = "xx"\n', encoding="utf-8")
    shutil.copy(workspace / "photo.jpg", workspace / "photo2.jpg")
    failed = run_cli("index", str(workspace)).stderr
    # Said with the package to install, not as tesseract's "Failed loading language".
    assert ("photo2.jpg: OCR unavailable: no tesseract language data for 'xx' (documents.ocr_lang); "
            "install it with: sudo apt-get install tesseract-ocr-xx") in failed, failed
    assert "OCR failed" not in failed and "timed out" not in failed, failed
    # The language installed (here: the setting mended), the unchanged file is read on the next index.
    (workspace / "trm-lsp.toml").unlink()
    assert "factorial" in {r["name"]: r["text"].lower() for r in rows_of(workspace)}["photo2.jpg"]


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract not installed (make test installs it)")
def test_an_image_tesseract_fails_on_costs_one_run_not_one_per_index(workspace: Path, tmp_path: Path):
    """The real tesseract behind a wrapper that fails its first run as tesseract does ("Error
    during processing."): the image is skipped with tesseract's reason, and
    the next index does not run tesseract on it again until the file changes."""
    runs = tmp_path / "runs.log"
    wrapper = tmp_path / "tesseract"
    wrapper.write_text(f"""#!/bin/sh
case "$*" in --list-langs*) exec {shutil.which("tesseract")} "$@";; esac
echo "$1" >> {runs}
if [ "$(wc -l < {runs})" = 1 ]; then echo "Error during processing." >&2; exit 1; fi
exec {shutil.which("tesseract")} "$@"
""")
    wrapper.chmod(0o755)
    render_text_image(workspace / "notes.png", OCR_LINES[:1], size=28)
    (workspace / "trm-lsp.toml").write_text(f'[documents]\ntesseract_cmd = "{wrapper}"\n', encoding="utf-8")
    first = run_cli("index", str(workspace)).stderr
    assert "notes.png: OCR failed: Error during processing." in first, first
    assert runs.read_text().count("\n") == 1
    second = run_cli("index", str(workspace)).stderr
    assert "notes.png: OCR failed: Error during processing." in second  # still said, from the store
    assert runs.read_text().count("\n") == 1, "tesseract was run again on an unchanged image"
    os.utime(workspace / "notes.png")  # touched: tried again, and read this time
    assert "factorial" in {r["name"]: r["text"].lower() for r in rows_of(workspace)}["notes.png"]
    assert runs.read_text().count("\n") == 2


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract not installed")
def test_image_without_text_is_skipped(workspace: Path):
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (400, 300), "white")
    ImageDraw.Draw(image).ellipse((50, 50, 350, 250), fill="navy")
    image.save(workspace / "logo.png")
    result = run_cli("index", str(workspace))
    assert "logo.png: no text found" in result.stderr


def test_docx_text_word_shows_and_headings_by_style_or_outline(workspace: Path):
    """Tracked insertions, fields and content controls are text Word shows; a custom style based
    on Heading 1 and an outline level make headings; a merged cell is said once; and 20,000
    paragraphs take seconds, not python-docx's ~1 ms a paragraph."""
    import docx
    from docx.enum.style import WD_STYLE_TYPE
    from docx.oxml import parse_xml

    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    document = docx.Document()
    chapter = document.styles.add_style("Chapter", WD_STYLE_TYPE.PARAGRAPH)
    chapter.base_style = document.styles["Heading 1"]
    document.add_paragraph("Storage layout", style="Chapter")
    body = document.add_paragraph("Pages are ")
    body._p.append(parse_xml(f'<w:ins {w} w:id="1" w:author="a" w:date="2026-01-01T00:00:00Z">'
                             f'<w:r><w:t xml:space="preserve">written once</w:t></w:r></w:ins>'))
    body._p.append(parse_xml(f'<w:del {w} w:id="2" w:author="a" w:date="2026-01-01T00:00:00Z">'
                             f'<w:r><w:delText>DELETED</w:delText></w:r></w:del>'))
    body._p.append(parse_xml(f'<w:fldSimple {w} w:instr="PAGE"><w:r><w:t> (page 3)</w:t></w:r></w:fldSimple>'))
    outline = document.add_paragraph("Recovery\nafter a crash")  # a line break inside the heading
    outline._p.get_or_add_pPr().append(parse_xml(f'<w:outlineLvl {w} w:val="1"/>'))
    document.element.body.sectPr.addprevious(parse_xml(
        f'<w:sdt {w}><w:sdtContent><w:p><w:r><w:t>The log is replayed.</w:t></w:r></w:p></w:sdtContent></w:sdt>'))
    grid = document.add_table(rows=2, cols=3)
    grid.cell(0, 0).merge(grid.cell(0, 2)).text = "phase"
    for c, value in enumerate(["scan", "redo", "undo"]):
        grid.cell(1, c).text = value
    for n in range(20000):
        document.add_paragraph(f"Step {n} of the replay.")
    document.save(workspace / "layout.docx")
    started = time.perf_counter()
    rows = [r for r in rows_of(workspace) if r["path"] == "layout.docx"]
    assert time.perf_counter() - started < 10  # python-docx's own style lookup: ~25 s
    assert [r["name"] for r in rows] == ["Storage layout", "Recovery after a crash"]
    assert rows[0]["text"] == "Storage layout\nPages are written once (page 3)"
    lines = rows[1]["text"].splitlines()
    assert lines[:4] == ["Recovery after a crash", "The log is replayed.", "phase", "scan | redo | undo"]
    assert len(lines) == 4 + 20000


def test_a_file_built_to_be_slow_is_skipped_after_its_budget(workspace: Path):
    """1 MB of unclosed HTML tags sends tree-sitter's error recovery quadratic (minutes); past
    `index.extractSeconds` it is skipped with the reason and the rest is indexed."""
    (workspace / "trm-lsp.toml").write_text("[index]\nextract_seconds = 1\n", encoding="utf-8")
    (workspace / "tags.html").write_text("<div>" * 100_000, encoding="utf-8")  # ~20 s unbounded
    (workspace / "ok.py").write_text("def ok():\n    return 1\n", encoding="utf-8")
    started = time.perf_counter()
    result = run_cli("index", str(workspace), "--json")
    assert time.perf_counter() - started < 10
    rows = [json.loads(x) for x in result.stdout.splitlines()]
    assert [r["name"] for r in rows] == ["ok"]
    assert "tags.html: took over 1 s to extract (index.extractSeconds)" in result.stderr, result.stderr
