"""Hostile documents (issue 3): each is skipped with a reason in the index summary, nothing
crashes, and the rest of the workspace is indexed."""

from __future__ import annotations

import os
import time
import zipfile
from pathlib import Path

import pytest

from tests.conftest import index_rows, run_cli, write
from tests.docgen import BILLION_LAUGHS, make_pdf, make_vsdx, render_text_image, zip_bomb
from trm_lsp.config import Settings
from trm_lsp.indexer import index_workspace
from trm_lsp.store import Store

GOOD = "def good():\n    return 1\n"


def index_with_good_file(workspace: Path) -> str:
    write(workspace, "good.py", GOOD)
    result = run_cli("index", str(workspace), timeout=300)
    assert [r["name"] for r in index_rows(workspace) if r["path"] == "good.py"] == ["good"]
    return result.stderr


@pytest.mark.parametrize("name,member", [("bomb.docx", "word/document.xml"), ("bomb.vsdx", "visio/pages/page1.xml")])
def test_zip_bomb_ratio(workspace: Path, name: str, member: str):
    zip_bomb(workspace / name, member, 64 << 20)
    assert f"{name}: zip bomb guard: {name.split('.')[1].upper()} member {member} compresses" in index_with_good_file(workspace)


def test_zip_bomb_total_size(workspace: Path):
    write(workspace, "trm-lsp.toml", "[documents]\nmaxArchiveBytes = 1000000\n")
    with zipfile.ZipFile(workspace / "big.docx", "w", zipfile.ZIP_STORED) as archive:
        for n in range(3):
            archive.writestr(f"word/part{n}.xml", os.urandom(400_000))
    assert "big.docx: zip bomb guard: DOCX inflates past 1000000 bytes" in index_with_good_file(workspace)


def test_billion_laughs_in_drawio_vsdx_and_xml(workspace: Path):
    write(workspace, "lol.drawio", BILLION_LAUGHS + "<mxfile><diagram>&lol9;</diagram></mxfile>")
    make_vsdx(workspace / "lol.vsdx", [("Page", BILLION_LAUGHS + "<PageContents>&lol9;</PageContents>")])
    write(workspace, "lol.xml", BILLION_LAUGHS + "<root><item name='x'>&lol9;</item></root>")
    started = time.monotonic()
    stderr = index_with_good_file(workspace)
    assert time.monotonic() - started < 60
    assert "lol.drawio: unsafe XML in Draw.io file: EntitiesForbidden" in stderr
    assert "lol.vsdx: unsafe XML in visio/pages/page1.xml: EntitiesForbidden" in stderr
    assert "lol.xml: unsafe XML: entity declared from other entities" in stderr


def test_drawio_payload_that_inflates_past_the_cap(workspace: Path):
    import base64
    import zlib

    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    payload = deflater.compress(b"A" * (40 << 20)) + deflater.flush()
    write(workspace, "huge.drawio", f'<mxfile><diagram name="Big">{base64.b64encode(payload).decode()}</diagram></mxfile>')
    assert "huge.drawio: Draw.io page 'Big' inflates past 20971520 bytes" in index_with_good_file(workspace)


def test_truncated_pdf(workspace: Path):
    full = make_pdf(workspace / "full.pdf", ["Some text"] * 3).read_bytes()
    (workspace / "full.pdf").unlink()
    write(workspace, "cut.pdf", full[: len(full) // 2])
    assert "cut.pdf: unreadable PDF" in index_with_good_file(workspace)


def test_a_pdf_that_is_not_one_or_has_no_text_says_so(workspace: Path):
    from PIL import Image

    Image.new("RGB", (64, 64), "white").save(workspace / "photo.pdf", format="PNG")
    write(workspace, "report.pdf", "<!DOCTYPE html><html><body>404 Not Found</body></html>")
    make_pdf(workspace / "scan.pdf", [""])
    stderr = index_with_good_file(workspace)
    assert "photo.pdf: not a PDF: looks like a PNG image" in stderr
    assert "report.pdf: not a PDF: looks like an HTML page" in stderr
    assert "scan.pdf: no text layer (a scanned PDF?" in stderr


def test_pdf_with_5000_pages_is_capped(workspace: Path):
    from pypdf import PdfReader, PdfWriter

    one = make_pdf(workspace / "one.pdf", ["A page of the manual"])
    page = PdfReader(one).pages[0]
    writer = PdfWriter()
    for _ in range(5000):
        writer.add_page(page)
    writer.write(workspace / "manual.pdf")
    one.unlink()
    write(workspace, "trm-lsp.toml", "[documents]\nmaxPdfPages = 50\n")
    stderr = index_with_good_file(workspace)
    assert "manual.pdf: 5000 pages: read the first 50" in stderr
    assert len([r for r in index_rows(workspace) if r["path"] == "manual.pdf"]) == 50


def test_decompression_bomb_image(workspace: Path):
    from PIL import Image

    Image.new("1", (12_000, 12_000)).save(workspace / "bomb.png")
    small = Image.new("1", (200, 200), 1)  # a harmless first page: every page is under the guard
    small.save(workspace / "pages.tiff", save_all=True, compression="group4",
               append_images=[Image.new("1", (7_000, 7_000), 1)])
    stderr = index_with_good_file(workspace)
    assert ("bomb.png: image too large (decompression bomb guard): 144000000 pixels, over documents.maxImagePixels"
            " = 40000000") in stderr
    assert "pages.tiff: image too large (decompression bomb guard): 49000000 pixels" in stderr, stderr


def test_png_that_is_really_text(workspace: Path):
    write(workspace, "fake.png", "this is not a picture\n" * 10)
    assert "fake.png: not an image" in index_with_good_file(workspace)


def test_ocr_that_hangs_is_timed_out(workspace: Path, tmp_path: Path):
    slow = tmp_path / "slow-tesseract"
    slow.write_text("#!/bin/sh\nsleep 60\n")
    slow.chmod(0o755)
    render_text_image(workspace / "shot.png", ["hello world"], size=24)
    write(workspace, "trm-lsp.toml", f"[documents]\ntesseractCmd = '{slow}'\nocrTimeout = 1\n")
    started = time.monotonic()
    assert "shot.png: OCR timed out after 1 s" in index_with_good_file(workspace)
    assert time.monotonic() - started < 30


def test_missing_tesseract_says_once_how_to_install(workspace: Path):
    for n in range(3):
        render_text_image(workspace / f"shot{n}.png", ["hello world"], size=24)
    write(workspace, "trm-lsp.toml", "[documents]\ntesseractCmd = '/nonexistent/tesseract'\n")
    stderr = index_with_good_file(workspace)
    assert stderr.count("install it with") == 1
    assert "apt-get install tesseract-ocr" in stderr
    assert stderr.count("OCR unavailable: tesseract not installed") == 3


def test_slow_ocr_never_holds_up_code(workspace: Path, tmp_path: Path):
    slow = tmp_path / "slow-tesseract"
    slow.write_text("#!/bin/sh\nsleep 3\nexit 1\n")
    slow.chmod(0o755)
    for n in range(2):
        render_text_image(workspace / f"shot{n}.png", ["hello world"], size=24)
    for n in range(60):
        write(workspace, f"code/m{n}.py", GOOD.replace("good", f"f{n}"))
    settings = Settings.from_dict({"documents": {"tesseractCmd": str(slow), "ocrTimeout": 10}})
    finished: dict[str, float] = {}
    started = time.monotonic()
    store = Store.for_workspace(workspace)
    index_workspace(workspace, store, settings, lambda done, total, rel: finished.setdefault(rel, time.monotonic() - started))
    store.close()
    code = [t for rel, t in finished.items() if rel.endswith(".py")]
    images = [t for rel, t in finished.items() if rel.endswith(".png")]
    assert len(code) == 60 and len(images) == 2
    assert max(code) < 2.5 < min(images)  # all code was in before the first OCR call returned
