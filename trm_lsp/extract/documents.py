"""Documents -> items: PDF pages (pypdf) and DOCX heading sections (python-docx).

Diagrams live in diagrams.py and images in ocr.py; this module also dispatches to them.
Each item's text is stored (it is not a slice of the file), with the sha256 of that text.
"""

from __future__ import annotations

import hashlib
import io
import logging
from pathlib import Path

from trm_lsp.config import DocumentSettings
from trm_lsp.extract.file import PartialFile, SkipFile
from trm_lsp.extract.items import Item

log = logging.getLogger(__name__)


def extract_document(language_id: str, data: bytes, path: str, settings: DocumentSettings) -> list[Item]:
    if language_id == "pdf":
        items = extract_pdf(data, settings)
    elif language_id == "docx":
        items = extract_docx(data, settings)
    elif language_id == "drawio":
        from trm_lsp.extract.diagrams import extract_drawio

        items = extract_drawio(data, settings)
    elif language_id == "visio":
        from trm_lsp.extract.diagrams import extract_vsdx

        items = extract_vsdx(data, settings)
    elif language_id == "image":
        from trm_lsp.extract.ocr import extract_image

        items = extract_image(data, Path(path).name, settings)
    else:  # pragma: no cover - the language table and this switch are kept in step
        raise SkipFile(f"no extractor for {language_id}")
    if not items:
        raise SkipFile("no text found")
    return items


def document_item(kind: str, name: str, first: int, last: int, text: str, signature: str = "") -> Item:
    """An item whose 'lines' are pages, paragraphs or diagram pages, numbered from 1."""
    text = text.strip()
    return Item(
        kind=kind, name=name, qualname=name, parent=None, start_line=first, end_line=last,
        start_byte=0, end_byte=0, range=(first - 1, 0, last - 1, 0), signature=signature or name,
        doc="", sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(), text=text,
    )


def extract_pdf(data: bytes, settings: DocumentSettings) -> list[Item]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise SkipFile("encrypted PDF: a password is required")
        pages = reader.pages
        count = len(pages)
        items = []
        for number in range(min(count, settings.max_pdf_pages)):
            text = pages[number].extract_text() or ""
            if text.strip():
                items.append(document_item("page", f"page {number + 1}", number + 1, number + 1, text))
    except SkipFile:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError, RecursionError) as exc:
        raise SkipFile(f"unreadable PDF: {type(exc).__name__}: {exc}") from None
    if count > settings.max_pdf_pages:
        raise PartialFile(items, f"{count} pages: read the first {settings.max_pdf_pages} (documents.maxPdfPages)")
    return items


def extract_docx(data: bytes, settings: DocumentSettings) -> list[Item]:
    from trm_lsp.extract.archive import open_archive

    open_archive(data, settings, "DOCX")  # size and ratio caps before python-docx inflates it
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises many kinds for a broken package
        raise SkipFile(f"unreadable DOCX: {type(exc).__name__}: {exc}") from None
    sections: list[tuple[str, int, int, list[str]]] = []
    name, first, lines = "(before the first heading)", 1, []
    number = 0
    for child in document.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            number += 1
            paragraph = Paragraph(child, document)
            text = paragraph.text.strip()
            style = (paragraph.style.name if paragraph.style is not None else "") or ""
            if text and (style.startswith("Heading") or style == "Title"):
                if lines:
                    sections.append((name, first, number - 1, lines))
                name, first, lines = text, number, []
            elif text:
                lines.append(text)
        elif tag == "tbl":
            number += 1
            for row in Table(child, document).rows:
                cells = [cell.text.strip() for cell in row.cells]
                lines.append(" | ".join(cells))
    if lines or name != "(before the first heading)":
        sections.append((name, first, max(number, first), lines))
    return [document_item("section", title, a, b, "\n".join([title, *body])) for title, a, b, body in sections]
