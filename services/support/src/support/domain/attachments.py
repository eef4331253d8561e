"""What an uploaded file may be, decided by its bytes (never by its name or declared type).

Images (JPEG, PNG, WebP) are decoded and re-encoded: what is stored is the decoded pixels only,
with the EXIF orientation applied and every other piece of metadata (EXIF with GPS, XMP, ICC,
comments) and every byte after the image's end (a polyglot's payload) gone. PDFs are kept as
sent, after checks that they are a PDF and nothing else: the header at the first byte, a parse,
and no markup or trailing payload around it. Everything else (SVG, HTML, executables, scripts,
archives) is refused.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from servicekit.errors import DomainError, InvalidInput, field_error

FIELD = "file"
THUMBNAIL_EDGE = 320
MAX_PIXELS = 40_000_000
"""Decompression-bomb guard: a 10 MB file may declare gigapixels; anything above this is refused."""
MAX_FILENAME_CHARS = 200

JPEG, PNG, WEBP, PDF = "image/jpeg", "image/png", "image/webp", "application/pdf"
IMAGE_FORMATS = {JPEG: "JPEG", PNG: "PNG", WEBP: "WEBP"}
EXTENSIONS = {JPEG: ".jpg", PNG: ".png", WEBP: ".webp", PDF: ".pdf"}

# What refused bytes look like, for the problem's detail (they are refused either way).
_KNOWN_REFUSED: tuple[tuple[bytes, str], ...] = (
    (b"MZ", "a Windows executable"),
    (b"\x7fELF", "an ELF executable"),
    (b"\xfe\xed\xfa\xce", "a Mach-O executable"),
    (b"\xfe\xed\xfa\xcf", "a Mach-O executable"),
    (b"\xce\xfa\xed\xfe", "a Mach-O executable"),
    (b"\xcf\xfa\xed\xfe", "a Mach-O executable"),
    (b"\xca\xfe\xba\xbe", "a Mach-O executable"),
    (b"#!", "a script"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"PK\x05\x06", "a ZIP archive"),
)
_MARKUP = re.compile(rb"<\s*(?:!doctype|html|svg|script|body|iframe|\?xml)", re.IGNORECASE)


class FileTooLarge(DomainError):
    status = 413
    slug = "file-too-large"

    def __init__(self, filename: str, max_bytes: int) -> None:
        message = f"{filename} is larger than {max_bytes} bytes."
        params = {"filename": filename, "max_bytes": max_bytes}
        super().__init__(message, errors=[field_error(FIELD, "file_too_large", message, params=params)])


def unsupported(filename: str, what: str) -> InvalidInput:
    message = f"{filename} is {what}: only JPEG, PNG and WebP images and PDF documents are accepted."
    return InvalidInput.of_field(FIELD, "unsupported_type", message, params={"filename": filename})


@dataclass(frozen=True)
class CheckedFile:
    """What is stored of an accepted upload."""

    content_type: str
    data: bytes
    width: int | None = None
    height: int | None = None
    thumbnail: bytes | None = None
    """WebP, at most THUMBNAIL_EDGE pixels on the long side; images only."""


def sniff(head: bytes) -> str | None:
    """The accepted type the first bytes announce, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"%PDF-"):
        return PDF
    return None


def describe_refused(head: bytes) -> str:
    """Words for bytes that are none of the accepted types (the detail of the 422)."""
    for magic, what in _KNOWN_REFUSED:
        if head.startswith(magic):
            return what
    if _MARKUP.search(head[:1024]):
        return "markup (HTML, SVG or XML)"
    if b"%PDF-" in head[:1024]:
        return "a PDF with something before its header"
    return "not a supported type"


def safe_filename(filename: str | None, content_type: str) -> str:
    """The name to show and download as: no path, no control characters, the checked type's
    extension (a `.png` that is a JPEG is named `.jpg`)."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"<>:|?*').strip(" .")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    stem = stem[: MAX_FILENAME_CHARS - 5] or "file"
    return stem + EXTENSIONS[content_type]


def check_file(data: bytes, filename: str, *, max_bytes: int) -> CheckedFile:
    """The stored form of an upload, or the refusal (413 too large, 422 not a supported type)."""
    if len(data) > max_bytes:
        raise FileTooLarge(filename, max_bytes)
    content_type = sniff(data[:16])
    if content_type is None:
        raise unsupported(filename, describe_refused(data[:1024]))
    if content_type == PDF:
        return CheckedFile(PDF, _checked_pdf(data, filename))
    return _reencoded(data, filename, content_type)


def _reencoded(data: bytes, filename: str, content_type: str) -> CheckedFile:
    expected = IMAGE_FORMATS[content_type]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[expected]) as source:
                width, height = source.size
                if width * height > MAX_PIXELS:
                    raise unsupported(filename, f"an image of {width}×{height} pixels (too many)")
                source.load()
                image = ImageOps.exif_transpose(source)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise unsupported(filename, "an image with too many pixels") from exc
    except InvalidInput:
        raise
    except Exception as exc:  # Pillow raises many kinds for a damaged or disguised file
        raise unsupported(filename, f"not a readable {expected} image") from exc
    if content_type == JPEG and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    elif content_type == WEBP and image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.mode or "transparency" in image.info else "RGB")
    elif content_type == PNG and image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"):
        image = image.convert("RGBA")
    kept = {"transparency": image.info["transparency"]} if "transparency" in image.info else {}
    image.info.clear()  # nothing of the source's metadata is written again (EXIF, GPS, XMP, ICC, text)
    image.info.update(kept)
    out = io.BytesIO()
    options: dict[str, dict[str, object]] = {
        "JPEG": {"quality": 90},
        "PNG": {"optimize": True},
        "WEBP": {"quality": 90},
    }
    image.save(out, format=expected, **options[expected])
    thumb = image.copy()
    thumb.thumbnail((THUMBNAIL_EDGE, THUMBNAIL_EDGE))
    if thumb.mode not in ("RGB", "RGBA"):
        thumb = thumb.convert("RGBA")
    thumb_out = io.BytesIO()
    thumb.save(thumb_out, format="WEBP", quality=80)
    return CheckedFile(content_type, out.getvalue(), image.width, image.height, thumb_out.getvalue())


def _checked_pdf(data: bytes, filename: str) -> bytes:
    tail = data[-2048:]
    end = tail.rfind(b"%%EOF")
    if end < 0:
        raise unsupported(filename, "a PDF without its end marker")
    if tail[end + 5 :].strip(b"\r\n\t \x00"):
        raise unsupported(filename, "a PDF with something appended after its end")
    if _MARKUP.search(data[:1024]) or _MARKUP.search(tail):
        raise unsupported(filename, "a PDF with markup around it")
    try:
        # Read through a buffered reader: pypdf sizes a BytesIO by its buffer, which makes the BytesIO
        # copy the whole file (10 MB more per upload, kept until the reader's cycles are collected).
        with PdfReader(io.BufferedReader(io.BytesIO(data)), strict=False) as reader:
            if reader.is_encrypted or len(reader.pages) < 1:
                raise unsupported(filename, "an encrypted or empty PDF")
    except InvalidInput:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise unsupported(filename, "not a readable PDF") from exc
    return data
