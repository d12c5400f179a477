"""Real documents of every supported type, made with the libraries users' tools use: python-docx
for DOCX, reportlab for PDF, Pillow for images; Draw.io and Visio packages written to their
published formats. Shared by the tests and by bench/documents_speed.py."""

from __future__ import annotations

import base64
import urllib.parse
import zipfile
import zlib
from pathlib import Path

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")


def make_docx(path: Path, sections: list[tuple[str, list[str]]], table: list[list[str]] | None = None) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("Design notes", level=0)
    for index, (heading, paragraphs) in enumerate(sections):
        document.add_heading(heading, level=1)
        for text in paragraphs:
            document.add_paragraph(text)
        if table and index == 0:
            grid = document.add_table(rows=len(table), cols=len(table[0]))
            for r, row in enumerate(table):
                for c, value in enumerate(row):
                    grid.cell(r, c).text = value
    document.save(path)
    return path


def make_pdf(path: Path, pages: list[str], encrypt: tuple[str, str] | None = None) -> Path:
    from reportlab.lib.pdfencrypt import StandardEncryption
    from reportlab.pdfgen import canvas

    kwargs = {}
    if encrypt is not None:
        kwargs["encrypt"] = StandardEncryption(encrypt[0], ownerPassword=encrypt[1])
    pdf = canvas.Canvas(str(path), **kwargs)
    for text in pages:
        y = 740
        for line in text.splitlines():
            pdf.drawString(72, y, line)
            y -= 16
        pdf.showPage()
    pdf.save()
    return path


def drawio_model(labels: dict[str, str], edges: list[tuple[str, str, str]]) -> str:
    cells = ['<mxCell id="0"/>', '<mxCell id="1" parent="0"/>']
    for cell_id, label in labels.items():
        value = label.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
        cells.append(f'<mxCell id="{cell_id}" value="{value}" style="rounded=1;html=1;" vertex="1" parent="1">'
                     '<mxGeometry x="10" y="10" width="120" height="60" as="geometry"/></mxCell>')
    for n, (source, target, label) in enumerate(edges):
        cells.append(f'<mxCell id="e{n}" value="{label}" style="edgeStyle=orthogonalEdgeStyle;" edge="1" '
                     f'parent="1" source="{source}" target="{target}"><mxGeometry relative="1" as="geometry"/></mxCell>')
    return "<mxGraphModel><root>" + "".join(cells) + "</root></mxGraphModel>"


def compress_drawio(xml: str) -> str:
    """Draw.io's compressed page: URL-encode, raw deflate, base64."""
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    raw = deflater.compress(urllib.parse.quote(xml, safe="").encode()) + deflater.flush()
    return base64.b64encode(raw).decode()


def make_drawio(path: Path, pages: list[tuple[str, str]], compressed: bool) -> Path:
    diagrams = []
    for n, (name, model) in enumerate(pages):
        body = compress_drawio(model) if compressed else model
        diagrams.append(f'<diagram id="d{n}" name="{name}">{body}</diagram>')
    path.write_text(f'<mxfile host="drawio" version="24.0.0">{"".join(diagrams)}</mxfile>', encoding="utf-8")
    return path


_VISIO_NS = "http://schemas.microsoft.com/office/visio/2012/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def visio_page(shapes: dict[str, str], connections: list[tuple[str, str, str]]) -> str:
    parts = []
    for shape_id, text in shapes.items():
        parts.append(f'<Shape ID="{shape_id}" Type="Shape"><Text>{text}</Text></Shape>')
    connects = []
    for n, (source, target, label) in enumerate(connections):
        cid = str(1000 + n)
        text = f"<Text>{label}</Text>" if label else ""
        parts.append(f'<Shape ID="{cid}" Type="Shape" Master="2">{text}</Shape>')
        connects.append(f'<Connect FromSheet="{cid}" FromCell="BeginX" ToSheet="{source}" ToCell="PinX"/>')
        connects.append(f'<Connect FromSheet="{cid}" FromCell="EndX" ToSheet="{target}" ToCell="PinX"/>')
    return (f'<?xml version="1.0" encoding="utf-8"?><PageContents xmlns="{_VISIO_NS}" xmlns:r="{_REL_NS}">'
            f'<Shapes>{"".join(parts)}</Shapes><Connects>{"".join(connects)}</Connects></PageContents>')


def make_vsdx(path: Path, pages: list[tuple[str, str]]) -> Path:
    """A Visio package as Visio writes it: content types, relationships, document, pages."""
    overrides = "".join(
        f'<Override PartName="/visio/pages/page{n}.xml" '
        'ContentType="application/vnd.ms-visio.page+xml"/>' for n in range(1, len(pages) + 1))
    content_types = (
        '<?xml version="1.0" encoding="utf-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/visio/document.xml" ContentType="application/vnd.ms-visio.drawing.main+xml"/>'
        '<Override PartName="/visio/pages/pages.xml" ContentType="application/vnd.ms-visio.pages+xml"/>'
        f'{overrides}</Types>')
    root_rels = (
        '<?xml version="1.0" encoding="utf-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.microsoft.com/visio/2010/relationships/document" Target="visio/document.xml"/>'
        '</Relationships>')
    document = f'<?xml version="1.0" encoding="utf-8"?><VisioDocument xmlns="{_VISIO_NS}"/>'
    document_rels = (
        '<?xml version="1.0" encoding="utf-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.microsoft.com/visio/2010/relationships/pages" Target="pages/pages.xml"/>'
        '</Relationships>')
    page_entries = "".join(
        f'<Page ID="{n}" NameU="{name}" Name="{name}"><PageSheet/><Rel r:id="rId{n}"/></Page>'
        for n, (name, _) in enumerate(pages, 1))
    pages_xml = f'<?xml version="1.0" encoding="utf-8"?><Pages xmlns="{_VISIO_NS}" xmlns:r="{_REL_NS}">{page_entries}</Pages>'
    pages_rels = ('<?xml version="1.0" encoding="utf-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                  + "".join(f'<Relationship Id="rId{n}" Type="http://schemas.microsoft.com/visio/2010/relationships/page" '
                            f'Target="page{n}.xml"/>' for n in range(1, len(pages) + 1))
                  + "</Relationships>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", content_types)
        archive.writestr("_rels/.rels", root_rels)
        archive.writestr("visio/document.xml", document)
        archive.writestr("visio/_rels/document.xml.rels", document_rels)
        archive.writestr("visio/pages/pages.xml", pages_xml)
        archive.writestr("visio/pages/_rels/pages.xml.rels", pages_rels)
        for n, (_, page) in enumerate(pages, 1):
            archive.writestr(f"visio/pages/page{n}.xml", page)
    return path


def render_text_image(path: Path, lines: list[str], font: str = "DejaVuSans.ttf", size: int = 20) -> Path:
    from PIL import Image, ImageDraw, ImageFont

    face = ImageFont.truetype(str(FONT_DIR / font), size)
    width = max(int(face.getlength(line)) for line in lines) + 40
    height = (size + size // 2) * len(lines) + 40
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    for n, line in enumerate(lines):
        draw.text((20, 20 + n * (size + size // 2)), line, fill="black", font=face)
    image.save(path)
    return path


def zip_bomb(path: Path, member: str, inflated_bytes: int) -> Path:
    """A valid zip whose one member inflates to `inflated_bytes` of zeros."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open(member, "w", force_zip64=True) as fh:
            chunk = b"\0" * (1 << 20)
            for _ in range(inflated_bytes >> 20):
                fh.write(chunk)
    return path


BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol "lol">\n'
    + "".join(f'<!ENTITY lol{n} "{("&lol" + (str(n - 1) if n > 1 else "") + ";") * 10}">\n' for n in range(1, 10))
    + ']>\n'
)
