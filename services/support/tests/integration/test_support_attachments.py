"""Issue #21 against the real Kafka and FerretDB: attachments (checked by their bytes, images
re-encoded without metadata, thumbnails, scoped downloads), read state seen by the other side,
search across every message the caller may see, and canned replies filled from a thread."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx2
import pytest
from PIL import Image
from pymongo import AsyncMongoClient, MongoClient
from pypdf import PdfWriter

from contracts import EventEnvelope, decode_envelope, envelope_for
from contracts.events.common import Actor, InstanceType
from contracts.events.companies import CompanyCreated
from contracts.events.instances import InstanceProvisioned
from contracts.events.licenses import LicenseAdded
from contracts.events.partners import PartnerUpdated
from servicekit.settings import PlatformSettings
from servicekit.testing import KafkaProbe, eventually, started
from support.adapters.canned import MongoCannedReplyRepository
from support.bootstrap import build_app
from support.config import Settings
from support.domain.canned import CannedReply

pytestmark = pytest.mark.integration

MAX_BYTES = 10 * 1024 * 1024
GPS_IFD = 0x8825
ORIENTATION = 0x0112
WHO = Actor(user_id="usr-ana", role="partner")


async def company_thread(kafka: KafkaProbe, client: httpx2.AsyncClient, partner: str) -> tuple[str, str]:
    """Publish a company.created event and wait for its thread; returns (company id, thread id)."""
    company_id = f"cmp-{uuid.uuid4().hex[:10]}"
    event = envelope_for(
        CompanyCreated(
            company_id=company_id,
            partner_id=partner,
            name=f"Talleres {company_id[-4:]} S.L.",
            tax_id="B12345678",
            created_by=WHO,
        ),
        source="instances",
    )
    await kafka.send("company.created", event.to_json_bytes(), key=company_id.encode())

    async def thread() -> dict[str, Any] | None:
        response = await client.get(f"/v1/threads/thr-{company_id}")
        return response.json() if response.status_code == 200 else None

    body = await eventually(thread)
    return company_id, str(body["id"])


async def posted(kafka: KafkaProbe, thread_id: str, count: int) -> list[EventEnvelope[Any]]:
    def enough(records: list[Any]) -> bool:
        return sum(r.key == thread_id.encode() for r in records) >= count

    records = await kafka.read_all("message.posted", until=enough)
    return [decode_envelope(r.value) for r in records if r.key == thread_id.encode()]


@pytest.fixture
async def client_for(
    platform: PlatformSettings, database_name: str, token_for: Callable[..., str]
) -> AsyncIterator[Callable[..., httpx2.AsyncClient]]:
    settings = Settings(
        mongo_database=database_name,
        consumer_group=f"support-{uuid.uuid4().hex[:8]}",
        outbox_scan_seconds=0.2,
        platform=platform,
    )
    app = build_app(settings)
    clients: list[httpx2.AsyncClient] = []

    def make(
        partner: str,
        *,
        role: str = "partner",
        user: str = "usr-ana",
        partners: tuple[str, ...] = (),
        name: str = "",
        language: str | None = None,
    ) -> httpx2.AsyncClient:
        token = token_for(partner, role=role, user_id=user, partners=partners, name=name, language=language)
        client = httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app),
            base_url="http://support",
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        clients.append(client)
        return client

    async with started(app):
        yield make
        for client in clients:
            await client.aclose()


@pytest.fixture
def stored(platform: PlatformSettings, database_name: str) -> Callable[[str], int]:
    def count(collection: str) -> int:
        with MongoClient(platform.mongo_url.get_secret_value()) as mongo:
            return int(mongo[database_name][collection].count_documents({}))

    return count


def jpeg_with_gps() -> bytes:
    """An 800×600 photo whose EXIF says where it was taken and that it is rotated (6: 90° CW)."""
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[GPS_IFD] = {1: "N", 2: (40.0, 25.0, 0.0), 3: "W", 4: (3.0, 42.0, 0.0)}
    out = io.BytesIO()
    Image.new("RGB", (800, 600), (200, 30, 30)).save(out, "JPEG", exif=exif)
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(GPS_IFD), "the test photo carries GPS"
    return data


def png(width: int = 40, height: int = 30) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (width, height), (0, 120, 200, 255)).save(out, "PNG")
    return out.getvalue()


def pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def upload(client: httpx2.AsyncClient, thread_id: str, name: str, data: bytes, kind: str) -> httpx2.Response:
    return await client.post(f"/v1/threads/{thread_id}/attachments", files={"file": (name, data, kind)})


SLUGS = {"file_too_large": "file-too-large", "unsupported_type": "validation"}


def names_file(response: httpx2.Response, status: int, code: str) -> None:
    """A problem+json naming `file`, worded for the reader (Spanish by default) from its code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"].endswith(":" + SLUGS[code])
    [error] = problem["errors"]
    assert error["field"] == "file"
    expected = "supera el tamaño máximo" if code == "file_too_large" else "no es una imagen JPEG, PNG o WebP"
    assert expected in error["message"]


async def test_a_photo_is_uploaded_re_encoded_without_gps_sent_listed_downloaded_and_thumbnailed(
    client_for: Callable[..., httpx2.AsyncClient], kafka: KafkaProbe
) -> None:
    partner = client_for("ptn-acme")
    staff = client_for("ptn-acme", role="staff", user="usr-sam", partners=("ptn-acme",))
    other = client_for("ptn-beta", user="usr-bob")
    _, thread_id = await company_thread(kafka, partner, "ptn-acme")

    sent = await upload(partner, thread_id, "../../IMG_0001.JPG", jpeg_with_gps(), "image/jpeg")
    assert sent.status_code == 201, sent.text
    attachment = sent.json()
    assert attachment["filename"] == "IMG_0001.jpg", "no path, the checked type's extension"
    assert attachment["content_type"] == "image/jpeg"
    assert (attachment["width"], attachment["height"]) == (600, 800), "orientation applied"
    assert attachment["has_thumbnail"] is True

    # Not sent yet: the other side does not see it; another partner never does.
    assert (await staff.get(f"/v1/threads/{thread_id}/attachments/{attachment['id']}")).status_code == 404
    posted_message = await partner.post(
        f"/v1/threads/{thread_id}/messages", json={"body": "La foto del error", "attachment_ids": [attachment["id"]]}
    )
    assert posted_message.status_code == 201, posted_message.text
    assert [a["id"] for a in posted_message.json()["attachments"]] == [attachment["id"]]
    again = await partner.post(
        f"/v1/threads/{thread_id}/messages", json={"body": "otra vez", "attachment_ids": [attachment["id"]]}
    )
    assert again.status_code == 422 and again.json()["errors"][0]["field"] == "attachment_ids"

    listed = (await staff.get(f"/v1/threads/{thread_id}/messages")).json()["items"]
    assert listed[0]["attachments"] == [attachment]

    download = await staff.get(f"/v1/threads/{thread_id}/attachments/{attachment['id']}")
    assert download.status_code == 200
    assert download.headers["content-type"] == "image/jpeg"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert download.headers["content-disposition"].endswith("filename*=UTF-8''IMG_0001.jpg")
    assert len(download.content) == attachment["size"]
    photo = Image.open(io.BytesIO(download.content))
    assert photo.size == (600, 800)
    assert not photo.getexif(), "no EXIF at all (GPS, orientation) after the re-encoding"
    assert "exif" not in photo.info

    thumbnail = await staff.get(f"/v1/threads/{thread_id}/attachments/{attachment['id']}/thumbnail")
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/webp"
    assert max(Image.open(io.BytesIO(thumbnail.content)).size) <= 320

    for path in ("", "/thumbnail"):
        assert (await other.get(f"/v1/threads/{thread_id}/attachments/{attachment['id']}{path}")).status_code == 404

    [event] = [e for e in await posted(kafka, thread_id, 1) if e.data.message_id == posted_message.json()["id"]]
    assert [a.model_dump() for a in event.data.attachments] == [
        {"id": attachment["id"], "filename": "IMG_0001.jpg", "content_type": "image/jpeg", "size": attachment["size"]}
    ], "the event names the attachment, not its bytes"


async def test_bad_files_are_refused_naming_file_and_nothing_is_stored(
    client_for: Callable[..., httpx2.AsyncClient], kafka: KafkaProbe, stored: Callable[[str], int]
) -> None:
    partner = client_for("ptn-acme")
    _, thread_id = await company_thread(kafka, partner, "ptn-acme")
    before = (stored("attachments"), stored("attachment_files.files"), stored("attachment_files.chunks"))

    too_large = await upload(
        partner, thread_id, "big.pdf", b"%PDF-1.4\n" + b"0" * (MAX_BYTES + 1 - 9), "application/pdf"
    )
    names_file(too_large, 413, "file_too_large")
    assert "big.pdf" in too_large.json()["errors"][0]["message"]

    executable = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200 + b"This program cannot be run in DOS mode"
    names_file(await upload(partner, thread_id, "cat.png", executable, "image/png"), 422, "unsupported_type")
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    names_file(await upload(partner, thread_id, "logo.svg", svg, "image/svg+xml"), 422, "unsupported_type")
    names_file(await upload(partner, thread_id, "a.png", b"<!doctype html><p>hi", "image/png"), 422, "unsupported_type")
    names_file(
        await upload(partner, thread_id, "a.zip", b"PK\x03\x04" + b"\0" * 60, "image/png"), 422, "unsupported_type"
    )
    html_then_pdf = b"<html><script>alert(1)</script></html>\n" + pdf()
    names_file(await upload(partner, thread_id, "doc.pdf", html_then_pdf, "application/pdf"), 422, "unsupported_type")
    pdf_then_html = pdf() + b"\n<html><script>alert(1)</script></html>"
    names_file(await upload(partner, thread_id, "doc.pdf", pdf_then_html, "application/pdf"), 422, "unsupported_type")
    names_file(
        await upload(partner, thread_id, "broken.jpg", b"\xff\xd8\xff\xe0garbage", "image/jpeg"),
        422,
        "unsupported_type",
    )

    after = (stored("attachments"), stored("attachment_files.files"), stored("attachment_files.chunks"))
    assert after == before, "a refused file leaves nothing behind"


async def test_a_polyglot_image_is_stored_without_its_payload_and_a_pdf_is_kept_as_a_download(
    client_for: Callable[..., httpx2.AsyncClient], kafka: KafkaProbe
) -> None:
    partner = client_for("ptn-acme")
    _, thread_id = await company_thread(kafka, partner, "ptn-acme")
    payload = b"PK\x03\x04<html><script>alert('polyglot')</script></html>%PDF-1.4"
    sent = await upload(partner, thread_id, "photo.png", png() + payload, "image/png")
    assert sent.status_code == 201, sent.text
    body = (await partner.get(f"/v1/threads/{thread_id}/attachments/{sent.json()['id']}")).content
    assert body.startswith(b"\x89PNG") and b"polyglot" not in body and b"PK\x03\x04" not in body
    assert Image.open(io.BytesIO(body)).size == (40, 30)

    document = pdf()
    kept = await upload(partner, thread_id, "factura.pdf", document, "application/octet-stream")
    assert kept.status_code == 201, kept.text
    assert kept.json()["content_type"] == "application/pdf" and kept.json()["has_thumbnail"] is False
    download = await partner.get(f"/v1/threads/{thread_id}/attachments/{kept.json()['id']}")
    assert download.content == document
    assert download.headers["content-disposition"].startswith("attachment;"), "PDFs are never shown inline"
    assert (await partner.get(f"/v1/threads/{thread_id}/attachments/{kept.json()['id']}/thumbnail")).status_code == 404


async def test_each_side_sees_when_the_other_read_its_messages(
    client_for: Callable[..., httpx2.AsyncClient], kafka: KafkaProbe
) -> None:
    partner = client_for("ptn-acme")
    staff = client_for("ptn-acme", role="staff", user="usr-sam", partners=("ptn-acme",))
    _, thread_id = await company_thread(kafka, partner, "ptn-acme")
    mine = (await partner.post(f"/v1/threads/{thread_id}/messages", json={"body": "¿Hola?"})).json()
    assert mine["read_by_other_side_at"] is None

    def first(items: list[dict[str, Any]], message_id: str) -> dict[str, Any]:
        return next(m for m in items if m["id"] == message_id)

    listed = (await partner.get(f"/v1/threads/{thread_id}/messages")).json()["items"]
    assert first(listed, mine["id"])["read_by_other_side_at"] is None, "support has not read it"
    read = (await staff.post(f"/v1/threads/{thread_id}/read")).json()
    assert read["support_last_read_at"] is not None
    listed = (await partner.get(f"/v1/threads/{thread_id}/messages")).json()["items"]
    assert first(listed, mine["id"])["read_by_other_side_at"] == read["support_last_read_at"]

    answer = (await staff.post(f"/v1/threads/{thread_id}/messages", json={"body": "Hola, dime"})).json()
    as_staff = (await staff.get(f"/v1/threads/{thread_id}/messages")).json()["items"]
    assert first(as_staff, answer["id"])["read_by_other_side_at"] is None, "the partner has not read it"
    partner_read = (await partner.post(f"/v1/threads/{thread_id}/read")).json()
    as_staff = (await staff.get(f"/v1/threads/{thread_id}/messages")).json()["items"]
    assert first(as_staff, answer["id"])["read_by_other_side_at"] == partner_read["partner_last_read_at"]
    thread = (await staff.get(f"/v1/threads/{thread_id}")).json()
    assert thread["partner_last_read_at"] == partner_read["partner_last_read_at"]


async def test_search_finds_words_without_accents_across_threads_only_within_the_callers_partners(
    client_for: Callable[..., httpx2.AsyncClient], kafka: KafkaProbe
) -> None:
    acme = client_for("ptn-acme")
    beta = client_for("ptn-beta", user="usr-bob")
    staff = client_for("ptn-acme", role="staff", user="usr-sam", partners=("ptn-acme", "ptn-beta"))
    word = f"Sincronización{uuid.uuid4().hex[:6]}"  # unique to this test's messages
    company_one, one = await company_thread(kafka, acme, "ptn-acme")
    _, two = await company_thread(kafka, acme, "ptn-acme")
    _, theirs = await company_thread(kafka, beta, "ptn-beta")
    first = await acme.post(f"/v1/threads/{one}/messages", json={"body": f"Falla la {word} del terminal de Marta"})
    second = await acme.post(f"/v1/threads/{two}/messages", json={"body": f"Otra {word.upper()} lenta en TERMINALES"})
    other = await beta.post(f"/v1/threads/{theirs}/messages", json={"body": f"La {word} de beta"})
    await acme.post(f"/v1/threads/{one}/messages", json={"body": "Nada que ver"})
    asked = word.replace("ó", "o").lower()

    found = (await acme.get("/v1/support/search", params={"q": asked})).json()
    assert [h["message_id"] for h in found["items"]] == [second.json()["id"], first.json()["id"]], "newest first"
    hit = found["items"][1]
    start, end = hit["highlights"][0]
    assert hit["snippet"][start:end] == word
    assert hit["thread_id"] == one and hit["company_name"].startswith("Talleres")

    both = (await acme.get("/v1/support/search", params={"q": f"{asked} terminal"})).json()["items"]
    assert {h["message_id"] for h in both} == {first.json()["id"], second.json()["id"]}, "all words, plurals folded"
    assert (await beta.get("/v1/support/search", params={"q": asked})).json()["items"][0]["message_id"] == other.json()[
        "id"
    ]
    assert len((await beta.get("/v1/support/search", params={"q": asked})).json()["items"]) == 1, "only theirs"
    everyone = (await staff.get("/v1/support/search", params={"q": asked})).json()["items"]
    assert len(everyone) == 3
    only_company = await acme.get("/v1/support/search", params={"q": asked, "company_id": company_one})
    assert [h["message_id"] for h in only_company.json()["items"]] == [first.json()["id"]]
    paged = (await staff.get("/v1/support/search", params={"q": asked, "limit": 2})).json()
    rest = (await staff.get("/v1/support/search", params={"q": asked, "cursor": paged["next_cursor"]})).json()
    assert len(paged["items"]) == 2 and len(rest["items"]) == 1 and rest["next_cursor"] is None
    too_short = await acme.get("/v1/support/search", params={"q": "a"})
    assert too_short.status_code == 422 and too_short.json()["errors"][0]["field"] == "q"
    not_theirs = await beta.get("/v1/support/search", params={"q": asked, "partner_id": "ptn-acme"})
    assert not_theirs.status_code == 403


async def test_a_canned_reply_is_filled_with_the_threads_values_in_the_readers_language(
    client_for: Callable[..., httpx2.AsyncClient], kafka: KafkaProbe
) -> None:
    partner = client_for("ptn-acme")
    staff = client_for("ptn-acme", role="staff", user="usr-sam", partners=("ptn-acme",))
    company_id, thread_id = await company_thread(kafka, partner, "ptn-acme")
    instance = InstanceProvisioned(
        instance_id=f"ins-{uuid.uuid4().hex[:8]}",
        partner_id="ptn-acme",
        company_id=company_id,
        provisioning_id="prv-1",
        contract_number="C-2026-001",
        name="Oficina central",
        type=InstanceType.WDS,
        activation_date=date(2026, 1, 1),
        expiry_date=date(2026, 12, 31),
        provisioned_by=WHO,
    )
    await kafka.send(
        "instance.provisioned",
        envelope_for(instance, source="instances").to_json_bytes(),
        key=instance.instance_id.encode(),
    )
    seat = LicenseAdded(
        license_id="lic-1",
        instance_id=instance.instance_id,
        partner_id="ptn-acme",
        company_id=company_id,
        user_name="Marta Núñez",
        email="marta@example.com",
        pin="1234",
        added_by=WHO,
    )
    await kafka.send(
        "license.added", envelope_for(seat, source="instances").to_json_bytes(), key=seat.instance_id.encode()
    )
    logo = await staff.post("/v1/support/canned-replies/attachments", files={"file": ("guia.png", png(), "image/png")})
    assert logo.status_code == 201, logo.text
    created = await staff.post(
        "/v1/support/canned-replies",
        json={
            "title": {"es": "Renovación de {{instance.name}}", "en": "Renewal of {{instance.name}}"},
            "text": {
                "es": "Hola {{license.user}}: {{company.name}} ({{company.tax_id}}) caduca el "
                "{{instance.expiry_date}}. {{partner.contact}}",
                "en": "Hi {{license.user}}: {{company.name}} ({{company.tax_id}}) expires on "
                "{{instance.expiry_date}}. {{partner.contact}}",
            },
            "attachment_ids": [logo.json()["id"]],
        },
    )
    assert created.status_code == 201, created.text
    reply = created.json()
    assert "instance.expiry_date" in reply["variables"] and reply["attachments"][0]["id"] == logo.json()["id"]

    async def filled() -> dict[str, Any] | None:
        answer = await staff.post(
            f"/v1/threads/{thread_id}/canned-replies/{reply['id']}/preview", json={"language": "en"}
        )
        body: dict[str, Any] = answer.json()
        return body if "Marta Núñez" in body.get("text", "") and "December" in body["text"] else None

    preview = await eventually(filled)
    company_name = (await staff.get(f"/v1/threads/{thread_id}")).json()["company_name"]
    assert preview["language"] == "en"
    assert preview["title"] == "Renewal of Oficina central"
    assert preview["text"] == (
        f"Hi Marta Núñez: {company_name} (B12345678) expires on December 31, 2026. {{{{partner.contact}}}}"
    )
    assert preview["unknown_variables"] == []
    assert preview["missing_values"] == ["partner.contact"]
    spanish = await staff.post(
        f"/v1/threads/{thread_id}/canned-replies/{reply['id']}/preview", headers={"Accept-Language": "es"}
    )
    assert "caduca el 31 de diciembre de 2026" in spanish.json()["text"], "no partner contact yet: Spanish"
    assert spanish.json()["language_basis"] == "default" and preview["language_basis"] == "asked"

    found = (await staff.get("/v1/support/canned-replies", params={"q": "renovacion"})).json()["items"]
    assert reply["id"] in [r["id"] for r in found], "accent-insensitive"
    assert (await staff.get("/v1/support/canned-replies", params={"q": "renov"})).json()["items"], "word starts"
    assert (await partner.get("/v1/support/canned-replies")).status_code == 403
    assert (
        await partner.post(f"/v1/threads/{thread_id}/canned-replies/{reply['id']}/preview", json={})
    ).status_code == 403

    used = await staff.post(
        f"/v1/threads/{thread_id}/messages", json={"body": preview["text"], "canned_reply_id": reply["id"]}
    )
    assert used.status_code == 201, used.text
    [copy] = used.json()["attachments"]
    assert copy["id"] != logo.json()["id"] and copy["filename"] == "guia.png"
    assert (await partner.get(f"/v1/threads/{thread_id}/attachments/{copy['id']}")).status_code == 200

    typo = await staff.patch(
        f"/v1/support/canned-replies/{reply['id']}",
        json={"text": {"en": "Hi {{licence.user}}"}, "attachment_ids": []},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert typo.status_code == 422 and typo.json()["errors"][0]["field"] == "text.en", typo.text
    unchanged = (await staff.get(f"/v1/support/canned-replies/{reply['id']}")).json()
    assert (unchanged["text"], len(unchanged["attachments"])) == (reply["text"], 1), "nothing changed"
    changed = await staff.patch(
        f"/v1/support/canned-replies/{reply['id']}",
        json={"title": {"en": "Renewal"}, "attachment_ids": []},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["title"] == {"es": "Renovación de {{instance.name}}", "en": "Renewal"}
    assert changed.json()["attachments"] == []
    assert (await staff.delete(f"/v1/support/canned-replies/{reply['id']}")).status_code == 204
    assert (await staff.get(f"/v1/support/canned-replies/{reply['id']}")).status_code == 404


async def provisioned(kafka: KafkaProbe, partner_id: str, company_id: str, expiry: date, user_name: str) -> None:
    """The company's instance and a licensed user, as the instances service announces them."""
    instance = InstanceProvisioned(
        instance_id=f"ins-{uuid.uuid4().hex[:8]}",
        partner_id=partner_id,
        company_id=company_id,
        provisioning_id="prv-1",
        contract_number="C-2026-002",
        name="Almacén",
        type=InstanceType.WDS,
        activation_date=date(2026, 1, 1),
        expiry_date=expiry,
        provisioned_by=WHO,
    )
    seat = LicenseAdded(
        license_id=f"lic-{uuid.uuid4().hex[:8]}",
        instance_id=instance.instance_id,
        partner_id=partner_id,
        company_id=company_id,
        user_name=user_name,
        email="pilar@example.com",
        pin="4321",
        added_by=WHO,
    )
    for topic, event in (("instance.provisioned", instance), ("license.added", seat)):
        await kafka.send(topic, envelope_for(event, source="instances").to_json_bytes(), key=b"ins")


async def test_a_canned_reply_preview_is_in_the_partner_contacts_language_with_every_value_of_the_thread(
    client_for: Callable[..., httpx2.AsyncClient],
    kafka: KafkaProbe,
    stored: Callable[[str], int],
    platform: PlatformSettings,
    database_name: str,
) -> None:
    """The reader of a canned reply is the partner: the preview speaks the language of the
    partner's user who last wrote (not the agent's), and names the partner (from the gateway's
    `partner.updated`), that user and the agent (from their tokens' OIDC claims)."""
    acme, other = f"ptn-{uuid.uuid4().hex[:8]}", f"ptn-{uuid.uuid4().hex[:8]}"
    mary = client_for(acme, user="usr-mary", name="Mary Smith", language="en")
    staff = client_for(acme, role="staff", user="usr-sam", partners=(acme, other), name="Samuel Ortega", language="es")
    outsider = client_for(other, role="staff", user="usr-olga", partners=(other,), name="Olga", language="es")
    company_id, thread_id = await company_thread(kafka, mary, acme)
    await provisioned(kafka, acme, company_id, date(2027, 3, 15), "Pilar Gómez")
    named = envelope_for(PartnerUpdated(partner_id=acme, name="Acme Distribución S.L."), source="gateway")
    await kafka.send("partner.updated", named.to_json_bytes(), key=acme.encode())
    asked = await mary.post(f"/v1/threads/{thread_id}/messages", json={"body": "Hello, when does it expire?"})
    assert asked.status_code == 201, asked.text
    assert asked.json()["author_name"] == "Mary Smith"
    texts = {
        "es": "Hola {{partner.contact}}: {{company.name}} caduca el {{instance.expiry_date}} "
        "({{license.user}}, {{partner.name}}). {{agent.name}} {{ticket.number}}",
        "en": "Hi {{partner.contact}}: {{company.name}} expires on {{instance.expiry_date}} "
        "({{license.user}}, {{partner.name}}). {{agent.name}} {{ticket.number}}",
    }
    title = {"es": "Caducidad", "en": "Expiry"}
    refused = await staff.post("/v1/support/canned-replies", json={"title": title, "text": texts})
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert error["field"] == "text.es" and error["message"].startswith("{{ticket.number}} no es una variable conocida")
    assert stored("canned_replies") == 0, "nothing saved"
    # A reply saved before unknown variables were refused still previews, listing them.
    reply_id = f"cnr-{uuid.uuid4().hex}"
    older = CannedReply(reply_id, title, texts, datetime.now(UTC), datetime.now(UTC), "usr-sam")
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(platform.mongo_url.get_secret_value())
    try:
        await MongoCannedReplyRepository(client[database_name]).add(older, [])
    finally:
        await client.close()
    preview_path = f"/v1/threads/{thread_id}/canned-replies/{reply_id}/preview"

    async def filled() -> dict[str, Any] | None:
        # The agent reads Spanish (Accept-Language): the partner's contact reads English.
        answer = await staff.post(preview_path, headers={"Accept-Language": "es"})
        body: dict[str, Any] = answer.json()
        return body if answer.status_code == 200 and not body["missing_values"] else None

    preview = await eventually(filled)
    company_name = (await staff.get(f"/v1/threads/{thread_id}")).json()["company_name"]
    assert (preview["language"], preview["language_basis"]) == ("en", "partner_contact")
    assert preview["title"] == "Expiry"
    assert preview["text"] == (
        f"Hi Mary Smith: {company_name} expires on March 15, 2027 "
        "(Pilar Gómez, Acme Distribución S.L.). Samuel Ortega {{ticket.number}}"
    )
    assert preview["unknown_variables"] == ["ticket.number"]
    spanish = (await staff.post(preview_path, json={"language": "es"})).json()
    assert (spanish["language"], spanish["language_basis"]) == ("es", "asked")
    assert "caduca el 15 de marzo de 2027" in spanish["text"]

    thread = (await staff.get(f"/v1/threads/{thread_id}")).json()
    assert thread["partner_contact"] == {"name": "Mary Smith", "language": "en"}
    [message] = (await staff.get(f"/v1/threads/{thread_id}/messages")).json()["items"]
    assert (message["author_id"], message["author_name"]) == ("usr-mary", "Mary Smith")
    # Staff writing changes nothing of the partner's contact; another partner user writing does.
    assert (await staff.post(f"/v1/threads/{thread_id}/messages", json={"body": "Looking."})).status_code == 201
    assert (await staff.get(f"/v1/threads/{thread_id}")).json()["partner_contact"]["name"] == "Mary Smith"
    pepe = client_for(acme, user="usr-pepe", name="Pepe Ruiz", language="es")
    assert (await pepe.post(f"/v1/threads/{thread_id}/messages", json={"body": "Soy Pepe."})).status_code == 201
    now_spanish = (await staff.post(preview_path)).json()
    assert (now_spanish["language"], now_spanish["language_basis"]) == ("es", "partner_contact")
    assert now_spanish["text"].startswith("Hola Pepe Ruiz: ")

    # Another partner's thread, for staff not associated with it: not found, and nothing said of it.
    hidden = await outsider.post(preview_path)
    assert hidden.status_code == 404 and "Mary" not in hidden.text
    assert (await outsider.get(f"/v1/threads/{thread_id}")).status_code == 404


async def test_keyed_uploads_and_canned_replies_are_created_once(
    client_for: Callable[..., httpx2.AsyncClient], kafka: KafkaProbe, stored: Callable[[str], int]
) -> None:
    partner = client_for("ptn-acme")
    staff = client_for("ptn-acme", role="staff", user="usr-sam", partners=("ptn-acme",))
    _, thread_id = await company_thread(kafka, partner, "ptn-acme")
    key = {"Idempotency-Key": f"upload-{uuid.uuid4().hex}"}
    path = f"/v1/threads/{thread_id}/attachments"
    first = await partner.post(path, files={"file": ("a.png", png(), "image/png")}, headers=key)
    files_after_first = stored("attachment_files.files")
    retry = await partner.post(path, files={"file": ("a.png", png(), "image/png")}, headers=key)
    assert first.status_code == 201 and retry.status_code == 201, retry.text
    assert retry.json() == first.json()
    assert stored("attachment_files.files") == files_after_first, "the retry stored no bytes"
    other = await partner.post(path, files={"file": ("b.png", png(60, 60), "image/png")}, headers=key)
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key"

    body = {"title": {"es": "Hola", "en": "Hello"}, "text": {"es": "Hola {{agent.name}}", "en": "Hi"}}
    canned_key = {"Idempotency-Key": f"canned-{uuid.uuid4().hex}"}
    saved = await staff.post("/v1/support/canned-replies", json=body, headers=canned_key)
    again = await staff.post("/v1/support/canned-replies", json=body, headers=canned_key)
    assert saved.status_code == 201 and again.json()["id"] == saved.json()["id"]
