"""Reading zip-based documents (DOCX, VSDX) without falling for a zip bomb, and XML without
falling for entity expansion: every archive is measured before a byte is inflated."""

from __future__ import annotations

import io
import zipfile

from trm_lsp.config import DocumentSettings
from trm_lsp.extract.file import SkipFile

# Members smaller than this are never called bombs: tiny files compress at silly ratios.
_RATIO_FLOOR = 1024 * 1024


def open_archive(data: bytes, settings: DocumentSettings, what: str) -> zipfile.ZipFile:
    """A `ZipFile` whose declared sizes are within the caps, or `SkipFile` saying which cap."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise SkipFile(f"not a valid {what} (zip): {exc}") from None
    total = 0
    for info in archive.infolist():
        total += info.file_size
        if total > settings.max_archive_bytes:
            raise SkipFile(f"zip bomb guard: {what} inflates past {settings.max_archive_bytes} bytes")
        if info.file_size > _RATIO_FLOOR and info.file_size > settings.max_compression_ratio * max(info.compress_size, 1):
            raise SkipFile(
                f"zip bomb guard: {what} member {info.filename} compresses {info.file_size // max(info.compress_size, 1)}:1"
            )
    return archive


def read_member(archive: zipfile.ZipFile, name: str, settings: DocumentSettings) -> bytes:
    """Inflate one member, stopping at the cap even if the header lied about its size."""
    with archive.open(name) as fh:
        data = fh.read(settings.max_archive_bytes + 1)
    if len(data) > settings.max_archive_bytes:
        raise SkipFile(f"zip bomb guard: {name} inflates past {settings.max_archive_bytes} bytes")
    return data


def parse_xml(data: bytes | str, what: str):
    """defusedxml: entity expansion, external entities and DTD tricks are refused."""
    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    try:
        return SafeET.fromstring(data)
    except DefusedXmlException as exc:
        raise SkipFile(f"unsafe XML in {what}: {type(exc).__name__}") from None
    except SafeET.ParseError as exc:
        raise SkipFile(f"malformed XML in {what}: {exc}") from None


def local(tag: str) -> str:
    """`{namespace}Shape` -> `Shape`."""
    return tag.rsplit("}", 1)[-1]
