"""`UnicodePDF` renders any script: the text read back from the document (pypdf, as copy and search
would) is the text written, right-to-left runs in their logical order; a character no font has is a
visible replacement mark, never dropped; the lines after one that starts in a fallback face keep a font;
only the faces a document needs are embedded. The fonts are Debian's, found under the font folders of
the settings; a missing one is an error naming the package to install, and /readyz says so."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2
import pytest
from fastapi import FastAPI
from pypdf import PdfReader

from servicekit.health import health_router
from servicekit.pdf import FONT_FILES, SANS, FontsMissing, UnicodePDF, faces, find_faces, fonts_ready
from servicekit.settings import PlatformSettings

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


def test_an_emoji_with_and_without_the_emoji_selector_in_one_document() -> None:
    # Two sequences, one glyph: fpdf2 2.8 fails to write that in a colour bitmap font. A Japanese
    # name's ideographic variation selector is kept, never a replacement mark.
    text = "❤ ❤️ ☎ ☎️ 👍🏽 葛\U000e0100城"
    assert lines(document(lambda pdf: pdf.multi_cell(0, 6, text))) == [text]


def test_a_number_inside_right_to_left_text_stays_inside_it() -> None:
    # Drawn left to right, "شارع الملك فهد 12، الرياض" is: the city, the number, the street (the
    # bidi algorithm's order); fpdf2 alone drew the street, the number, the city.
    data = document(lambda pdf: pdf.multi_cell(0, 6, "شارع الملك فهد 12، الرياض"))
    drawn: list[str] = []
    PdfReader(io.BytesIO(data)).pages[0].extract_text(
        visitor_text=lambda text, *_: drawn.append(text.strip()) if text.strip() else None
    )
    assert drawn == ["، الرياض", "12", "شارع الملك فهد"]


# ------------------------------------------------------------------------------------- finding the fonts


def font_folder(root: Path, *, leave_out: str = "") -> Path:
    """A font folder like /usr/share/fonts (files in per-package subfolders) with the machine's font
    files linked in, all but `leave_out`."""
    for font in faces():
        if font.path.name != leave_out:
            target = root / font.path.parent.name / font.path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(font.path)
    return root


def test_the_fonts_are_found_by_file_name_in_the_subfolders_of_the_font_folders(tmp_path: Path) -> None:
    first = font_folder(tmp_path / "first", leave_out="Amiri-Regular.ttf")
    second = font_folder(tmp_path / "second")
    found = find_faces([tmp_path / "nothing-here", first, second])
    assert [face.family for face in found] == [font.family for font in FONT_FILES]
    assert {face.path.name: face.path.parents[1] for face in found}["Amiri-Regular.ttf"] == second
    assert all(face.path.parents[1] == first for face in found if face.path.name != "Amiri-Regular.ttf")


def test_a_missing_font_is_an_error_naming_the_debian_package_to_install(tmp_path: Path) -> None:
    folder = font_folder(tmp_path / "fonts", leave_out="Amiri-Regular.ttf")
    with pytest.raises(FontsMissing) as raised:
        find_faces([folder])
    message = str(raised.value)
    assert "apt-get install fonts-hosny-amiri (" in message
    assert "Amiri-Regular.ttf" in message and str(folder) in message
    assert "fonts-noto-core" not in message  # only what is missing

    with pytest.raises(FontsMissing) as raised:
        find_faces([tmp_path / "empty"])
    assert "apt-get install fonts-noto-core fonts-hosny-amiri fonts-wqy-microhei fonts-symbola (" in str(raised.value)


def test_the_font_folders_are_one_setting_separated_like_path(monkeypatch: pytest.MonkeyPatch) -> None:
    assert PlatformSettings().pdf_font_dirs == (Path("/usr/share/fonts"),)
    monkeypatch.setenv("PARTNERAPP_PDF_FONT_DIRS", "/opt/fonts:/usr/share/fonts")
    assert PlatformSettings().pdf_font_dirs == (Path("/opt/fonts"), Path("/usr/share/fonts"))


@pytest.fixture
def no_fonts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    faces.cache_clear()
    monkeypatch.setenv("PARTNERAPP_PDF_FONT_DIRS", str(tmp_path))
    yield
    faces.cache_clear()  # the machine's fonts again for the next tests


async def test_readyz_says_not_ready_naming_the_package_when_a_font_is_missing(no_fonts: None) -> None:
    app = FastAPI()
    app.include_router(health_router("instances", {"pdf_fonts": fonts_ready}))
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://instances") as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    check = response.json()["checks"]["pdf_fonts"]
    assert check["ok"] is False
    assert "FontsMissing" in check["error"] and "apt-get install fonts-noto-core" in check["error"]
    with pytest.raises(FontsMissing):
        UnicodePDF()  # a document is not made without its fonts


async def test_readyz_counts_the_fonts_when_they_are_all_there() -> None:
    assert await fonts_ready() == {"faces": len(FONT_FILES)}
