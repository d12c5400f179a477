"""Images -> one item of recognised text, through Tesseract (pytesseract) and Pillow.

Tesseract is a system program: when it is missing the indexer says once how to install it and
goes on. Pillow's decompression-bomb guard is made strict (a warning becomes a skip), and every
call has a timeout, after which pytesseract kills the tesseract process.
"""

from __future__ import annotations

import io
import logging
import re
import shutil
import subprocess
import sys
import time
import warnings

from trm_lsp.config import DocumentSettings
from trm_lsp.extract import deadline
from trm_lsp.extract.documents import document_item
from trm_lsp.extract.file import PartialFile, SkipFile
from trm_lsp.extract.items import Item

log = logging.getLogger(__name__)

#: (tesseract_cmd, ocr_lang) -> (when asked, the languages missing); asked again after `_LANGUAGES_FOR` s.
_languages_asked: dict[tuple[str, str], tuple[float, list[str]]] = {}
_LANGUAGES_FOR = 60.0

#: A line of `tesseract --list-langs` that names a language ("eng", "chi_sim", "script/Latin").
_LANGUAGE = re.compile(r"[A-Za-z0-9_/-]+")
#: Text this short is noise from a picture without writing.
_MIN_TEXT_CHARS = 3
#: An image with fewer pixels than 64x64 cannot hold a readable line of text (icons, favicons);
#: skipping it saves a tesseract start (~0.3 s) per icon.
_MIN_PIXELS = 64 * 64


def install_hint() -> str:
    if sys.platform == "darwin":
        return "brew install tesseract"
    if sys.platform.startswith("win"):
        return "winget install UB-Mannheim.TesseractOCR"
    return "sudo apt-get install tesseract-ocr (Debian/Ubuntu) or sudo dnf install tesseract (Fedora)"


def tesseract_available(settings: DocumentSettings) -> bool:
    return shutil.which(settings.tesseract_cmd) is not None


def missing_languages(settings: DocumentSettings) -> list[str]:
    """The languages of `documents.ocr_lang` ("eng+deu") tesseract has no data for, asked at most
    once a minute in a process (an index's OCR process). Without it every image failed with
    tesseract's "Failed loading language", a failure retried on every index. Not pytesseract's
    `get_languages`, which keeps its first answer for the life of the process, so a language
    installed since would not be seen. [] when tesseract cannot say: each image then says why."""
    key = (settings.tesseract_cmd, settings.ocr_lang)
    asked = _languages_asked.get(key)
    if asked is not None and time.monotonic() - asked[0] < _LANGUAGES_FOR:
        return asked[1]
    try:
        listed = subprocess.run([settings.tesseract_cmd, "--list-langs"], capture_output=True, text=True,
                                timeout=settings.ocr_timeout, check=False)
        installed = {line.strip() for line in listed.stdout.splitlines() if _LANGUAGE.fullmatch(line.strip())}
    except (OSError, subprocess.SubprocessError) as exc:
        log.info("tesseract --list-langs failed (%s); OCR languages not checked", exc)
        installed = set()
    missing = [lang for lang in settings.ocr_lang.split("+") if lang and lang not in installed] if installed else []
    _languages_asked[key] = (time.monotonic(), missing)
    return missing


def language_hint(languages: list[str]) -> str:
    if sys.platform == "darwin":
        return "brew install tesseract-lang"
    if sys.platform.startswith("win"):
        return "run the Tesseract installer again and tick the languages"
    return "sudo apt-get install " + " ".join(f"tesseract-ocr-{lang.lower().replace('_', '-')}" for lang in languages)


def extract_image(data: bytes, name: str, settings: DocumentSettings) -> list[Item]:
    import pytesseract
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = settings.max_image_pixels
    try:
        with warnings.catch_warnings():  # every page under the guard, not only the first
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            image.load()
            frames, pages = _frames(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        size = re.search(r"\((\d+) pixels\)", str(exc))  # Pillow names twice our limit past which it errs
        raise SkipFile(f"image too large (decompression bomb guard): {size.group(1) if size else 'more'} pixels, "
                       f"over documents.maxImagePixels = {settings.max_image_pixels}") from None
    except UnidentifiedImageError:
        raise SkipFile("not an image (Pillow cannot identify it)") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise SkipFile(f"unreadable image: {exc}") from None
    first = frames[0]
    if first.width * first.height < _MIN_PIXELS:
        raise SkipFile(f"image too small to hold text ({first.width}x{first.height} px)")
    missing = missing_languages(settings)
    if missing:
        names = "+".join(missing)
        raise SkipFile(f"OCR unavailable: no tesseract language data for {names!r} (documents.ocr_lang); "
                       f"install it with: {language_hint(missing)}")
    pytesseract.pytesseract.tesseract_cmd = settings.tesseract_cmd
    texts = []
    for frame in frames:
        deadline.check()
        try:
            texts.append(pytesseract.image_to_string(_prepare(frame), lang=settings.ocr_lang,
                                                     timeout=settings.ocr_timeout))
        # TesseractError is a RuntimeError too: it is caught first, or every failure reads "timed out"
        except pytesseract.TesseractError as exc:
            raise SkipFile(f"OCR failed: {' '.join(str(exc.message).split())}") from None
        except pytesseract.TesseractNotFoundError:
            raise SkipFile(f"OCR unavailable: tesseract not installed ({install_hint()})") from None
        except RuntimeError as exc:  # pytesseract's timeout
            raise SkipFile(f"OCR timed out after {settings.ocr_timeout:g} s ({exc})") from None
    text = "\n\n".join(texts)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    text = "\n".join(line for line in lines if line)
    if sum(ch.isalnum() for ch in text) < _MIN_TEXT_CHARS:
        return []
    items = [document_item("image", name, 1, 1, text)]
    if pages > len(frames):
        raise PartialFile(items, f"{pages} pages: read the first {len(frames)}")
    return items


#: Frames of a multi-page image read, at most (each is one OCR run).
MAX_FRAMES = 10


def _frames(image) -> tuple[list, int]:
    """A TIFF's pages (a scanner's one file per document), each loaded, and how many it has; of
    any other image the first frame only: a phone's JPEG may carry a preview, a GIF or PNG
    animation frames, each the same text again."""
    from PIL import ImageSequence

    if image.format != "TIFF":
        return [image], 1
    frames = []
    for frame in ImageSequence.Iterator(image):
        if len(frames) >= MAX_FRAMES:
            break
        frame.load()
        frames.append(frame.copy())
    return frames, getattr(image, "n_frames", len(frames))


def _prepare(image):
    """Upright as the camera's EXIF says, greyscale, and small text scaled up: Tesseract reads
    glyphs best around 30 px tall."""
    from PIL import Image, ImageOps

    image = ImageOps.exif_transpose(image)

    if image.mode in ("RGBA", "LA", "P"):
        background = Image.new("RGB", image.size, "white")
        background.paste(image.convert("RGBA"), mask=image.convert("RGBA").split()[-1])
        image = background
    image = image.convert("L")
    if max(image.size) < 2000:
        image = image.resize((image.width * 2, image.height * 2), Image.LANCZOS)
    return image
