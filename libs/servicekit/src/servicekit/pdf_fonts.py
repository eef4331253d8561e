"""The PDF fonts' files: which faces the documents need, where they are, and the readiness check.

Apart from `servicekit.pdf` so that a service's `/readyz` can check its fonts without importing
fpdf2, fontTools and HarfBuzz (some 30 MB of a process): they are loaded with the first document.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servicekit.settings import PlatformSettings

SANS = "sans"
"""The family of the document's text (`pdf.set_font(SANS, "B", 12)`)."""

_NOTO = "fonts-noto-core"
_NOTO_SCRIPTS = (
    "Armenian",
    "Bengali",
    "Devanagari",
    "Ethiopic",
    "Georgian",
    "Gujarati",
    "Gurmukhi",
    "Kannada",
    "Khmer",
    "Lao",
    "Malayalam",
    "Myanmar",
    "Oriya",
    "Sinhala",
    "Tamil",
    "Telugu",
    "Thai",
)


@dataclass(frozen=True)
class FontFile:
    """A face the documents need: its family in the document, its file's name, the Debian package."""

    family: str
    file: str
    package: str
    number: int = 0  # the face inside a font collection (.ttc)


FONT_FILES: tuple[FontFile, ...] = (
    FontFile(SANS, "NotoSans-Regular.ttf", _NOTO),
    # Amiri draws each Arabic letter as one glyph (Noto Sans Arabic splits off the dots), so the
    # text copied or extracted from the PDF is the text that was written.
    FontFile("arabic", "Amiri-Regular.ttf", "fonts-hosny-amiri"),
    FontFile("hebrew", "NotoSansHebrew-Regular.ttf", _NOTO),
    *(FontFile(script.lower(), f"NotoSans{script}-Regular.ttf", _NOTO) for script in _NOTO_SCRIPTS),
    FontFile("cjk", "wqy-microhei.ttc", "fonts-wqy-microhei"),
    FontFile("symbols", "NotoSansSymbols-Regular.ttf", _NOTO),
    # Outlines in black like the text. Not Noto Color Emoji: fpdf2 2.8 embeds its colour bitmaps, but
    # fails to write a document that has an emoji both with and without the emoji selector (❤ ❤️).
    FontFile("emoji", "Symbola_hint.ttf", "fonts-symbola"),
    FontFile("symbols2", "NotoSansSymbols2-Regular.ttf", _NOTO),  # after the emoji: only what they lack
)
"""The main face first, then the fallbacks in the order they are tried."""


@dataclass(frozen=True)
class Face:
    family: str
    path: Path
    number: int = 0  # the face inside a font collection (.ttc)


class FontsMissing(RuntimeError):
    """Font files the documents need are not under the font folders."""


def find_faces(dirs: Iterable[Path]) -> tuple[Face, ...]:
    """The faces of `FONT_FILES` under `dirs` (searched in order, with their subfolders); raises
    `FontsMissing`, naming the Debian packages to install, when any is not there."""
    folders = tuple(dirs)
    wanted = {font.file for font in FONT_FILES}
    found: dict[str, Path] = {}
    for folder in folders:
        for parent, subdirs, files in os.walk(folder):
            subdirs.sort()  # the same file each time when two subfolders hold one of that name
            for name in sorted(wanted.intersection(files) - found.keys()):
                found[name] = Path(parent, name)
    missing = [font for font in FONT_FILES if font.file not in found]
    if missing:
        packages = " ".join(dict.fromkeys(font.package for font in missing))
        names = ", ".join(font.file for font in missing)
        where = os.pathsep.join(str(folder) for folder in folders)
        raise FontsMissing(
            f"PDF fonts missing, install the Debian packages: apt-get install {packages} "
            f"(not found under {where}, PARTNERAPP_PDF_FONT_DIRS: {names})"
        )
    return tuple(Face(font.family, found[font.file], font.number) for font in FONT_FILES)


@functools.cache
def faces() -> tuple[Face, ...]:
    """The main face first, then the fallbacks in the order they are tried; looked up once per process
    (a failed look-up is not kept, so fonts installed later are found)."""
    return find_faces(PlatformSettings().pdf_font_dirs)


async def fonts_ready() -> Mapping[str, Any]:
    """A readiness check (`ServiceRuntime.readiness`): every PDF font is there."""
    return {"faces": len(faces())}
