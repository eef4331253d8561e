"""The pure parts of issue #21: what a file is (by its bytes), how words are folded and found,
and how a canned reply's variables are filled."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from PIL import Image
from pypdf import PdfWriter

from servicekit.errors import InvalidInput
from support.domain import search
from support.domain.attachments import (
    JPEG,
    PDF,
    PNG,
    WEBP,
    FileTooLarge,
    check_file,
    describe_refused,
    safe_filename,
    sniff,
)
from support.domain.canned import CannedReply, fill, format_date, variables_in

pytestmark = pytest.mark.unit

MAX = 10 * 1024 * 1024


def image(kind: str, size: tuple[int, int] = (50, 20)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 200, 10)).save(out, kind)
    return out.getvalue()


@pytest.mark.parametrize(("kind", "expected"), [("JPEG", JPEG), ("PNG", PNG), ("WEBP", WEBP)])
def test_images_are_known_by_their_bytes_re_encoded_and_thumbnailed(kind: str, expected: str) -> None:
    data = image(kind, (1000, 500))
    assert sniff(data[:16]) == expected
    checked = check_file(data, "whatever.txt", max_bytes=MAX)
    assert (checked.content_type, checked.width, checked.height) == (expected, 1000, 500)
    assert checked.thumbnail is not None
    thumb = Image.open(io.BytesIO(checked.thumbnail))
    assert thumb.format == "WEBP" and thumb.size == (320, 160)


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"MZ\x90\x00" + b"\0" * 64, "Windows executable"),
        (b"\x7fELF\x02\x01\x01" + b"\0" * 64, "ELF"),
        (b"\xcf\xfa\xed\xfe" + b"\0" * 64, "Mach-O"),
        (b"#!/bin/sh\nrm -rf /\n", "script"),
        (b"PK\x03\x04" + b"\0" * 64, "ZIP"),
        (b"<?xml version='1.0'?><svg/>", "markup"),
        (b"  <svg xmlns='http://www.w3.org/2000/svg'/>", "markup"),
        (b"<!DOCTYPE html><html></html>", "markup"),
        (b"GIF89a" + b"\0" * 64, "not a supported type"),
    ],
)
def test_anything_else_is_refused_naming_file_whatever_its_name(data: bytes, what: str) -> None:
    assert sniff(data[:16]) is None
    assert what in describe_refused(data)
    with pytest.raises(InvalidInput) as refused:
        check_file(data, "photo.png", max_bytes=MAX)
    assert refused.value.errors[0]["field"] == "file"
    assert refused.value.errors[0]["code"] == "unsupported_type"


def test_one_byte_over_the_limit_is_too_large() -> None:
    data = image("PNG")
    check_file(data, "a.png", max_bytes=len(data))
    with pytest.raises(FileTooLarge) as refused:
        check_file(data, "a.png", max_bytes=len(data) - 1)
    assert refused.value.status == 413
    assert refused.value.extensions["errors"][0]["field"] == "file"


def test_an_image_that_declares_too_many_pixels_is_refused_before_decoding() -> None:
    out = io.BytesIO()
    Image.new("1", (9000, 9000)).save(out, "PNG")  # 81 MP, a few KB compressed
    with pytest.raises(InvalidInput):
        check_file(out.getvalue(), "bomb.png", max_bytes=MAX)


def test_a_jpeg_with_a_payload_appended_is_stored_without_it() -> None:
    payload = b"PK\x03\x04<script>evil()</script>"
    checked = check_file(image("JPEG") + payload, "x.jpg", max_bytes=MAX)
    assert b"evil" not in checked.data and checked.data.startswith(b"\xff\xd8\xff")


def test_a_pdf_must_start_with_its_header_and_end_with_its_marker() -> None:
    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    out = io.BytesIO()
    writer.write(out)
    document = out.getvalue()
    assert check_file(document, "a.pdf", max_bytes=MAX).content_type == PDF
    for bad in (b"<html>" + document, document + b"<html><script>x</script>", b"%PDF-1.7\nnot really"):
        with pytest.raises(InvalidInput):
            check_file(bad, "a.pdf", max_bytes=MAX)


def test_file_names_lose_their_path_and_take_the_checked_types_extension() -> None:
    assert safe_filename("C:\\fotos\\..\\IMG 1.PNG", JPEG) == "IMG 1.jpg"
    assert safe_filename("../../etc/passwd", PDF) == "passwd.pdf"
    assert safe_filename('a"<b>.exe', PNG) == "ab.png"
    assert safe_filename(None, WEBP) == "file.webp"


def test_words_are_folded_without_accents_or_case_and_plurals() -> None:
    assert search.fold("Sincronización ÑANDÚ") == "sincronizacion nandu"
    assert search.tokens("La SINCRONIZACIÓN de los Terminales") == {"la", "sincronizacion", "de", "los", "terminal"}
    assert search.query_tokens("Licencias licencia x") == ["licencia"]
    assert search.matches("Falla la sincronización", ["sincronizacion"])
    assert not search.matches("Falla la sincronización", ["sincronizacion", "marta"])
    assert "sincr" in search.prefixes("Sincronización")


def test_a_snippet_highlights_the_matched_words_inside_it() -> None:
    text = "x " * 300 + "La Sincronización falla " + "y " * 300
    shown, highlights = search.snippet(text, ["sincronizacion"])
    assert len(shown) <= search.SNIPPET_CHARS
    [(start, end)] = highlights
    assert shown[start:end] == "Sincronización"
    short, marks = search.snippet("Terminales sin terminal", ["terminal"])
    assert [short[a:b] for a, b in marks] == ["Terminales", "terminal"]


def reply(es: str, en: str) -> CannedReply:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return CannedReply("cnr-1", {"es": "T {{company.name}}", "en": "T"}, {"es": es, "en": en}, at, at, "usr-sam")


def test_variables_are_filled_in_the_replys_language_and_gaps_are_listed() -> None:
    canned = reply(
        "Hola {{ license.user }}, caduca el {{instance.expiry_date}} {{partner.contact}} {{nope}}",
        "Hi {{license.user}}, expires {{instance.expiry_date}}",
    )
    assert canned.variables == ["license.user", "instance.expiry_date", "partner.contact", "nope"]
    values = {"license.user": "{{company.name}}", "instance.expiry_date": date(2027, 3, 1), "company.name": "Acme"}
    spanish = fill(canned, values, "es")
    assert spanish.text == "Hola {{company.name}}, caduca el 1 de marzo de 2027 {{partner.contact}} {{nope}}"
    assert spanish.title == "T Acme"
    assert (spanish.unknown_variables, spanish.missing_values) == (["nope"], ["partner.contact"])
    english = fill(canned, values, "en")
    assert english.text == "Hi {{company.name}}, expires March 1, 2027", "a value is never read as a template"
    assert fill(canned, values, "fr").language == "es"


def test_dates_are_written_per_language() -> None:
    assert format_date(date(2026, 12, 31), "es") == "31 de diciembre de 2026"
    assert format_date(date(2026, 12, 31), "en") == "December 31, 2026"
    assert variables_in("{{a.b}} {{ a.b }} {{c}}") == ["a.b", "c"]
