"""`UnicodePDF` renders any script: the text read back from the document (pypdf, as copy and search
would) is the text written, right-to-left runs in their logical order; a character no font has is a
visible replacement mark, never dropped; the lines after one that starts in a fallback face keep a font;
only the faces a document needs are embedded."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from pypdf import PdfReader

from servicekit.pdf import SANS, UnicodePDF

pytestmark = pytest.mark.unit

SCRIPTS = {
    "the issue's name": "شركة النقل 🚚 Łódź Ελληνικά עברית",
    "Arabic": "شركة النقل السريع",
    "Hebrew": "עברית",
    "Greek": "Ελληνική Εταιρεία",
    "Polish": "Zażółć gęślą jaźń",
    "CJK": "东京物流株式会社 한국운송",
    "emoji": "🚚📦✅ 👨‍👩‍👧 ❤️",
    "Cyrillic": "Транспортная компания",
}


def document(write: Callable[[UnicodePDF], None]) -> bytes:
    pdf = UnicodePDF(format="A4")
    pdf.add_page()
    write(pdf)
    return bytes(pdf.output())


def lines(data: bytes) -> list[str]:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).splitlines()


def base_fonts(data: bytes) -> set[str]:
    fonts = PdfReader(io.BytesIO(data)).pages[0]["/Resources"]["/Font"]
    return {str(font.get_object()["/BaseFont"]).split("+", 1)[1] for font in fonts.values()}


@pytest.mark.parametrize("text", SCRIPTS.values(), ids=SCRIPTS.keys())
def test_text_in_any_script_reads_back_as_written(text: str) -> None:
    def write(pdf: UnicodePDF) -> None:
        pdf.set_font(SANS, "B", 14)
        pdf.cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(SANS, size=10)
        pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
        pdf.multi_cell(0, 6, f"Customer: {text}", new_x="LMARGIN", new_y="NEXT")
        with pdf.table(col_widths=(40, 120)) as table:
            table.row(["Name", "Value"])
            table.row(["Name", text])

    got = lines(document(write))
    assert got[:3] == [text, text, f"Customer: {text}"]
    assert f"Name {text}" in got
    assert not any("?" in line for line in got)


def test_the_lines_after_one_that_starts_in_a_fallback_face_keep_their_font() -> None:
    # fpdf2 set the page font inside the q/Q of such a line: the next line had no font at all.
    def write(pdf: UnicodePDF) -> None:
        pdf.multi_cell(0, 6, "中文 first", new_x="LMARGIN", new_y="NEXT")
        pdf.multi_cell(0, 6, "Latin after it", new_x="LMARGIN", new_y="NEXT")

    assert lines(document(write)) == ["中文 first", "Latin after it"]


def test_a_character_no_font_has_is_a_visible_replacement_mark() -> None:
    def write(pdf: UnicodePDF) -> None:
        pdf.multi_cell(0, 6, "Hieroglyph \U00013000 here", new_x="LMARGIN", new_y="NEXT")

    assert lines(document(write)) == ["Hieroglyph \ufffd here"]


def test_a_latin_document_embeds_noto_sans_alone_and_others_only_the_faces_they_use() -> None:
    latin = document(lambda pdf: pdf.multi_cell(0, 6, "Transportes López S.L."))
    assert base_fonts(latin) == {"NotoSans"}
    mixed = document(lambda pdf: pdf.multi_cell(0, 6, "شركة 中文"))
    assert {"Amiri", "WenQuanYiMicroHei"} <= base_fonts(mixed) <= {"NotoSans", "Amiri", "WenQuanYiMicroHei"}


def test_a_number_inside_right_to_left_text_stays_inside_it() -> None:
    # Drawn left to right, "شارع الملك فهد 12، الرياض" is: the city, the number, the street (the
    # bidi algorithm's order); fpdf2 alone drew the street, the number, the city.
    data = document(lambda pdf: pdf.multi_cell(0, 6, "شارع الملك فهد 12، الرياض"))
    drawn: list[str] = []
    PdfReader(io.BytesIO(data)).pages[0].extract_text(
        visitor_text=lambda text, *_: drawn.append(text.strip()) if text.strip() else None
    )
    assert drawn == ["، الرياض", "12", "شارع الملك فهد"]
