"""The public API through the gateway with the real services behind it: a partner's day (company,
instance through the contract step, licenses, a terminal's telemetry, a support message), the
composed views, the cross-partner access matrix generated from the public OpenAPI document, live
notifications over SSE with resume, and a composed view with a backing service down."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest
import pytest_asyncio
from PIL import Image

from servicekit.testing import eventually

from .conftest import Stack, add_user, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

COMPANY = {
    "name": "Talleres Gómez S.L.",
    "address": {"street": "Calle 1", "city": "Soria", "postal_code": "42001", "province": "Soria"},
    "contact_person": "Luis Gómez",
    "email": "luis@example.com",
    "phone": "+34 975 000 000",
}


@dataclass
class PartnerWorld:
    """What one partner owns after a short working day, all created through the gateway."""

    partner_id: str
    token: str
    company_id: str
    instance_id: str
    license_id: str
    serial: str
    thread_id: str
    record_id: str
    ingest_key: str
    subscription_id: str


async def build_world(stack: Stack, unique: Callable[[str], str]) -> PartnerWorld:
    partner_id = unique("ptn")
    token = await stack.token(await add_user(stack, unique("usr"), "partner", (partner_id,)))
    async with stack.client(token) as api:
        company = await api.post("/api/v1/companies", json={**COMPANY, "tax_id": f"B{uuid.uuid4().int % 10**8:08d}"})
        assert company.status_code == 201, company.text
        company_id = company.json()["id"]
        draft = await api.post(
            "/api/v1/provisionings", json={"company_id": company_id, "type": "WDS", "name": "Taller"}
        )
        assert draft.status_code == 201, draft.text
        instance_id = draft.json()["id"]
        assert (await api.post(f"/api/v1/provisionings/{instance_id}/provision")).status_code == 200
        contract = await api.get(f"/api/v1/provisionings/{instance_id}/contract.pdf")
        assert contract.status_code == 200
        assert contract.content.startswith(b"%PDF"), "binary bodies pass through the gateway intact"
        generated = await api.post(
            f"/api/v1/provisionings/{instance_id}/generate", headers={"Idempotency-Key": unique("key")}
        )
        assert generated.status_code in (200, 201), generated.text
        serial = unique("SR").upper()
        added = await api.post(
            f"/api/v1/instances/{instance_id}/licenses",
            json={"licenses": [{"user_name": "Ana", "email": "ana@example.com", "pin": "4821", "serial": serial}]},
        )
        assert added.status_code == 201, added.text
        license_id = added.json()["license_ids"][0]
        key = (await api.post(f"/api/v1/instances/{instance_id}/ingest-key")).json()["ingest_key"]

    event = {
        "event_id": str(uuid.uuid4()),
        "serial": serial,
        "pin": "4821",
        "action": "clock_in",
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    async with stack.client() as terminal:

        async def admitted() -> bool:  # the key reaches the activity service through Kafka
            sent = await terminal.post("/api/v1/ingest/events", json={"events": [event]}, headers={"X-Ingest-Key": key})
            return sent.status_code == 202

        await eventually(admitted)
    async with stack.client(token) as api:

        async def record() -> str | None:
            items = (await api.get("/api/v1/activity/records", params={"serial": serial})).json()["items"]
            return str(items[0]["id"]) if items else None

        async def thread() -> str | None:
            found = await api.get(f"/api/v1/threads/thr-{company_id}")
            return f"thr-{company_id}" if found.status_code == 200 else None

        async def reported() -> bool:  # the reports read model follows the events
            return (await api.get(f"/api/v1/reports/licenses/{license_id}")).status_code == 200

        record_id = await eventually(record)
        thread_id = await eventually(thread)
        await eventually(reported)
        hook = {"partner_id": partner_id, "url": "https://hooks.example.com/in", "event_types": ["license.added"]}
        webhook = await api.post("/api/v1/webhooks", json={**hook, "active": False})  # paused: sends nothing
        assert webhook.status_code == 201, webhook.text
    return PartnerWorld(
        partner_id, token, company_id, instance_id, license_id, serial, thread_id, record_id, key, webhook.json()["id"]
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def worlds(stack: Stack) -> tuple[PartnerWorld, PartnerWorld]:
    def unique(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:8]}"

    mine, theirs = await asyncio.gather(build_world(stack, unique), build_world(stack, unique))
    return mine, theirs


async def test_instance_view_composes_four_services(stack: Stack, worlds: tuple[PartnerWorld, PartnerWorld]) -> None:
    mine, _ = worlds
    async with stack.client(mine.token) as api:
        await api.post(
            f"/api/v1/threads/{mine.thread_id}/messages",
            json={"body": "Hola"},
            headers={"Idempotency-Key": f"view-{uuid.uuid4().hex}"},
        )
        view = await api.get(f"/api/v1/views/instances/{mine.instance_id}")
        assert view.status_code == 200, view.text
        body = view.json()
        assert body["degraded"] == []
        assert body["instance"]["id"] == mine.instance_id
        assert [lic["id"] for lic in body["licenses"]["items"]] == [mine.license_id]
        assert body["thread"]["id"] == mine.thread_id
        assert [t["serial"] for t in body["terminals"]] == [mine.serial]
        header = (await api.get(f"/api/v1/views/threads/{mine.thread_id}")).json()
        assert header["company"]["id"] == mine.company_id
        assert [i["id"] for i in header["instances"]["items"]] == [mine.instance_id]
        assert header["degraded"] == []


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


NOT_OBJECT_IDS = {"fmt"}  # path parameters that name no object (e.g. an export's format)
UPLOAD = {"file": ("photo.png", png_bytes(), "image/png")}  # a multipart upload that passes the file checks

# Bodies that pass validation, so the answer shows the partner scoping, not the input check.
MUTATION_BODIES: dict[tuple[str, str], dict[str, Any] | None] = {
    ("PATCH", "/api/v1/companies/{company_id}"): {"name": "Taken over"},
    ("PATCH", "/api/v1/provisionings/{instance_id}"): {"name": "Taken over"},
    ("POST", "/api/v1/provisionings/{instance_id}/provision"): None,
    ("POST", "/api/v1/provisionings/{instance_id}/cancel"): None,
    ("POST", "/api/v1/provisionings/{instance_id}/generate"): None,
    ("PATCH", "/api/v1/instances/{instance_id}"): {"name": "Taken over"},
    ("POST", "/api/v1/instances/{instance_id}/extend"): {"new_expiry_date": "2099-01-01"},
    ("POST", "/api/v1/instances/{instance_id}/cancellation-request"): {"reason": "mine now"},
    ("POST", "/api/v1/instances/{instance_id}/clear-session"): {},
    ("POST", "/api/v1/instances/{instance_id}/ingest-key"): None,
    ("POST", "/api/v1/instances/{instance_id}/licenses"): {
        "licenses": [{"user_name": "Eve", "email": "eve@example.com", "pin": "6666"}]
    },
    ("POST", "/api/v1/instances/{instance_id}/licenses/{license_id}/revoke"): {"reason": "mine now"},
    ("POST", "/api/v1/instances/{instance_id}/licenses/{license_id}/release"): {},
    ("POST", "/api/v1/instances/{instance_id}/licenses/{license_id}/impersonate"): {"reason": "mine now"},
    ("POST", "/api/v1/threads/{thread_id}/messages"): {"body": "mine now"},
    ("POST", "/api/v1/threads/{thread_id}/read"): None,
    ("POST", "/api/v1/activity/records/{record_id}/release-license"): {},
    ("PATCH", "/api/v1/webhooks/{subscription_id}"): {"description": "mine now"},
    ("DELETE", "/api/v1/webhooks/{subscription_id}"): None,
    ("POST", "/api/v1/webhooks/{subscription_id}/secret"): {"overlap_hours": 0},
    ("POST", "/api/v1/webhooks/{subscription_id}/test"): None,
    ("POST", "/api/v1/webhooks/{subscription_id}/deliveries/{delivery_id}/replay"): None,
    ("POST", "/api/v1/webhooks/{subscription_id}/replay"): {"since": "2020-01-01T00:00:00Z"},
    ("POST", "/api/v1/threads/{thread_id}/attachments"): UPLOAD,
    ("POST", "/api/v1/threads/{thread_id}/canned-replies/{reply_id}/preview"): {"language": "en"},
    ("PATCH", "/api/v1/support/canned-replies/{reply_id}"): {"title": {"es": "mío", "en": "mine"}},
    ("DELETE", "/api/v1/support/canned-replies/{reply_id}"): None,
}


# A valid value for every required query parameter of the public API, so that scoping, not input
# validation, decides the answer; a new required parameter fails loudly until it is added here.
SAMPLE_QUERY = {
    "from": "2026-01-01",
    "to": "2026-01-31",
    "q": "sincronizacion",
    "date": "2026-11-30",
    "month": "2026-11",
}


def required_query(operation: dict[str, Any], *, leave_out: frozenset[str] = frozenset()) -> dict[str, str]:
    names = [
        p["name"]
        for p in operation.get("parameters", [])
        if p["in"] == "query" and p.get("required") and p["name"] not in leave_out
    ]
    missing = [name for name in names if name not in SAMPLE_QUERY]
    assert not missing, f"add a sample value of the required query parameters {missing} to SAMPLE_QUERY"
    return {name: SAMPLE_QUERY[name] for name in names}


def staff_only(operation: dict[str, Any]) -> bool:
    """Operations the documents mark as the support team's: a partner user is refused (403) by
    role before any id is looked up, so the answer says nothing of the victim's objects."""
    return str(operation.get("summary", "")).startswith("Staff:")


async def test_cross_partner_access_matrix(stack: Stack, worlds: tuple[PartnerWorld, PartnerWorld]) -> None:
    """Every route of the public API with an object id in its path, called by another partner
    with the victim's real ids: 404, and the victim's data unchanged."""
    attacker, victim = worlds
    async with stack.client(attacker.token) as api:
        document = (await api.get("/api/v1/openapi.json")).json()
        ids = {
            "company_id": victim.company_id,
            "instance_id": victim.instance_id,
            "license_id": victim.license_id,
            "thread_id": victim.thread_id,
            "record_id": victim.record_id,
            "serial": victim.serial,
            "subscription_id": victim.subscription_id,
            "delivery_id": "dlv_" + "0" * 32,
            "attachment_id": "att_" + "0" * 24,  # the thread is the victim's: no file of it is reachable
            "reply_id": "cr_" + "0" * 24,
        }
        before = await snapshot(stack, victim)
        checked: list[str] = []
        for template, operations in document["paths"].items():
            names = set(re.findall(r"{(\w+)}", template)) - NOT_OBJECT_IDS
            if not names:
                continue
            assert names <= set(ids), f"the matrix needs a victim id for {template}"
            path = template.format(**ids)
            for lower_method in operations:
                method = lower_method.upper()
                kwargs: dict[str, Any] = {
                    "headers": {"Idempotency-Key": f"k-{uuid.uuid4().hex}"},
                    "params": required_query(operations[lower_method]),
                }
                if method != "GET":
                    assert (method, template) in MUTATION_BODIES, f"add a valid body for {method} {template}"
                    body = MUTATION_BODIES[(method, template)]
                    if body is UPLOAD:
                        kwargs["files"] = body
                    elif body is not None:
                        kwargs["json"] = body
                response = await api.request(method, path, **kwargs)
                expected = 403 if staff_only(operations[lower_method]) else 404
                assert response.status_code == expected, (
                    f"{method} {template}: {response.status_code} {response.text[:300]}"
                )
                assert victim.partner_id not in response.text
                checked.append(f"{method} {template}")
        assert len(checked) >= 25, checked
        assert {c.split("/")[3] for c in checked} >= {
            "companies",
            "provisionings",
            "instances",
            "threads",
            "activity",
            "reports",
            "views",
            "webhooks",
        }
        assert await snapshot(stack, victim) == before, "nothing of the victim's changed"


async def snapshot(stack: Stack, world: PartnerWorld) -> dict[str, Any]:
    async with stack.client(world.token) as api:
        instance = (await api.get(f"/api/v1/instances/{world.instance_id}")).json()
        company = (await api.get(f"/api/v1/companies/{world.company_id}")).json()
        licenses = (await api.get(f"/api/v1/instances/{world.instance_id}/licenses")).json()["items"]
        messages = (await api.get(f"/api/v1/threads/{world.thread_id}/messages")).json()["items"]
        webhook = (await api.get(f"/api/v1/webhooks/{world.subscription_id}")).json()
    return {
        "webhook": (webhook["updated_at"], webhook["description"], webhook["secret_hint"]),
        "instance": (instance["version"], instance["name"], instance["expiry_date"], instance["status"]),
        "company": company["name"],
        "licenses": sorted((lic["id"], lic["status"], lic["serial"]) for lic in licenses),
        "messages": len(messages),
    }


@contextlib.asynccontextmanager
async def sse(
    stack: Stack, token: str, last_event_id: str | None = None
) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
    """Reads the notification stream in the background into a queue of {id, event, data}."""
    received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    headers = {"Authorization": f"Bearer {token}", **({"Last-Event-ID": last_event_id} if last_event_id else {})}
    opened = asyncio.Event()

    async def read() -> None:
        async with (
            httpx2.AsyncClient(base_url=stack.url, timeout=httpx2.Timeout(10.0, read=None)) as client,
            client.stream("GET", "/api/v1/notifications/stream", headers=headers) as response,
        ):
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            opened.set()
            event: dict[str, Any] = {}
            async for line in response.aiter_lines():
                if not line:
                    if "data" in event:
                        await received.put(event)
                    event = {}
                elif line.startswith(("id:", "event:", "data:")):
                    name, _, value = line.partition(":")
                    event[name] = json.loads(value) if name == "data" else value.strip()

    task = asyncio.create_task(read())
    await asyncio.wait_for(opened.wait(), 10)
    await asyncio.sleep(0.2)  # the listener is registered before the response starts; this is margin
    try:
        yield received
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def next_message(queue: asyncio.Queue[dict[str, Any]], within: float) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        event = await asyncio.wait_for(queue.get(), max(0.01, deadline - time.monotonic()))
        if event.get("event") == "message.posted":
            return event


async def test_sse_delivers_a_posted_message_within_2_s_and_resumes_without_loss(
    stack: Stack, worlds: tuple[PartnerWorld, PartnerWorld]
) -> None:
    mine, theirs = worlds
    async with stack.client(mine.token) as api:
        async with sse(stack, mine.token) as stream, sse(stack, theirs.token) as other_partner:
            started = time.monotonic()
            posted = await api.post(
                f"/api/v1/threads/{mine.thread_id}/messages",
                json={"body": "¿Me ayudáis?"},
                headers={"Idempotency-Key": f"sse-{uuid.uuid4().hex}"},
            )
            assert posted.status_code == 201, posted.text
            first = await next_message(stream, within=2.0)
            latency = time.monotonic() - started
            assert latency < 2.0
            assert first["data"]["data"]["thread_id"] == mine.thread_id
            assert first["data"]["data"]["preview"] == "¿Me ayudáis?"
            with pytest.raises(TimeoutError):
                await next_message(other_partner, within=1.0)  # another partner hears nothing of it
        # Disconnected: two more messages are posted meanwhile.
        for n in (2, 3):
            await api.post(
                f"/api/v1/threads/{mine.thread_id}/messages",
                json={"body": f"mensaje {n}"},
                headers={"Idempotency-Key": f"sse-{uuid.uuid4().hex}"},
            )
        await asyncio.sleep(1.0)  # let the gateway consume them while no client listens
        async with sse(stack, mine.token, last_event_id=first["id"]) as resumed:
            missed = [await next_message(resumed, within=5.0) for _ in range(2)]
            assert [m["data"]["data"]["preview"] for m in missed] == ["mensaje 2", "mensaje 3"]
            with pytest.raises(TimeoutError):
                await next_message(resumed, within=1.0)  # and nothing twice


async def test_a_composed_view_degrades_when_a_service_is_down(topic_prefix: str, key_pair: tuple[str, str]) -> None:
    async with running_stack(topic_prefix, key_pair, down=("support", "activity")) as degraded:

        def unique(prefix: str) -> str:
            return f"{prefix}-{uuid.uuid4().hex[:8]}"

        token = await degraded.token(await add_user(degraded, unique("usr"), "partner", (unique("ptn"),)))
        async with degraded.client(token) as api:
            company = await api.post(
                "/api/v1/companies", json={**COMPANY, "tax_id": f"B{uuid.uuid4().int % 10**8:08d}"}
            )
            draft = await api.post(
                "/api/v1/provisionings", json={"company_id": company.json()["id"], "type": "MCRM", "name": "CRM"}
            )
            instance_id = draft.json()["id"]
            await api.post(f"/api/v1/provisionings/{instance_id}/provision")
            await api.post(f"/api/v1/provisionings/{instance_id}/generate", headers={"Idempotency-Key": unique("k")})
            await api.post(
                f"/api/v1/instances/{instance_id}/licenses",
                json={"licenses": [{"user_name": "Ana", "email": "ana@example.com", "pin": "1234", "serial": "SR-1"}]},
            )
            started = time.monotonic()
            view = await api.get(f"/api/v1/views/instances/{instance_id}")
            assert view.status_code == 200, view.text
            assert time.monotonic() - started < 5.0
            body = view.json()
            assert body["instance"]["id"] == instance_id
            assert body["licenses"]["items"], "the instances service answered its parts"
            assert body["thread"] is None and body["terminals"] is None
            assert {(d["part"], d["service"]) for d in body["degraded"]} == {
                ("thread", "support"),
                ("terminals", "activity"),
            }
            down = await api.get("/api/v1/threads")
            assert down.status_code == 503, "a forwarded call to a stopped service is a 503 problem"
            assert down.headers["content-type"].startswith("application/problem+json")
            assert down.headers["Retry-After"]


async def test_unknown_resources_and_terminal_routes(stack: Stack, worlds: tuple[PartnerWorld, PartnerWorld]) -> None:
    mine, theirs = worlds
    async with stack.client(mine.token) as api:
        assert (await api.get("/api/v1/nothing-here")).status_code == 404
    async with stack.client() as terminal:
        config = await terminal.get(
            "/api/v1/device/configuration", params={"serial": mine.serial}, headers={"X-Ingest-Key": mine.ingest_key}
        )
        assert config.status_code == 200, config.text
        # An ingest key of one instance cannot write into another partner's terminal history.
        forged = {
            "event_id": str(uuid.uuid4()),
            "serial": theirs.serial,
            "pin": "4821",
            "action": "clock_out",
            "occurred_at": (datetime.now(UTC) - timedelta(seconds=5)).isoformat(),
        }
        no_key = await terminal.post("/api/v1/ingest/events", json={"events": [forged]})
        assert no_key.status_code == 401
        sent = await terminal.post(
            "/api/v1/ingest/events", json={"events": [forged]}, headers={"X-Ingest-Key": mine.ingest_key}
        )
        assert sent.status_code == 202, "accepted, but for the key's own instance"
        claimed = {**forged, "event_id": str(uuid.uuid4()), "partner_id": theirs.partner_id}
        refused = await terminal.post(
            "/api/v1/ingest/events", json={"events": [claimed]}, headers={"X-Ingest-Key": mine.ingest_key}
        )
        assert refused.status_code == 422, "a terminal cannot name the partner (or instance) it writes for"
    async with stack.client(theirs.token) as victim:
        await asyncio.sleep(1.0)
        items = (await victim.get("/api/v1/activity/records", params={"serial": theirs.serial})).json()["items"]
        actions = [item["action"] for item in items]
        assert "clock_out" not in actions, "the victim's terminal history is untouched"
        assert "clock_in" in actions
