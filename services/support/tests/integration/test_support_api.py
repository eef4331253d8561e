"""The support service against the real Kafka and FerretDB: threads appear from events,
messages are stored, listed, counted unread for the other side, marked read and published once;
system notes appear once however often their event is delivered; other partners see nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest
from pymongo import MongoClient

from contracts import EventEnvelope, decode_envelope, envelope_for
from contracts.events.common import Actor
from contracts.events.companies import CompanyCreated
from contracts.events.instances import InstanceCancellationRequested
from contracts.events.licenses import LicenseRevoked
from servicekit.settings import PlatformSettings
from servicekit.testing import KafkaProbe, eventually, started
from support.bootstrap import build_app
from support.config import Settings

pytestmark = pytest.mark.integration

WHO = Actor(user_id="usr-ana", role="partner")
ENGLISH = {"Accept-Language": "en"}


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
        partner: str, *, role: str = "partner", user: str = "usr-ana", partners: tuple[str, ...] = ()
    ) -> httpx2.AsyncClient:
        token = token_for(partner, role=role, user_id=user, partners=partners)
        client = httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app),
            base_url="http://support",
            headers={"Authorization": f"Bearer {token}"},
        )
        clients.append(client)
        return client

    async with started(app):
        yield make
        for client in clients:
            await client.aclose()


async def company_thread(kafka: KafkaProbe, client: httpx2.AsyncClient, partner: str) -> tuple[str, str]:
    """Publish a company.created event and wait for its thread; returns (company id, thread id)."""
    company_id = f"cmp-{uuid.uuid4().hex[:10]}"
    name = f"Talleres {company_id[-4:]} S.L."
    event = envelope_for(
        CompanyCreated(company_id=company_id, partner_id=partner, name=name, tax_id="B12345678", created_by=WHO),
        source="instances",
    )
    await kafka.send("company.created", event.to_json_bytes(), key=company_id.encode())

    async def thread() -> dict[str, Any] | None:
        response = await client.get(f"/v1/threads/thr-{company_id}")
        return response.json() if response.status_code == 200 else None

    body = await eventually(thread)
    assert body["company_name"] == name
    return company_id, body["id"]


async def posted(kafka: KafkaProbe, thread_id: str, count: int) -> list[EventEnvelope[Any]]:
    def enough(records: list[Any]) -> bool:
        return sum(r.key == thread_id.encode() for r in records) >= count

    records = await kafka.read_all("message.posted", until=enough)
    return [decode_envelope(r.value) for r in records if r.key == thread_id.encode()]


async def test_a_message_is_stored_listed_unread_for_the_other_side_read_and_published_once(
    client_for: Callable[..., httpx2.AsyncClient], kafka: KafkaProbe
) -> None:
    partner = client_for("ptn-acme")
    staff = client_for("ptn-acme", role="staff", user="usr-sam", partners=("ptn-acme", "ptn-beta"))
    _, thread_id = await company_thread(kafka, partner, "ptn-acme")

    key = {"Idempotency-Key": "post-once-123"}
    first = await partner.post(
        f"/v1/threads/{thread_id}/messages", json={"body": "  Marta's terminal won't sync.  "}, headers=key
    )
    assert first.status_code == 201, first.text
    retry = await partner.post(
        f"/v1/threads/{thread_id}/messages", json={"body": "Marta's terminal won't sync."}, headers=key
    )
    assert retry.json()["id"] == first.json()["id"], "a retried post is the same message"
    message = first.json()
    assert message["body"] == "Marta's terminal won't sync."
    assert message["direction"] == "sent"
    assert message["author_side"] == "partner"

    as_staff = (await staff.get(f"/v1/threads/{thread_id}")).json()
    assert as_staff["unread"] == 1
    assert as_staff["message_count"] == 1
    assert as_staff["last_message"]["direction"] == "received"
    assert (await partner.get(f"/v1/threads/{thread_id}")).json()["unread"] == 0
    staff_view = (await staff.get(f"/v1/threads/{thread_id}/messages")).json()["items"]
    assert [(m["id"], m["direction"]) for m in staff_view] == [(message["id"], "received")]

    read = await staff.post(f"/v1/threads/{thread_id}/read")
    assert read.json()["unread"] == 0
    reply = await staff.post(f"/v1/threads/{thread_id}/messages", json={"body": "We are on it."})
    assert reply.status_code == 201
    assert (await partner.get(f"/v1/threads/{thread_id}")).json()["unread"] == 1
    listing = (await partner.get("/v1/threads")).json()["items"]
    mine = next(t for t in listing if t["id"] == thread_id)
    assert mine["last_message"]["preview"] == "We are on it."
    assert mine["last_message"]["direction"] == "received"
    staff_list = (await staff.get("/v1/threads", params={"partner_id": "ptn-acme"})).json()["items"]
    assert thread_id in [t["id"] for t in staff_list]

    events = await posted(kafka, thread_id, 2)
    assert [(e.data.message_id, e.data.author_side.value) for e in events] == [
        (message["id"], "partner"),
        (reply.json()["id"], "support"),
    ], "one message.posted per message, in order, keyed by the thread"


async def test_a_system_note_appears_once_when_its_event_is_delivered_twice(
    client_for: Callable[..., httpx2.AsyncClient], kafka: KafkaProbe
) -> None:
    partner = client_for("ptn-acme")
    company_id, thread_id = await company_thread(kafka, partner, "ptn-acme")
    revoked = envelope_for(
        LicenseRevoked(
            license_id="lic-1", instance_id="ins-1", partner_id="ptn-acme", company_id=company_id,
            pin="4821", serial="SER-1", reason="Employee left", revoked_by=WHO,
        ),
        source="instances",
    )  # fmt: skip
    cancelled = envelope_for(
        InstanceCancellationRequested(
            instance_id="ins-1", partner_id="ptn-acme", company_id=company_id, reason="Closing", requested_by=WHO
        ),
        source="instances",
    )
    for _ in range(2):
        await kafka.send("license.revoked", revoked.to_json_bytes(), key=b"ins-1")
    await kafka.send("instance.cancellation_requested", cancelled.to_json_bytes(), key=b"ins-1")

    async def two_notes() -> list[dict[str, Any]] | None:
        items = (await partner.get(f"/v1/threads/{thread_id}/messages")).json()["items"]
        return items if len(items) >= 2 else None

    notes = await eventually(two_notes)
    await asyncio.sleep(1.0)  # room for a wrongly repeated note to show up
    notes = (await partner.get(f"/v1/threads/{thread_id}/messages", headers=ENGLISH)).json()["items"]
    assert sorted(n["body"] for n in notes) == [
        "Cancellation requested for instance ins-1. Reason: Closing",
        "License lic-1 (PIN 4821, terminal SER-1) was revoked. Reason: Employee left",
    ]
    assert {n["direction"] for n in notes} == {"system"}
    assert (await partner.get(f"/v1/threads/{thread_id}")).json()["unread"] == 2
    events = await posted(kafka, thread_id, 2)
    assert len(events) == 2
    assert {e.causation_id for e in events} == {revoked.id, cancelled.id}


async def test_another_partners_threads_are_not_found(
    client_for: Callable[..., httpx2.AsyncClient], kafka: KafkaProbe
) -> None:
    owner = client_for("ptn-acme")
    _, thread_id = await company_thread(kafka, owner, "ptn-acme")
    rival = client_for("ptn-rival", user="usr-eve")
    unrelated_staff = client_for("ptn-zeta", role="staff", user="usr-zed", partners=("ptn-zeta",))
    for client in (rival, unrelated_staff):
        for response in await asyncio.gather(
            client.get(f"/v1/threads/{thread_id}"),
            client.get(f"/v1/threads/{thread_id}/messages"),
            client.post(f"/v1/threads/{thread_id}/messages", json={"body": "let me in"}),
            client.post(f"/v1/threads/{thread_id}/read"),
        ):
            assert response.status_code == 404, response.text
            assert response.headers["content-type"] == "application/problem+json"
        assert thread_id not in [t["id"] for t in (await client.get("/v1/threads")).json()["items"]]
    forbidden = await unrelated_staff.get("/v1/threads", params={"partner_id": "ptn-acme"})
    assert forbidden.status_code == 403
    assert forbidden.json()["errors"][0]["field"] == "partner_id"
    assert (await owner.get(f"/v1/threads/{thread_id}")).json()["message_count"] == 0, "nothing was posted"


@pytest.mark.parametrize("body", ["", "   ", "nul\x00byte", "x" * 5001])
async def test_bad_messages_are_refused_naming_the_field(
    client_for: Callable[..., httpx2.AsyncClient], kafka: KafkaProbe, body: str
) -> None:
    partner = client_for("ptn-acme")
    _, thread_id = await company_thread(kafka, partner, "ptn-acme")
    response = await partner.post(f"/v1/threads/{thread_id}/messages", json={"body": body})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"
    assert (await partner.get(f"/v1/threads/{thread_id}")).json()["message_count"] == 0


async def test_system_notes_read_in_the_readers_language(
    client_for: Callable[..., httpx2.AsyncClient], kafka: KafkaProbe, platform: PlatformSettings, database_name: str
) -> None:
    """Notes are stored as a code and parameters: a Spanish reader reads them in Spanish, an
    English one in English, in the thread and in the thread list; notes stored before codes
    existed keep reading as they were written."""
    partner = client_for("ptn-acme")
    company_id, thread_id = await company_thread(kafka, partner, "ptn-acme")
    events = [
        envelope_for(
            LicenseRevoked(
                license_id="lic-7", instance_id="ins-7", partner_id="ptn-acme", company_id=company_id,
                pin="1234", serial="SER-7", reason="Robado", revoked_by=WHO,
            ),
            source="instances",
        ),
        envelope_for(
            LicenseRevoked(
                license_id="lic-8", instance_id="ins-7", partner_id="ptn-acme", company_id=company_id,
                pin="5678", serial=None, reason="Baja", revoked_by=WHO,
            ),
            source="instances",
        ),
        envelope_for(
            InstanceCancellationRequested(
                instance_id="ins-7", partner_id="ptn-acme", company_id=company_id, reason="Cierre", requested_by=WHO
            ),
            source="instances",
        ),
    ]  # fmt: skip
    for event in events:
        await kafka.send(event.type, event.to_json_bytes(), key=b"ins-7")

    async def read(language: str | None) -> list[str] | None:
        headers = {"Accept-Language": language} if language else {}
        items = (await partner.get(f"/v1/threads/{thread_id}/messages", headers=headers)).json()["items"]
        if len(items) < 3:
            return None
        assert all(m["text"] == m["body"] for m in items)
        return [m["text"] for m in items]

    spanish = [
        "Se ha solicitado la cancelación de la instancia ins-7. Motivo: Cierre",
        "Se ha revocado la licencia lic-8 (PIN 5678). Motivo: Baja",
        "Se ha revocado la licencia lic-7 (PIN 1234, terminal SER-7). Motivo: Robado",
    ]
    english = [
        "Cancellation requested for instance ins-7. Reason: Cierre",
        "License lic-8 (PIN 5678) was revoked. Reason: Baja",
        "License lic-7 (PIN 1234, terminal SER-7) was revoked. Reason: Robado",
    ]
    assert sorted(await eventually(lambda: read("es"))) == sorted(spanish)
    assert sorted(await read("en") or []) == sorted(english)
    assert sorted(await read("en-GB,en;q=0.9,es;q=0.5") or []) == sorted(english)
    assert sorted(await read("fr-FR, es;q=0.3") or []) == sorted(spanish)
    assert sorted(await read(None) or []) == sorted(spanish), "Spanish when the reader names no language"

    items = (await partner.get(f"/v1/threads/{thread_id}/messages")).json()["items"]
    by_code = {m["note"]["code"]: m["note"]["params"] for m in items}
    assert by_code["license_revoked_on_terminal"] == {
        "license_id": "lic-7", "pin": "1234", "serial": "SER-7", "reason": "Robado"
    }  # fmt: skip
    assert by_code["cancellation_requested"] == {"instance_id": "ins-7", "reason": "Cierre"}

    last = max(items, key=lambda m: m["seq"])
    for language, texts in (("es", spanish), ("en", english)):
        thread = (await partner.get(f"/v1/threads/{thread_id}", headers={"Accept-Language": language})).json()
        assert thread["last_message"]["preview"] in texts
        assert thread["last_message"]["note"] == last["note"]
        listed = (await partner.get("/v1/threads", headers={"Accept-Language": language})).json()["items"]
        assert next(t for t in listed if t["id"] == thread_id)["last_message"]["preview"] in texts

    published = await posted(kafka, thread_id, 3)
    assert {(e.data.code, (e.data.params or {}).get("pin")) for e in published} >= {
        ("license_revoked_on_terminal", "1234"),
        ("license_revoked", "5678"),
    }
    assert all(e.data.preview in spanish for e in published), "events carry the text in the default language"

    # A note stored before notes had codes: its text, whatever the reader's language.
    with MongoClient(platform.mongo_url.get_secret_value()) as mongo:
        mongo[database_name]["messages"].insert_one(
            {
                "_id": "note-old", "thread_id": thread_id, "partner_id": "ptn-acme", "company_id": company_id,
                "seq": 100, "author_id": "system", "author_side": "system",
                "body": "License lic-0 (PIN 0000) was revoked. Reason: Old", "created_at": datetime.now(UTC),
            }
        )  # fmt: skip
    for language in ("es", "en"):
        newest = (await partner.get(f"/v1/threads/{thread_id}/messages", headers={"Accept-Language": language})).json()
        assert newest["items"][0]["text"] == "License lic-0 (PIN 0000) was revoked. Reason: Old"
        assert newest["items"][0]["note"] is None


async def test_a_partners_message_after_a_note_previews_as_written(
    client_for: Callable[..., httpx2.AsyncClient], kafka: KafkaProbe
) -> None:
    partner = client_for("ptn-acme")
    company_id, thread_id = await company_thread(kafka, partner, "ptn-acme")
    cancelled = envelope_for(
        InstanceCancellationRequested(
            instance_id="ins-9", partner_id="ptn-acme", company_id=company_id, reason="Cierre", requested_by=WHO
        ),
        source="instances",
    )
    await kafka.send(cancelled.type, cancelled.to_json_bytes(), key=b"ins-9")

    async def noted() -> dict[str, Any] | None:
        thread = (await partner.get(f"/v1/threads/{thread_id}", headers=ENGLISH)).json()
        return thread if thread["message_count"] == 1 else None

    assert (await eventually(noted))["last_message"]["preview"].startswith("Cancellation requested")
    await partner.post(f"/v1/threads/{thread_id}/messages", json={"body": "Thanks"}, headers=ENGLISH)
    thread = (await partner.get(f"/v1/threads/{thread_id}", headers={"Accept-Language": "es"})).json()
    assert thread["last_message"]["preview"] == "Thanks"
    assert thread["last_message"]["note"] is None
