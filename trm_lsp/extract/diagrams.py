"""Diagrams -> items, one per page: Draw.io (plain or compressed) and Visio (.vsdx).

Each page's text lists the shapes' labels, then the structure as `A -> B (edge label)` lines,
which is what a reader (or the teacher) needs to follow an architecture diagram.
"""

from __future__ import annotations

import base64
import html
import posixpath
import re
import urllib.parse
import zlib

from trm_lsp.config import DocumentSettings
from trm_lsp.extract import deadline
from trm_lsp.extract.archive import local, open_archive, parse_xml, read_member
from trm_lsp.extract.documents import document_item
from trm_lsp.extract.file import PartialFile, SkipFile
from trm_lsp.extract.items import Item

_TAG = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"<\s*(?:br|/div|/p|/li)\b[^>]*>", re.IGNORECASE)


def label_text(value: str | None) -> str:
    """A Draw.io label (often HTML) as plain text on one line."""
    if not value:
        return ""
    text = _BREAK.sub(" ", value)
    text = html.unescape(_TAG.sub("", text))
    return " ".join(text.split())


def page_text(labels: list[str], edges: list[str]) -> str:
    parts = []
    if labels:
        parts.append("Shapes:\n" + "\n".join(f"- {label}" for label in labels))
    if edges:
        parts.append("Structure:\n" + "\n".join(edges))
    return "\n\n".join(parts)


# -- Draw.io -----------------------------------------------------------------------------------


def extract_drawio(data: bytes, settings: DocumentSettings) -> list[Item]:
    root = parse_xml(data, "Draw.io file")
    if local(root.tag) == "mxGraphModel":
        diagrams = [("page 1", root)]
    elif local(root.tag) == "mxfile":
        diagrams = []
        for number, diagram in enumerate(root.findall("diagram"), 1):
            name = diagram.get("name") or f"page {number}"
            model = diagram.find("mxGraphModel")
            if model is None and (diagram.text or "").strip():  # an empty page is no page to read
                model = _page_or_problem(lambda: _inflate_page(diagram.text or "", settings, name))
            diagrams.append((name, model))
    else:
        raise SkipFile(f"not a Draw.io file: root element <{local(root.tag)}>")
    items = []
    for number, (name, model) in enumerate(diagrams, 1):
        deadline.check()
        if model is None or isinstance(model, SkipFile):
            continue
        labels, edges = _graph(model)
        text = page_text(labels, edges)
        if text:
            items.append(document_item("diagram", name, number, number, f"{name}\n{text}"))
    return _with_problems(items, [model for _, model in diagrams if isinstance(model, SkipFile)])


def _page_or_problem(read):
    """A page, or why it cannot be read: one bad page costs itself, not its file's other pages."""
    try:
        return read()
    except SkipFile as exc:
        return exc


def _with_problems(items: list[Item], problems: list[SkipFile]) -> list[Item]:
    if not problems:
        return items
    if not items:
        raise problems[0]
    raise PartialFile(items, "; ".join(str(p) for p in problems[:3]) + (" ..." if len(problems) > 3 else ""))


def _inflate_page(payload: str, settings: DocumentSettings, name: str):
    """base64 -> raw deflate -> URL-encoded XML, with the inflated size capped."""
    payload = payload.strip()  # not empty: an empty page is no page (`extract_drawio`)
    try:
        raw = base64.b64decode(payload, validate=False)
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        inflated = inflater.decompress(raw, settings.max_inflated_bytes + 1)
    except (ValueError, zlib.error) as exc:
        raise SkipFile(f"Draw.io page {name!r}: bad compressed payload: {exc}") from None
    if len(inflated) > settings.max_inflated_bytes or inflater.unconsumed_tail:
        raise SkipFile(f"Draw.io page {name!r} inflates past {settings.max_inflated_bytes} bytes (documents.maxInflatedBytes)")
    xml = urllib.parse.unquote(inflated.decode("utf-8", "replace"))
    return parse_xml(xml, f"Draw.io page {name!r}")


def _graph(model) -> tuple[list[str], list[str]]:
    cells: dict[str, dict] = {}
    for element in model.iter():
        tag = local(element.tag)
        if tag == "mxCell":
            cell_id = element.get("id")
            if cell_id is not None and cell_id not in cells:
                cells[cell_id] = {"value": element.get("value"), **element.attrib}
        elif tag in ("UserObject", "object"):  # a labelled wrapper around its mxCell
            inner = next((c for c in element if local(c.tag) == "mxCell"), None)
            if inner is not None and element.get("id"):
                cells[element.get("id")] = {
                    **inner.attrib, "id": element.get("id"), "value": element.get("label") or inner.get("value"),
                }
    names = {cid: label_text(c.get("value")) for cid, c in cells.items()}
    edge_labels: dict[str, list[str]] = {}
    labels = []
    for cid, cell in cells.items():
        parent = cells.get(cell.get("parent", ""))
        if cell.get("vertex") == "1" and parent is not None and parent.get("edge") == "1":
            if names[cid]:
                edge_labels.setdefault(cell["parent"], []).append(names[cid])
        elif cell.get("vertex") == "1" and names[cid]:
            labels.append(names[cid])
    edges = []
    for cid, cell in cells.items():
        if cell.get("edge") != "1":
            continue
        source = names.get(cell.get("source", ""), "") or "?"
        target = names.get(cell.get("target", ""), "") or "?"
        label = " ".join([names[cid]] + edge_labels.get(cid, [])).strip()
        edges.append(f"{source} -> {target}" + (f" ({label})" if label else ""))
    return labels, edges


# -- Visio -------------------------------------------------------------------------------------

_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def extract_vsdx(data: bytes, settings: DocumentSettings) -> list[Item]:
    archive = open_archive(data, settings, "VSDX")
    members = set(archive.namelist())
    if "visio/pages/pages.xml" not in members:
        raise SkipFile("not a Visio drawing: visio/pages/pages.xml is missing")
    pages = parse_xml(read_member(archive, "visio/pages/pages.xml", settings), "pages.xml")
    targets = {}
    if "visio/pages/_rels/pages.xml.rels" in members:
        rels = parse_xml(read_member(archive, "visio/pages/_rels/pages.xml.rels", settings), "pages.xml.rels")
        for rel in rels:
            target = rel.get("Target", "")  # relative to visio/pages/, or absolute from the package root
            path = target.lstrip("/") if target.startswith("/") else posixpath.join("visio/pages", target)
            targets[rel.get("Id")] = posixpath.normpath(path)
    items = []
    problems = []
    for number, page in enumerate((p for p in pages if local(p.tag) == "Page"), 1):
        deadline.check()
        name = page.get("NameU") or page.get("Name") or f"page {number}"
        rel = next((c for c in page if local(c.tag) == "Rel"), None)
        member = targets.get(rel.get(f"{{{_REL_NS}}}id")) if rel is not None else None
        member = member or f"visio/pages/page{number}.xml"
        if member not in members:
            continue
        read = _page_or_problem(lambda: _visio_page(parse_xml(read_member(archive, member, settings), member)))
        if isinstance(read, SkipFile):
            problems.append(read)
            continue
        text = page_text(*read)
        if text:
            items.append(document_item("diagram", name, number, number, f"{name}\n{text}"))
    return _with_problems(items, problems)


def _visio_page(root) -> tuple[list[str], list[str]]:
    texts: dict[str, str] = {}
    order = []
    for element in root.iter():
        if local(element.tag) != "Shape" or element.get("ID") is None:
            continue
        text_element = next((c for c in element if local(c.tag) == "Text"), None)
        text = " ".join("".join(text_element.itertext()).split()) if text_element is not None else ""
        texts[element.get("ID")] = text
        order.append(element.get("ID"))
    ends: dict[str, dict[str, str]] = {}
    for element in root.iter():
        if local(element.tag) == "Connect":
            connector, shape, cell = element.get("FromSheet"), element.get("ToSheet"), element.get("FromCell", "")
            side = "begin" if cell.startswith("Begin") else "end"
            ends.setdefault(connector, {})[side] = shape
    edges = []
    for connector, sides in ends.items():
        source = texts.get(sides.get("begin", ""), "") or "?"
        target = texts.get(sides.get("end", ""), "") or "?"
        label = texts.get(connector, "")
        edges.append(f"{source} -> {target}" + (f" ({label})" if label else ""))
    labels = [texts[sid] for sid in order if texts[sid] and sid not in ends]
    return labels, edges
