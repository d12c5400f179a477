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
from trm_lsp.extract import deadline
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
    if b"%PDF-" not in data[:1024]:  # where readers look for the header
        raise SkipFile(f"not a PDF: {_looks_like(data)}")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise SkipFile("encrypted PDF: a password is required")
        pages = reader.pages
        count = len(pages)
        items = []
        for number in range(min(count, settings.max_pdf_pages)):
            deadline.check()
            text = pages[number].extract_text() or ""
            if text.strip():
                items.append(document_item("page", f"page {number + 1}", number + 1, number + 1, text))
    except SkipFile:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError, RecursionError) as exc:
        raise SkipFile(f"unreadable PDF: {type(exc).__name__}: {exc}") from None
    if count > settings.max_pdf_pages:
        raise PartialFile(items, f"{count} pages: read the first {settings.max_pdf_pages} (documents.maxPdfPages)")
    if count and not items:
        raise SkipFile("no text layer (a scanned PDF? trm-lsp reads the text of PDFs, it does not OCR them)")
    return items


_MAGIC = ((b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
          (b"PK\x03\x04", "a ZIP archive (a DOCX, an XLSX?)"), (b"\xd0\xcf\x11\xe0", "an old Office file (.doc, .xls)"))


def _looks_like(data: bytes) -> str:
    """What a file named .pdf is instead: a download saved under the wrong name, an HTML error page."""
    if not data.strip():
        return "empty"
    for magic, what in _MAGIC:
        if data.startswith(magic):
            return f"looks like {what}"
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return "looks like an HTML page (a download that failed?)"
    return "no %PDF- header"


def extract_docx(data: bytes, settings: DocumentSettings) -> list[Item]:
    """Sections from headings: a paragraph whose style is a heading (or Title, or based on
    one) or that has an outline level starts one. Read from the XML, not python-docx's
    `Paragraph.style` and `.text`: the first costs ~1 ms a paragraph (20,000 paragraphs: 19 s),
    the second leaves out tracked insertions, fields, smart tags, content controls and text
    boxes."""
    from trm_lsp.extract.archive import open_archive

    open_archive(data, settings, "DOCX")  # size and ratio caps before python-docx inflates it
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises many kinds for a broken package
        raise SkipFile(f"unreadable DOCX: {type(exc).__name__}: {exc}") from None
    headings = _heading_styles(document)
    sections: list[tuple[str, int, int, list[str]]] = []
    name, first, lines = _BEFORE, 1, []
    number = 0
    for child in _blocks(document.element.body):
        deadline.check()
        number += 1
        if child.tag == _W + "tbl":
            lines.extend(_table_rows(child))
            continue
        text = _text(child).strip()
        if text and _is_heading(child, headings):
            if lines or name != _BEFORE:
                sections.append((name, first, number - 1, lines))
            name, first, lines = " ".join(text.split()), number, []
        elif text:
            lines.append(text)
    if lines or name != _BEFORE:
        sections.append((name, first, max(number, first), lines))
    # A heading with nothing under it (a title above the first chapter) is no section to explain,
    # unless the document is headings alone. The placeholder name is not the section's text.
    sections = [s for s in sections if s[3]] or sections
    return [document_item("section", title, a, b, "\n".join(body if title == _BEFORE else [title, *body]))
            for title, a, b, body in sections]


_BEFORE = "(before the first heading)"
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"


def _blocks(body):
    """The body's paragraphs and tables in order, those inside content controls (`w:sdt`) too."""
    for child in body.iterchildren():
        if child.tag in (_W + "p", _W + "tbl"):
            yield child
        elif child.tag == _W + "sdt":
            content = child.find(_W + "sdtContent")
            if content is not None:
                yield from _blocks(content)


def _text(element) -> str:
    """The text of a paragraph (or a cell) as Word shows it: every run, inserted ones included
    (deleted text is `w:delText`, left out), tabs and breaks; a drawing's alternative content
    once (`mc:Fallback` repeats the `mc:Choice`)."""
    out: list[str] = []
    stack = [element]
    while stack:
        node = stack.pop()
        tag = node.tag
        if tag == _W + "t":
            out.append(node.text or "")
        elif tag == _W + "tab":
            out.append("\t")
        elif tag in (_W + "br", _W + "cr"):
            out.append("\n")
        elif tag == _W + "p" and node is not element and out and not out[-1].endswith("\n"):
            out.append("\n")  # a paragraph inside (a text box, a cell): its own line
        if tag != _MC + "Fallback" and isinstance(tag, str):
            stack.extend(reversed(node))
    return "".join(out)


def _table_rows(table) -> list[str]:
    """Each row as `cell | cell`, each merged cell once, a nested table's text in its cell."""
    rows = []
    for row in table.iterchildren(_W + "tr"):
        cells = [" ".join(_text(cell).split()) for cell in row.iterchildren(_W + "tc")]
        rows.append(" | ".join(cells))
    return rows


def _heading_styles(document) -> set[str]:
    """Style ids that make a paragraph a heading: named Heading N or Title, with an outline
    level, or based on such a style (a custom "Chapter" style based on Heading 1)."""
    styles = {}
    for style in document.styles.element.iterchildren(_W + "style"):
        sid = style.get(_W + "styleId")
        name = style.find(_W + "name")
        based = style.find(_W + "basedOn")
        ppr = style.find(_W + "pPr")
        outline = ppr is not None and ppr.find(_W + "outlineLvl") is not None
        styles[sid] = ((name.get(_W + "val") if name is not None else "") or "",
                       based.get(_W + "val") if based is not None else None, outline)

    def heading(sid: str | None, depth: int = 0) -> bool:
        if sid not in styles or depth > 20:
            return False
        name, based, outline = styles[sid]
        lowered = name.lower()
        return outline or lowered.startswith("heading") or lowered == "title" or heading(based, depth + 1)

    return {sid for sid in styles if heading(sid)}


def _is_heading(paragraph, headings: set[str]) -> bool:
    ppr = paragraph.find(_W + "pPr")
    if ppr is None:
        return False
    if ppr.find(_W + "outlineLvl") is not None and ppr.find(_W + "outlineLvl").get(_W + "val") != "9":
        return True  # level 9 is Word's "body text"
    style = ppr.find(_W + "pStyle")
    return style is not None and style.get(_W + "val") in headings
