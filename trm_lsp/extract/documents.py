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
    """The body's paragraphs and tables in order, those inside content controls (`w:sdt`) and
    custom XML elements too."""
    for child in body.iterchildren():
        if child.tag in (_W + "p", _W + "tbl"):
            yield child
        elif child.tag in _WRAPPERS:
            yield from _blocks(_content(child))


#: Elements that wrap blocks, rows or cells without being one (content controls, custom XML).
_WRAPPERS = (_W + "sdt", _W + "customXml")


def _content(wrapper):
    """What a wrapper holds: a content control's `w:sdtContent`, a custom XML element itself."""
    content = wrapper.find(_W + "sdtContent")
    return content if content is not None else wrapper


def _text(element) -> str:
    """The text of a paragraph (or a cell) as Word shows it: every run, inserted ones included
    (deleted text is `w:delText`, moved-away text `w:moveFrom`: left out), tabs, breaks and
    non-breaking hyphens; a paragraph inside it (a text box, a cell) on its own line; a drawing's
    alternative content once (`mc:Fallback` repeats the `mc:Choice`)."""
    out: list[str] = []
    stack: list = [element]
    while stack:
        node = stack.pop()
        if node is _END_OF_PARAGRAPH:
            if out and not out[-1].endswith("\n"):
                out.append("\n")
            continue
        tag = node.tag
        if not isinstance(tag, str) or tag in _LEFT_OUT:
            continue  # comments and processing instructions have a function as tag
        if tag == _W + "t":
            out.append(node.text or "")
        elif tag in _AS_TEXT:
            out.append(_AS_TEXT[tag])
        elif tag == _W + "p" and node is not element:
            if out and not out[-1].endswith("\n"):
                out.append("\n")
            stack.append(_END_OF_PARAGRAPH)
        stack.extend(reversed(node))
    return "".join(out)


_END_OF_PARAGRAPH = object()
_LEFT_OUT = frozenset({_MC + "Fallback", _W + "moveFrom", _W + "del", _W + "rt"})  # rt: a ruby's reading
_AS_TEXT = {_W + "tab": "\t", _W + "br": "\n", _W + "cr": "\n", _W + "noBreakHyphen": "-", _W + "softHyphen": ""}


def _table_rows(table) -> list[str]:
    """Each row as `cell | cell`, each merged cell once, a nested table's text in its cell;
    rows and cells inside content controls too (a repeating section)."""
    return [" | ".join(" ".join(_text(cell).split()) for cell in _children(row, _W + "tc"))
            for row in _children(table, _W + "tr")]


def _children(parent, tag: str):
    for child in parent.iterchildren():
        if child.tag == tag:
            yield child
        elif child.tag in _WRAPPERS:
            yield from _children(_content(child), tag)


def _heading_styles(document) -> set[str]:
    """Style ids that make a paragraph a heading: named Heading N or Title, with an outline
    level, or based on such a style (a custom "Chapter" style based on Heading 1)."""
    styles = {}
    for style in document.styles.element.iterchildren(_W + "style"):
        sid = style.get(_W + "styleId")
        name = style.find(_W + "name")
        based = style.find(_W + "basedOn")
        ppr = style.find(_W + "pPr")
        outline = _outline_level(ppr)
        styles[sid] = ((name.get(_W + "val") if name is not None else "") or "",
                       based.get(_W + "val") if based is not None else None, outline)

    def heading(sid: str | None, depth: int = 0) -> bool:
        if sid not in styles or depth > 20:
            return False
        name, based, outline = styles[sid]
        if outline is not None:  # its own outline level decides: 9 is body text
            return outline < 9
        lowered = name.lower()
        return lowered.startswith("heading") or lowered == "title" or heading(based, depth + 1)

    return {sid for sid in styles if heading(sid)}


def _is_heading(paragraph, headings: set[str]) -> bool:
    ppr = paragraph.find(_W + "pPr")
    if ppr is None:
        return False
    outline = _outline_level(ppr)
    if outline is not None:  # the paragraph's own level overrides its style's; 9 is body text
        return outline < 9
    style = ppr.find(_W + "pStyle")
    return style is not None and style.get(_W + "val") in headings


def _outline_level(ppr) -> int | None:
    level = ppr.find(_W + "outlineLvl") if ppr is not None else None
    try:
        return int(level.get(_W + "val")) if level is not None else None
    except (TypeError, ValueError):
        return None
