"""The instances service against the real Kafka and FerretDB, through its HTTP API.

Each event is published once, with its payload and partition key, when its action succeeds,
and not at all when it fails; another partner's ids answer 404 and change nothing.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI
from pymongo import AsyncMongoClient

from contracts import CATALOGUE, decode_envelope
from instances.bootstrap import build_app
from instances.config import Settings
from instances.domain.model import add_months
from servicekit.auth import generate_key_pair
from servicekit.settings import PlatformSettings
from servicekit.testing import KafkaProbe, eventually, started

pytestmark = pytest.mark.integration

PARTNER, RIVAL = "ptn-acme", "ptn-rival"
INSTANCE_TOPICS = [spec.name for spec in CATALOGUE if spec.owner == "instances"]
IMPERSONATION_PRIVATE, IMPERSONATION_PUBLIC = generate_key_pair()


@pytest.fixture
async def api(
    platform: PlatformSettings, database_name: str, token_for: Callable[..., str]
) -> AsyncIterator[Callable[..., httpx2.AsyncClient]]:
    settings = Settings(
        mongo_database=database_name,
        consumer_group=f"instances-{uuid.uuid4().hex[:8]}",
        outbox_scan_seconds=0.2,
        impersonation_key=IMPERSONATION_PRIVATE,
        platform=platform,
    )
    app: FastAPI = build_app(settings)
    clients: list[httpx2.AsyncClient] = []

    def client_for(partner: str = PARTNER) -> httpx2.AsyncClient:
        client = httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app),
            base_url="http://instances",
            headers={"Authorization": f"Bearer {token_for(partner, user_id=f'usr-{partner}')}"},
        )
        clients.append(client)
        return client

    async with started(app):
        yield client_for
        for client in clients:
            await client.aclose()


def company_body(tax_id: str | None = None) -> dict[str, Any]:
    return {
        "name": "Transportes López S.L.",
        "tax_id": tax_id or f"B{uuid.uuid4().int % 10**8:08d}",
        "address": {"street": "Calle Mayor 1", "city": "Madrid", "postal_code": "28013", "province": "Madrid"},
        "contact_person": "Lucía López",
        "email": "lucia@example.com",
        "phone": "+34 910 000 000",
    }


async def ok(response: httpx2.Response, expected: int = 200) -> dict[str, Any]:
    assert response.status_code == expected, response.text
    body: dict[str, Any] = response.json()
    return body


async def new_instance(client: httpx2.AsyncClient, *, instance_type: str = "WDS", quota: int = 3) -> dict[str, Any]:
    company = await ok(await client.post("/v1/companies", json=company_body()), 201)
    config = {"WDS": {"terminal_quota": quota, "profile": "enterprise"}, "MCRM": {"seat_quota": quota}}.get(
        instance_type, {}
    )
    draft = await ok(
        await client.post(
            "/v1/provisionings",
            json={"company_id": company["id"], "type": instance_type, "name": "Crew", "configuration": config},
        ),
        201,
    )
    await ok(await client.post(f"/v1/provisionings/{draft['id']}/provision"))
    key = {"Idempotency-Key": f"gen-{uuid.uuid4().hex}"}
    return await ok(await client.post(f"/v1/provisionings/{draft['id']}/generate", headers=key), 201)


async def events_of(kafka: KafkaProbe, instance_id: str, expected: Counter[str]) -> list[Any]:
    """All records of the instance's topics for this instance, once `expected` counts are reached."""
    found: list[Any] = []
    for topic_name in INSTANCE_TOPICS:
        want = expected.get(topic_name, 0)

        def enough(records: list[Any], want: int = want) -> bool:
            return sum(instance_id.encode() in r.value for r in records) >= want

        records = await kafka.read_all(topic_name, until=enough, timeout=15 if want else 1.5)
        found += [r for r in records if r.key == instance_id.encode()]
    return found


def counts(records: list[Any]) -> Counter[str]:
    return Counter(decode_envelope(r.value).type for r in records)


async def test_provisioning_flow_contract_and_one_instance_provisioned_event(
    api: Callable[..., httpx2.AsyncClient], kafka: KafkaProbe
) -> None:
    client = api()
    company = await ok(await client.post("/v1/companies", json=company_body()), 201)
    draft = await ok(
        await client.post(
            "/v1/provisionings",
            json={
                "company_id": company["id"],
                "type": "WDS",
                "name": "Warehouse",
                "term_months": 24,
                "configuration": {"profile": "professional", "terminal_quota": 25},
            },
        ),
        201,
    )
    assert draft["stage"] == "draft"
    assert draft["status"] is None
    instance_id = draft["id"]

    early = await client.post(f"/v1/provisionings/{instance_id}/generate", headers={"Idempotency-Key": "k-early-1"})
    assert early.status_code == 409
    assert early.json()["current_state"] == "draft"
    assert (await client.get(f"/v1/provisionings/{instance_id}/contract")).status_code == 404

    provisioned = await ok(await client.post(f"/v1/provisionings/{instance_id}/provision"))
    assert provisioned["stage"] == "provisioned"
    assert provisioned["contract_number"].startswith(f"C-{datetime.now(UTC).year}-")
    contract = await ok(await client.get(f"/v1/provisionings/{instance_id}/contract"))
    assert contract["customer"]["name"] == "Transportes López S.L."
    assert contract["seats"] == 25
    assert contract["unit_price"] == "6.50"
    assert contract["term_total"] == str(6.5 * 25 * 24) + "0"
    html = await client.get(f"/v1/provisionings/{instance_id}/contract.html")
    assert html.headers["content-type"].startswith("text/html")
    assert "Transportes López S.L." in html.text
    assert provisioned["contract_number"] in html.text
    pdf = await client.get(f"/v1/provisionings/{instance_id}/contract.pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")

    key = {"Idempotency-Key": "gen-flow-key-1"}
    generated = await ok(await client.post(f"/v1/provisionings/{instance_id}/generate", headers=key), 201)
    assert generated["stage"] == "generated"
    assert generated["status"] == "active"
    activation = date.fromisoformat(generated["activation_date"])
    assert activation == datetime.now(UTC).date()
    assert generated["expiry_date"] == add_months(activation, 24).isoformat()
    replay = await ok(await client.post(f"/v1/provisionings/{instance_id}/generate", headers=key), 201)
    assert replay["id"] == instance_id
    assert replay["version"] == generated["version"], "a replay changes nothing"
    other_key = await client.post(f"/v1/provisionings/{instance_id}/generate", headers={"Idempotency-Key": "other-k1"})
    assert other_key.status_code == 409
    assert other_key.json()["current_state"] == "generated"
    cancel = await client.post(f"/v1/provisionings/{instance_id}/cancel")
    assert cancel.status_code == 409, "generating is irreversible"

    records = await events_of(kafka, instance_id, Counter({"instance.provisioned": 1}))
    assert counts(records) == Counter({"instance.provisioned": 1})
    event = decode_envelope(records[0].value)
    assert event.subject == instance_id
    assert event.source == "instances"
    assert event.data.company_id == company["id"]
    assert event.data.profile == "professional"
    assert event.data.contract_number == provisioned["contract_number"]
    assert event.data.configuration["terminal_quota"] == 25
    assert event.data.provisioned_by.user_id == f"usr-{PARTNER}"


async def test_two_concurrent_generates_with_one_key_make_one_instance(
    api: Callable[..., httpx2.AsyncClient],
    kafka: KafkaProbe,
    mongo: AsyncMongoClient[dict[str, Any]],
    database_name: str,
) -> None:
    client = api()
    company = await ok(await client.post("/v1/companies", json=company_body()), 201)
    draft = await ok(
        await client.post("/v1/provisionings", json={"company_id": company["id"], "type": "MCRM", "name": "Sales"}), 201
    )
    await ok(await client.post(f"/v1/provisionings/{draft['id']}/provision"))
    key = {"Idempotency-Key": "same-key-twice"}
    first, second = await asyncio.gather(
        client.post(f"/v1/provisionings/{draft['id']}/generate", headers=key),
        client.post(f"/v1/provisionings/{draft['id']}/generate", headers=key),
    )
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"] == draft["id"]
    assert await mongo[database_name]["instances"].count_documents({"stage": "generated"}) == 1
    records = await events_of(kafka, draft["id"], Counter({"instance.provisioned": 1}))
    assert counts(records) == Counter({"instance.provisioned": 1})


async def test_each_action_publishes_its_event_once_and_failures_publish_nothing(
    api: Callable[..., httpx2.AsyncClient], kafka: KafkaProbe
) -> None:
    client = api()
    instance = await new_instance(client, quota=3)
    iid = instance["id"]
    expiry = date.fromisoformat(instance["expiry_date"])

    # extend: an earlier date fails; a later one is effective at once
    assert (await client.post(f"/v1/instances/{iid}/extend", json={"new_expiry_date": str(expiry)})).status_code == 409
    extended = await ok(
        await client.post(f"/v1/instances/{iid}/extend", json={"new_expiry_date": str(expiry + timedelta(days=90))})
    )
    assert extended["expiry_date"] == str(expiry + timedelta(days=90))
    assert (await ok(await client.get(f"/v1/instances/{iid}")))["expiry_date"] == extended["expiry_date"]

    # edit: invalid configuration fails naming the field; a valid one publishes instance.updated
    bad = await client.patch(f"/v1/instances/{iid}", json={"configuration": {"terminal_quota": 0}})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "configuration.terminal_quota"
    await ok(
        await client.patch(
            f"/v1/instances/{iid}",
            json={"configuration": {"profile": "enterprise", "terminal_quota": 3, "gps_tracking": False}},
        )
    )

    # licenses: over quota or a repeated PIN adds none; then two, one revoked, one released
    people = [{"user_name": f"User {n}", "email": f"u{n}@example.com", "pin": f"{1000 + n}"} for n in range(4)]
    over = await client.post(f"/v1/instances/{iid}/licenses", json={"licenses": people})
    assert over.status_code == 409
    assert over.json()["type"].endswith("quota-exceeded")
    twice = await client.post(f"/v1/instances/{iid}/licenses", json={"licenses": [people[0], people[0]]})
    assert twice.status_code == 409
    added = await ok(
        await client.post(
            f"/v1/instances/{iid}/licenses",
            json={"licenses": [{**people[0], "serial": "SER-AAA-1"}, {**people[1], "serial": "SER-BBB-2"}]},
        ),
        201,
    )
    first, second = added["license_ids"]
    assert (await client.post(f"/v1/instances/{iid}/licenses/{first}/revoke", json={})).status_code == 422
    revoked = await ok(
        await client.post(f"/v1/instances/{iid}/licenses/{first}/revoke", json={"reason": "Left the company"})
    )
    assert revoked["status"] == "revoked"
    again = await client.post(f"/v1/instances/{iid}/licenses/{first}/revoke", json={"reason": "Again, twice"})
    assert again.status_code == 409
    assert again.json()["current_state"] == "revoked"
    released = await ok(await client.post(f"/v1/instances/{iid}/licenses/{second}/release", json={}))
    assert released["status"] == "released"
    assert released["serial"] is None
    assert (await client.post(f"/v1/instances/{iid}/licenses/{second}/release", json={})).status_code == 409
    listing = await ok(await client.get(f"/v1/instances/{iid}/licenses", params={"q": "user 1"}))
    assert [lic["id"] for lic in listing["items"]] == [second]

    # sessions: all terminals, then one
    await ok(await client.post(f"/v1/instances/{iid}/clear-session", json={}))
    await ok(await client.post(f"/v1/instances/{iid}/clear-session", json={"serial": "SER-BBB-2"}))

    # cancellation: a reason is mandatory; once requested it cannot be requested again
    assert (await client.post(f"/v1/instances/{iid}/cancellation-request", json={"reason": ""})).status_code == 422
    requested = await ok(
        await client.post(f"/v1/instances/{iid}/cancellation-request", json={"reason": "Closing the branch"})
    )
    assert requested["status"] == "cancellation_requested"
    repeated = await client.post(f"/v1/instances/{iid}/cancellation-request", json={"reason": "Closing it twice"})
    assert repeated.status_code == 409

    expected = Counter(
        {
            "instance.provisioned": 1,
            "instance.extended": 1,
            "instance.updated": 1,
            "license.added": 2,
            "license.revoked": 1,
            "license.released": 1,
            "session.cleared": 2,
            "instance.cancellation_requested": 1,
        }
    )
    records = await events_of(kafka, iid, expected)
    assert counts(records) == expected
    events = [decode_envelope(r.value) for r in records]
    assert len({e.id for e in events}) == len(events), "each published once"
    by_type = {e.type: e for e in events}
    assert by_type["instance.extended"].data.new_expiry_date == expiry + timedelta(days=90)
    assert by_type["license.revoked"].data.reason == "Left the company"
    assert by_type["license.revoked"].data.serial == "SER-AAA-1"
    assert by_type["license.released"].data.serial == "SER-BBB-2"
    assert by_type["instance.cancellation_requested"].data.reason == "Closing the branch"
    assert by_type["instance.updated"].data.changes["configuration"]["gps_tracking"] is False
    epochs = {(e.data.serial, e.data.session_epoch) for e in events if e.type == "session.cleared"}
    assert epochs == {(None, 1), ("SER-BBB-2", 2)}
    assert all(e.subject == iid for e in events)


async def test_another_partners_ids_answer_404_and_change_nothing(
    api: Callable[..., httpx2.AsyncClient], kafka: KafkaProbe
) -> None:
    owner, rival = api(PARTNER), api(RIVAL)
    instance = await new_instance(owner, quota=2)
    iid = instance["id"]
    added = await ok(
        await owner.post(
            f"/v1/instances/{iid}/licenses",
            json={"licenses": [{"user_name": "Ana", "email": "ana@example.com", "pin": "4321", "serial": "SER-X-1"}]},
        ),
        201,
    )
    (lic,) = added["license_ids"]
    company_id = instance["company_id"]

    attempts = [
        rival.get(f"/v1/companies/{company_id}"),
        rival.patch(f"/v1/companies/{company_id}", json={"name": "Hijacked"}),
        rival.get(f"/v1/instances/{iid}"),
        rival.get(f"/v1/provisionings/{iid}/contract.pdf"),
        rival.patch(f"/v1/instances/{iid}", json={"name": "Hijacked"}),
        rival.post(f"/v1/instances/{iid}/extend", json={"new_expiry_date": "2040-01-01"}),
        rival.post(f"/v1/instances/{iid}/cancellation-request", json={"reason": "Not mine"}),
        rival.post(f"/v1/instances/{iid}/clear-session", json={}),
        rival.post(f"/v1/instances/{iid}/ingest-key"),
        rival.get(f"/v1/instances/{iid}/licenses"),
        rival.get(f"/v1/instances/{iid}/licenses/{lic}"),
        rival.post(
            f"/v1/instances/{iid}/licenses",
            json={"licenses": [{"user_name": "X", "email": "x@example.com", "pin": "9999"}]},
        ),
        rival.post(f"/v1/instances/{iid}/licenses/{lic}/revoke", json={"reason": "Not mine"}),
        rival.post(f"/v1/instances/{iid}/licenses/{lic}/release", json={}),
        rival.post(f"/v1/instances/{iid}/licenses/{lic}/impersonate", json={"reason": "Not mine"}),
    ]
    for response in await asyncio.gather(*attempts):
        assert response.status_code == 404, (response.request.method, response.request.url, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert (await ok(await rival.get("/v1/instances")))["items"] == []

    after = await ok(await owner.get(f"/v1/instances/{iid}"))
    assert after["version"] == instance["version"] + 1, "only the owner's license add changed it"
    assert after["name"] == instance["name"]
    assert (await ok(await owner.get(f"/v1/companies/{company_id}")))["name"] == "Transportes López S.L."
    records = await events_of(kafka, iid, Counter({"instance.provisioned": 1, "license.added": 1}))
    assert counts(records) == Counter({"instance.provisioned": 1, "license.added": 1})


async def test_device_configuration_by_ingest_key_follows_cleared_sessions(
    api: Callable[..., httpx2.AsyncClient],
) -> None:
    client = api()
    instance = await new_instance(client)
    iid = instance["id"]
    key = (await ok(await client.post(f"/v1/instances/{iid}/ingest-key")))["ingest_key"]
    device = httpx2.AsyncClient(transport=client._transport, base_url="http://instances")  # no user token
    try:
        url = "/v1/device/configuration"
        view = await ok(await device.get(url, params={"serial": "SER-D-1"}, headers={"X-Ingest-Key": key}))
        assert view["instance_id"] == iid
        assert view["session_epoch"] == 0
        assert view["configuration"]["type"] == "WDS"
        await ok(await client.post(f"/v1/instances/{iid}/clear-session", json={"serial": "SER-D-1"}))
        view = await ok(await device.get(url, params={"serial": "SER-D-1"}, headers={"X-Ingest-Key": key}))
        assert view["session_epoch"] == 1
        other = await ok(await device.get(url, params={"serial": "SER-D-2"}, headers={"X-Ingest-Key": key}))
        assert other["session_epoch"] == 0
        forged = await device.get(url, params={"serial": "SER-D-1"}, headers={"X-Ingest-Key": key[:-3] + "abc"})
        assert forged.status_code == 401
        rotated = (await ok(await client.post(f"/v1/instances/{iid}/ingest-key")))["ingest_key"]
        assert (await device.get(url, params={"serial": "SER-D-1"}, headers={"X-Ingest-Key": key})).status_code == 401
        assert (
            await device.get(url, params={"serial": "SER-D-1"}, headers={"X-Ingest-Key": rotated})
        ).status_code == 200
    finally:
        await device.aclose()


async def test_impersonation_token_is_short_lived_scoped_audited_and_published(
    api: Callable[..., httpx2.AsyncClient],
    mongo: AsyncMongoClient[dict[str, Any]],
    database_name: str,
    kafka: KafkaProbe,
) -> None:
    client = api()
    instance = await new_instance(client)
    iid = instance["id"]
    (lic,) = (
        await ok(
            await client.post(
                f"/v1/instances/{iid}/licenses",
                json={"licenses": [{"user_name": "Marta", "email": "marta@example.com", "pin": "4821"}]},
            ),
            201,
        )
    )["license_ids"]
    assert (await client.post(f"/v1/instances/{iid}/licenses/{lic}/impersonate", json={})).status_code == 422
    grant = await ok(
        await client.post(f"/v1/instances/{iid}/licenses/{lic}/impersonate", json={"reason": "Customer asked for help"})
    )
    assert grant["panel_url"].endswith(f"#token={grant['token']}")
    public_key = serialization.load_pem_public_key(IMPERSONATION_PUBLIC.encode())
    claims = jwt.decode(grant["token"], public_key, algorithms=["EdDSA"], audience="partnerapp-panel")  # type: ignore[arg-type]
    assert claims["sub"] == lic
    assert claims["email"] == "marta@example.com"
    assert claims["act"] == {"sub": f"usr-{PARTNER}"}
    assert 0 < claims["exp"] - claims["iat"] <= 300

    audit = mongo[database_name]["audit"]

    async def audited() -> dict[str, Any] | None:
        return await audit.find_one({"action": "license.impersonate", "target_id": lic})

    entry = await eventually(audited)
    assert entry["actor_id"] == f"usr-{PARTNER}"
    assert entry["partner_id"] == PARTNER
    assert entry["detail"]["reason"] == "Customer asked for help"
    assert entry["detail"]["expires_at"].startswith(
        datetime.fromtimestamp(claims["exp"], UTC).strftime("%Y-%m-%dT%H:%M")
    )
    # The grant is published once, naming the token's jti (the 422 above published nothing).
    records = await events_of(kafka, iid, Counter({"instance.provisioned": 1, "license.impersonated": 1}))
    published = [e for r in records if (e := decode_envelope(r.value)).type == "license.impersonated"]
    assert len(published) == 1
    data = published[0].data
    assert (data.grant_id, data.license_id, data.pin, data.user) == (claims["jti"], lic, "4821", "marta@example.com")
    assert (data.serial, data.reason, data.impersonated_by.user_id) == (
        None,
        "Customer asked for help",
        f"usr-{PARTNER}",
    )
    assert int(data.expires_at.timestamp()) == claims["exp"]
    assert entry["detail"]["grant_id"] == claims["jti"]


async def test_instance_list_filters_sorts_and_pages(api: Callable[..., httpx2.AsyncClient]) -> None:
    client = api(f"ptn-list-{uuid.uuid4().hex[:6]}")
    made = [await new_instance(client, instance_type=t) for t in ("WDS", "MCRM", "WDS")]
    wds = await ok(await client.get("/v1/instances", params={"type": "WDS"}))
    assert {i["id"] for i in wds["items"]} == {made[0]["id"], made[2]["id"]}

    first = await ok(await client.get("/v1/instances", params={"limit": 2, "sort": "created_at"}))
    assert [i["id"] for i in first["items"]] == [made[0]["id"], made[1]["id"]]
    second = await ok(
        await client.get("/v1/instances", params={"limit": 2, "sort": "created_at", "cursor": first["next_cursor"]})
    )
    assert [i["id"] for i in second["items"]] == [made[2]["id"]]
    assert second["next_cursor"] is None

    expiring = await ok(await client.get("/v1/instances", params={"expiring_within_days": 400}))
    assert len(expiring["items"]) == 3
    assert (await ok(await client.get("/v1/instances", params={"expiring_within_days": 30})))["items"] == []
    assert (await ok(await client.get("/v1/instances", params={"q": ".*"})))["items"] == [], "text is literal"
    assert len((await ok(await client.get("/v1/instances", params={"q": "crew"})))["items"]) == 3

    for params in ({"limit": 0}, {"limit": 1000}, {"sort": "password"}, {"cursor": "not-a-cursor"}, {"status": "x"}):
        response = await client.get("/v1/instances", params=params)
        assert response.status_code == 422, params
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] in {"limit", "sort", "cursor", "status"}


async def test_companies_validate_search_refuse_a_second_tax_id_and_publish_their_events(
    api: Callable[..., httpx2.AsyncClient], kafka: KafkaProbe
) -> None:
    client = api(f"ptn-cmp-{uuid.uuid4().hex[:6]}")
    bad = await client.post("/v1/companies", json={**company_body(), "email": "not-an-email", "phone": "x"})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"email", "phone"}
    created = await ok(await client.post("/v1/companies", json=company_body("B11111111")), 201)
    dup = await client.post("/v1/companies", json=company_body("b11111111"))
    assert dup.status_code == 409
    assert dup.json()["field"] == "tax_id"
    renamed = await ok(await client.patch(f"/v1/companies/{created['id']}", json={"name": "López Logística"}))
    assert renamed["name"] == "López Logística"
    company_events = []
    for topic_name in ("company.created", "company.updated"):

        def mine(records: list[Any]) -> bool:
            return any(r.key == created["id"].encode() for r in records)

        company_events += [
            decode_envelope(r.value)
            for r in await kafka.read_all(topic_name, until=mine)
            if r.key == created["id"].encode()
        ]
    assert [(e.type, e.data.name, e.data.tax_id) for e in company_events] == [
        ("company.created", "Transportes López S.L.", "B11111111"),
        ("company.updated", "López Logística", "B11111111"),
    ]
    found = await ok(await client.get("/v1/companies", params={"q": "logíst"}))
    assert [c["id"] for c in found["items"]] == [created["id"]]
    assert json.loads(json.dumps(found))["next_cursor"] is None


async def test_a_second_tax_id_by_update_is_409_and_a_nul_anywhere_is_422_and_nothing_changes(
    api: Callable[..., httpx2.AsyncClient],
) -> None:
    """FerretDB on PostgreSQL: a unique index violated by an update, and a string holding U+0000,
    were internal errors (500); the service kit answers them as MongoDB's would be (409, 422)."""
    client = api(f"ptn-edge-{uuid.uuid4().hex[:6]}")
    first = await ok(await client.post("/v1/companies", json=company_body("B22222222")), 201)
    second = await ok(await client.post("/v1/companies", json=company_body("B33333333")), 201)

    taken = await client.patch(f"/v1/companies/{second['id']}", json={"tax_id": "B22222222"})
    assert taken.status_code == 409, taken.text
    assert taken.json()["field"] == "tax_id"

    refused = [
        await client.post("/v1/companies", json={**company_body(), "name": "Nul\x00 S.L."}),
        await client.patch(f"/v1/companies/{second['id']}", json={"contact_person": "Lu\x00cía"}),
        await client.get("/v1/companies", params={"q": "ab\x00"}),
        await client.get(f"/v1/companies/{first['id']}%00"),
    ]
    assert [r.status_code for r in refused] == [422, 422, 422, 422], [r.text for r in refused]
    assert [(e["field"], e["in"]) for r in refused for e in r.json()["errors"]] == [
        ("name", "body"),
        ("contact_person", "body"),
        ("q", "query"),
        ("company_id", "path"),
    ]
    listed = await ok(await client.get("/v1/companies"))
    assert sorted((c["id"], c["tax_id"], c["contact_person"]) for c in listed["items"]) == sorted(
        (c["id"], c["tax_id"], c["contact_person"]) for c in (first, second)
    )
