"""PDF documents (fpdf2) that render any text a partner types: names in Arabic, Hebrew, Greek, Polish,
Cyrillic, Chinese, Japanese, Korean, Indic scripts, emoji.

fpdf2's core fonts only know Latin-1, so everything else used to come out as `?`. `UnicodePDF` embeds
fonts from Debian's font packages (tools/pdf-font-packages.txt; tools/bootstrap.sh and the images of
instances and gateway install them): Noto Sans for Latin, Greek and Cyrillic, Amiri for Arabic, Noto
Sans for Hebrew and the Indic and South-East Asian scripts, WenQuanYi Micro Hei for CJK, Noto Sans
Symbols, Symbola for emoji (Unicode 9; later ones become the replacement mark), Noto Sans Symbols 2.
They are found by file name under the folders of `PlatformSettings.pdf_font_dirs`
(`PARTNERAPP_PDF_FONT_DIRS`, default /usr/share/fonts), once per process; a missing one is an error
that names the Debian package to install (`FontsMissing`, also reported by `/readyz` through
`fonts_ready`). Text is shaped (HarfBuzz) and laid out with the Unicode bidirectional algorithm, in a
left-to-right paragraph like the rest of the document. A character no font has becomes U+FFFD, drawn
as the visible replacement mark (fpdf2 would leave it out without a trace).

Only the fonts a document's text needs are loaded: a Latin-only document reads Noto Sans alone.

Licences allow embedding (subsets, as fpdf2 writes them) in documents of any licence: Noto Sans and its
script faces and Amiri are under the SIL Open Font License 1.1; WenQuanYi Micro Hei under Apache-2.0
(or GPLv3 with the font embedding exception); Symbola is free for any use (its author's terms).
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Sequence
from typing import Any

from fontTools.ttLib import TTFont  # type: ignore[import-untyped]
from fpdf import FPDF
from fpdf.enums import TextDirection, TextEmphasis, TextMode
from fpdf.line_break import Fragment, TextLine
from fpdf.unicode_script import UnicodeScript, get_unicode_script

# Re-exported: the documents' API is this module (the readiness check alone is in pdf_fonts).
from servicekit.pdf_fonts import FONT_FILES, SANS, Face, FontFile, FontsMissing, faces, find_faces, fonts_ready

__all__ = [
    "FONT_FILES",
    "SANS",
    "Face",
    "FontFile",
    "FontsMissing",
    "UnicodePDF",
    "coverage",
    "faces",
    "find_faces",
    "fonts_ready",
]

_NEUTRAL = (UnicodeScript.COMMON, UnicodeScript.INHERITED, UnicodeScript.UNKNOWN)
_INVISIBLE = ("Cc", "Cf", "Zl", "Zp")  # controls, joiners, direction marks: shaping uses them, nothing to draw
_REPLACEMENT = "\ufffd"
_STRONG = ("L", "R", "AL")
_ZWJ = 0x200D


@functools.cache
def _cmap(face: Face) -> frozenset[int]:
    font = TTFont(face.path, fontNumber=face.number, lazy=True)
    try:
        return frozenset(font.getBestCmap())
    finally:
        font.close()


@functools.cache
def coverage(face: Face) -> frozenset[int]:
    """What `face` draws in a document: a fallback keeps only its own script's characters and the
    neutral ones (spaces, digits, punctuation), so Latin text in an Arabic name stays in Noto Sans
    while the spaces between Arabic words stay Arabic."""
    own = _cmap(face)
    if face.family == SANS:
        # The zero-width joiner is left to the face of the characters it joins, so an emoji
        # sequence (👨‍👩‍👧) is shaped in one face (Symbola draws its parts side by side).
        return own - {_ZWJ}
    main = _cmap(faces()[0])
    return frozenset(cp for cp in own if cp not in main or get_unicode_script(chr(cp)) in _NEUTRAL)


def _face_for(char: str) -> Face | None:
    cp = ord(char)
    return next((face for face in faces() if cp in coverage(face)), None)


class UnicodePDF(FPDF):
    """An `FPDF` whose `cell` and `multi_cell` (tables included) render any Unicode text (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._added: list[str] = []
        self._add(faces()[0])
        # Never drawn (bold is stroked, see `set_font`), but fpdf2's tables ask for a bold face.
        self.add_font(SANS, "B", faces()[0].path)
        # Left-to-right paragraphs like the rest of the document; right-to-left runs inside them in order.
        self.set_text_shaping(use_shaping_engine=True, direction="ltr")
        self.set_font(SANS, size=10)

    # -------------------------------------------------------------------------------- fonts

    def _add(self, face: Face) -> None:
        if face.family in self._added:
            return
        unicode_range = sorted(coverage(face))
        self.add_font(face.family, "", face.path, unicode_range=unicode_range, collection_font_number=face.number)
        self._added.append(face.family)
        self.set_fallback_fonts(self._added[1:], exact_match=False)

    def _prepare(self, text: str) -> str:
        """Loads the fonts `text` needs; a character no font has becomes U+FFFD, drawn as a visible
        replacement mark (fpdf2 would drop it without a trace)."""
        out: list[str] = []
        for char in text:
            face = None if char.isspace() else _face_for(char)
            if face is not None:
                self._add(face)
            missing = face is None and not char.isspace() and not _invisible(char)
            out.append(_REPLACEMENT if missing else char)
        return "".join(out)

    def get_fallback_font(self, char: str, style: str = "") -> str | None:
        # The zero-width joiner goes with the emoji it joins, so the sequence is shaped in one face.
        if ord(char) == _ZWJ and "emoji" in self._added:
            return "emoji"
        return super().get_fallback_font(char, style)

    def set_font(self, family: str | None = None, style: str | TextEmphasis = "", size: float = 0) -> None:
        # Bold is drawn by stroking the outlines as well as filling them: one face per script (a bold
        # instance of a variable font takes seconds to build), and bold looks alike in every script.
        # There is no italic face: italic text is set upright.
        style = style.style if isinstance(style, TextEmphasis) else style.upper()
        super().set_font(family, style.replace("B", "").replace("I", ""), size)
        self.text_mode = TextMode.FILL_STROKE if "B" in style else TextMode.FILL

    # ------------------------------------------------------------------------------ text

    def cell(self, *args: Any, **kwargs: Any) -> Any:
        return super().cell(*self._prepared(args, kwargs), **kwargs)

    def multi_cell(self, *args: Any, **kwargs: Any) -> Any:
        return super().multi_cell(*self._prepared(args, kwargs), **kwargs)

    def _prepared(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
        # `text` is the third parameter of cell and multi_cell, given by position or by name.
        if "text" in kwargs:
            kwargs["text"] = self._prepare(str(kwargs["text"]))
        elif len(args) > 2:
            args = (*args[:2], self._prepare(str(args[2])), *args[3:])
        return args

    def _preload_font_styles(
        self, text: str | None, markdown: bool, _initial_emphasis: tuple[bool, bool, bool, bool] | None = None
    ) -> Sequence[Fragment]:
        # A right-to-left run is set in its script's face, spaces and punctuation included: with the
        # main face's spaces between its words it reads back (copy, search) with the words reversed.
        shaping = self.text_shaping or {}
        rtl = bool(text) and shaping.get("fragment_direction") == TextDirection.RTL
        family = _first_letter_family(text) if text and rtl else None
        if family is None or family == self.font_family:
            return _stroke_width(super()._preload_font_styles(text, markdown, _initial_emphasis))
        previous, bold, size = self.font_family, self.text_mode == TextMode.FILL_STROKE, self.font_size_pt
        self.set_font(family, "B" if bold else "", size)
        try:
            return _stroke_width(super()._preload_font_styles(text, markdown, _initial_emphasis))
        finally:
            self.set_font(previous, "B" if bold else "", size)

    def _render_styled_text_line(self, *args: Any, **kwargs: Any) -> bool:
        # Each line in its own graphics state, so the stroke width of bold text does not reach the
        # rules and borders drawn after it. The page's font is selected again inside: fpdf2 2.8 also
        # selects it inside the q ... Q of a line that starts in a fallback face, and the lines after
        # such a line would have no font (viewers drop or garble them).
        self._out("q")
        if self.current_font is not None:
            self._out(self._set_font_for_page(self.current_font, self.font_size_pt))
        if args and isinstance(args[0], TextLine):
            args = (args[0]._replace(fragments=_numbers_inside_rtl(args[0].fragments)), *args[1:])
        result: bool = super()._render_styled_text_line(*args, **kwargs)
        self._out("Q")
        self.current_font_is_set_on_page = False
        return result


def _numbers_inside_rtl(fragments: Sequence[Fragment]) -> list[Fragment]:
    """Puts numbers written inside right-to-left text (`شارع الملك فهد 12، الرياض`) where the bidi
    algorithm places them. fpdf2 reverses runs of right-to-left fragments one level deep: the number
    between two Arabic runs, left-to-right at a deeper level, would split them and the line would read
    in the wrong order. A span of right-to-left fragments and the neutral left-to-right ones between
    them (digits, punctuation) is shown reversed; fed in so that fpdf2's own reversal gives that order."""
    items = list(fragments)
    out: list[Fragment] = []
    i = 0
    while i < len(items):
        if not _is_rtl(items[i]):
            out.append(items[i])
            i += 1
            continue
        end = i + 1  # the span: RTL fragments, and neutral LTR ones with RTL fragments after them
        j = i + 1
        while j < len(items) and (_is_rtl(items[j]) or _is_weak(items[j])):
            if _is_rtl(items[j]):
                end = j + 1
            j += 1
        span = items[i:end][::-1]  # the order they are seen in
        runs: list[list[Fragment]] = []
        for fragment in span:
            if runs and _is_rtl(runs[-1][0]) == _is_rtl(fragment):
                runs[-1].append(fragment)
            else:
                runs.append([fragment])
        for run in runs:
            out.extend(run[::-1] if _is_rtl(run[0]) else run)
        i = end
    return out


def _invisible(char: str) -> bool:
    cp = ord(char)
    variation_selector = 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF  # they choose a glyph, draw none
    return variation_selector or unicodedata.category(char) in _INVISIBLE


def _is_rtl(fragment: Fragment) -> bool:
    return fragment.fragment_direction == TextDirection.RTL


def _is_weak(fragment: Fragment) -> bool:
    return all(unicodedata.bidirectional(char) not in _STRONG for char in fragment.string)


def _stroke_width(fragments: Sequence[Fragment]) -> Sequence[Fragment]:
    # fpdf2 writes a fragment's line width as points: a stroke of 1/30 of the size reads as bold.
    for fragment in fragments:
        if fragment.graphics_state.text_mode == TextMode.FILL_STROKE:
            fragment.graphics_state.line_width = fragment.graphics_state.font_size_pt / 30
    return fragments


def _first_letter_family(text: str) -> str | None:
    for char in text:
        if get_unicode_script(char) not in _NEUTRAL:
            face = _face_for(char)
            return face.family if face is not None else None
    return None
