"""Tenancy and serials on the real path (ingest → Kafka → consumer → FerretDB → API): another
partner's events for the same serial change nothing of ours and show nothing of ours; a serial is
the same terminal in any letter case; terminal documents of the earlier shape are converted, and
records stored under a lower-case serial are moved where the search finds them."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI

from activity.adapters.mongo_repository import TERMINALS, MongoTerminalStore, collection_name, group_of
from activity.bootstrap import build_app
from activity.config import Settings
from activity.domain.model import day_of, record_id, shard_of
from activity.entrypoints import canonical_serials
from activity.service_layer.event_handlers import ActivityEventHandlers
from contracts import envelope_for
from contracts.events.common import Actor, Payload
from contracts.events.instances import IngestKeyRotated, SessionCleared
from contracts.events.licenses import LicenseAdded, LicenseReleased, LicenseRevoked
from servicekit.api import provided_on
from servicekit.settings import PlatformSettings
from servicekit.testing import KafkaProbe, eventually, started

pytestmark = pytest.mark.integration

PARTNER, OTHER_PARTNER = "ptn-acme", "ptn-rival"
WHO = Actor(user_id="usr-ana", role="partner")


@pytest.fixture
async def activity(platform: PlatformSettings, database_name: str) -> AsyncIterator[tuple[FastAPI, httpx2.AsyncClient]]:
    settings = Settings(
        mongo_database=database_name, consumer_group=f"activity-{uuid.uuid4().hex[:8]}", platform=platform
    )
    app = build_app(settings)
    async with started(app):
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://activity") as client:
            yield app, client


def recorder(app: FastAPI) -> ActivityEventHandlers:
    """The app's event handlers: their stores and what they counted."""
    handlers: ActivityEventHandlers = provided_on(app, ActivityEventHandlers)
    return handlers


async def issue_key(app: FastAPI, kafka: KafkaProbe, partner: str = PARTNER) -> tuple[str, str]:
    """An instance of the partner and its ingest key, known to the service through Kafka."""
    instance_id = f"ins-{uuid.uuid4().hex[:10]}"
    key = f"pik_{instance_id}.{uuid.uuid4().hex}{uuid.uuid4().hex}"
    rotated = IngestKeyRotated(
        instance_id=instance_id, partner_id=partner, key_sha256=hashlib.sha256(key.encode()).hexdigest(), rotated_by=WHO
    )
    await send(kafka, "instance.ingest_key_rotated", rotated)

    async def known() -> object:
        return await recorder(app).keys.get(instance_id)

    await eventually(known)
    return instance_id, key


def telemetry_event(serial: str, minutes_ago: float, **overrides: Any) -> dict[str, Any]:
    occurred = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    event = {"event_id": str(uuid.uuid4()), "serial": serial, "pin": "4821", "occurred_at": occurred.isoformat()}
    return {**event, "action": "clock_in", **overrides}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def search_until(client: httpx2.AsyncClient, token: str, count: int, **params: Any) -> list[dict[str, Any]]:
    async def found() -> list[dict[str, Any]] | None:
        response = await client.get("/v1/activity/records", params=params, headers=auth(token))
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items if len(items) >= count else None

    result: list[dict[str, Any]] = await eventually(found)
    return result


async def send(
    kafka: KafkaProbe, topic: str, payload: Payload, *, serial_as: str | None = None, time: datetime | None = None
) -> None:
    """`serial_as` writes the serial as an older producer may have (any letter case), bypassing the model."""
    body = json.loads(envelope_for(payload, source="instances", time=time or datetime.now(UTC)).to_json_bytes())
    if serial_as is not None:
        body["data"]["serial"] = serial_as
    await kafka.send(topic, json.dumps(body).encode(), key=body["data"]["instance_id"].encode())


def license_added(license_id: str, instance_id: str, partner_id: str, serial: str) -> LicenseAdded:
    return LicenseAdded(
        license_id=license_id, instance_id=instance_id, partner_id=partner_id, company_id="cmp-1",
        user_name="Ana", email="ana@example.com", pin="4821", serial=serial, added_by=WHO,
    )  # fmt: skip


async def get_json(client: httpx2.AsyncClient, url: str, token: str, **params: Any) -> Any:
    response = await client.get(url, params=params, headers=auth(token))
    assert response.status_code == 200, (url, response.text)
    return response.json()


async def test_another_partners_events_for_our_serial_change_and_show_nothing_of_ours(
    activity: tuple[FastAPI, httpx2.AsyncClient], kafka: KafkaProbe, token_for: Callable[..., str]
) -> None:
    app, client = activity
    ours, our_key = await issue_key(app, kafka)
    theirs, their_key = await issue_key(app, kafka, partner=OTHER_PARTNER)
    token, rival = token_for(PARTNER), token_for(OTHER_PARTNER)
    serial = f"SX{uuid.uuid4().hex[:8]}".upper()
    our_license, their_license = f"lic-{uuid.uuid4().hex[:8]}", f"lic-{uuid.uuid4().hex[:8]}"

    sent = await client.post(
        "/v1/ingest/events",
        json={"events": [telemetry_event(serial, 10, action="clock_in", battery_pct=77)]},
        headers={"X-Ingest-Key": our_key},
    )
    assert sent.status_code == 202, sent.text
    await send(kafka, "license.added", license_added(our_license, ours, PARTNER, serial))

    async def ours_bound() -> Any:
        found = await client.get(f"/v1/activity/terminals/{serial}", headers=auth(token))
        return found.json() if found.status_code == 200 and found.json()["license_id"] else None

    terminal_before = await eventually(ours_bound)
    records_before = await search_until(client, token, 2, serial=serial)
    listed_before = [
        t for t in (await get_json(client, "/v1/activity/terminals", token))["items"] if t["serial"] == serial
    ]

    # The other partner: newer telemetry for the same serial with its own key, its own license
    # bound, released, bound again and revoked, and every terminal of its instance cleared. Each
    # license event waits for the one before: they travel on different topics, in no set order.
    their_pin = f"9{uuid.uuid4().int % 10**8:08d}"
    newer = telemetry_event(serial, 1, action="tamper", battery_pct=5, pin=their_pin, location={"lat": 1.0, "lon": 1.0})
    sent = await client.post("/v1/ingest/events", json={"events": [newer]}, headers={"X-Ingest-Key": their_key})
    assert sent.status_code == 202, sent.text

    async def theirs_bound_to(license_id: str | None) -> Any:
        async def check() -> Any:
            found = await client.get(f"/v1/activity/terminals/{serial}", headers=auth(rival))
            return found.json() if found.status_code == 200 and found.json()["license_id"] == license_id else None

        return await eventually(check)

    await send(kafka, "license.added", license_added(their_license, theirs, OTHER_PARTNER, serial))
    await theirs_bound_to(their_license)
    released = LicenseReleased(
        license_id=their_license, instance_id=theirs, partner_id=OTHER_PARTNER, company_id="cmp-2", pin="4821",
        serial=serial, reason="Moved", released_by=WHO,
    )  # fmt: skip
    await send(kafka, "license.released", released)
    await theirs_bound_to(None)
    await send(kafka, "license.added", license_added(f"{their_license}b", theirs, OTHER_PARTNER, serial))
    await theirs_bound_to(f"{their_license}b")
    revoked = LicenseRevoked(
        license_id=f"{their_license}b", instance_id=theirs, partner_id=OTHER_PARTNER, company_id="cmp-2", pin="4821",
        serial=serial, reason="Left", revoked_by=WHO,
    )  # fmt: skip
    await send(kafka, "license.revoked", revoked)
    their_terminal = await theirs_bound_to(None)
    cleared = SessionCleared(instance_id=theirs, partner_id=OTHER_PARTNER, serial=None, session_epoch=2, cleared_by=WHO)
    await send(kafka, "session.cleared", cleared)

    # Theirs is their own terminal: their data only, and none of our ids.
    their_timeline = await search_until(client, rival, 6, serial=serial)
    assert {r["instance_id"] for r in their_timeline} == {theirs}
    assert sorted(r["action"] for r in their_timeline if r["kind"] == "license") == [
        "license.added", "license.added", "license.released", "license.revoked",
    ]  # fmt: skip
    assert our_license not in json.dumps(their_timeline)
    assert (their_terminal["instance_id"], their_terminal["last_action"]) == (theirs, "tamper")
    their_list = await get_json(client, "/v1/activity/terminals", rival)
    assert [t["instance_id"] for t in their_list["items"] if t["serial"] == serial] == [theirs]
    assert our_license not in json.dumps(their_list) and ours not in json.dumps(their_list)

    # Ours is as it was: state, license, list entry and timeline.
    assert await get_json(client, f"/v1/activity/terminals/{serial}", token) == terminal_before
    assert terminal_before["license_id"] == our_license
    assert (terminal_before["instance_id"], terminal_before["last_action"]) == (ours, "clock_in")
    listed = [t for t in (await get_json(client, "/v1/activity/terminals", token))["items"] if t["serial"] == serial]
    assert listed == listed_before == [terminal_before]
    assert (await get_json(client, "/v1/activity/records", token, serial=serial))["items"] == records_before
    assert (await get_json(client, "/v1/activity/records", token, pin=their_pin))["items"] == []
    for record in their_timeline:
        assert (await client.get(f"/v1/activity/records/{record['id']}", headers=auth(token))).status_code == 404


async def test_a_serial_is_one_terminal_in_any_letter_case(
    activity: tuple[FastAPI, httpx2.AsyncClient], kafka: KafkaProbe, token_for: Callable[..., str]
) -> None:
    app, client = activity
    instance_id, key = await issue_key(app, kafka)
    token = token_for(PARTNER)
    base = f"sc{uuid.uuid4().hex[:8]}ab"
    canonical = base.upper()
    events = [telemetry_event(base, 5, action="login"), telemetry_event("Sc" + base[2:], 3, action="clock_in")]
    sent = await client.post("/v1/ingest/events", json={"events": events}, headers={"X-Ingest-Key": key})
    assert sent.status_code == 202, sent.text
    # A license event from an older producer, with the serial in lower case.
    await send(kafka, "license.added", license_added("lic-case", instance_id, PARTNER, canonical), serial_as=base)
    one = SessionCleared(instance_id=instance_id, partner_id=PARTNER, serial=canonical, session_epoch=4, cleared_by=WHO)
    await send(kafka, "session.cleared", one, serial_as=base.title())

    for spelling in (base, canonical, base.title()):
        timeline = await search_until(client, token, 4, serial=spelling)
        assert {r["serial"] for r in timeline} == {canonical}, spelling
        assert sorted(r["action"] for r in timeline) == ["clock_in", "license.added", "login", "session.cleared"]
        only_license = await get_json(client, "/v1/activity/records", token, serial=spelling, kind="license")
        assert [r["action"] for r in only_license["items"]] == ["license.added"]

    async def bound() -> Any:
        found = await client.get(f"/v1/activity/terminals/{base}", headers=auth(token))
        return found.json() if found.status_code == 200 and found.json()["license_id"] else None

    terminal = await eventually(bound)
    assert (terminal["serial"], terminal["license_id"], terminal["last_action"]) == (canonical, "lic-case", "clock_in")
    assert await get_json(client, f"/v1/activity/terminals/{canonical}", token) == terminal
    listed = [t for t in (await get_json(client, "/v1/activity/terminals", token))["items"] if t["serial"] == canonical]
    assert listed == [terminal], "one terminal, not one per spelling"
    by_pin = await get_json(client, "/v1/activity/records", token, pin="4821")
    assert {r["serial"] for r in by_pin["items"] if r["instance_id"] == instance_id} == {canonical}


async def test_terminal_documents_of_the_earlier_shape_are_converted_to_their_partner(
    activity: tuple[FastAPI, httpx2.AsyncClient], mongo: Any, database_name: str, token_for: Callable[..., str]
) -> None:
    """The earlier shape kept `t.<serial>` and `l.<serial>` for every partner in one place."""
    app, client = activity
    store = mongo[database_name][TERMINALS]
    serial, lower = f"SO{uuid.uuid4().hex[:8]}".upper(), f"so{uuid.uuid4().hex[:8]}"
    seen = datetime.now(UTC) - timedelta(minutes=5)

    def state(partner_id: str, instance_id: str) -> dict[str, Any]:
        return {
            "partner_id": partner_id, "instance_id": instance_id, "pin": "1111", "last_seen": seen,
            "last_action": "login", "maker": None, "model": None, "os": None, "os_version": None,
            "app_version": None, "battery_pct": 50, "location": None,
        }  # fmt: skip

    terminals = recorder(app).terminals
    assert isinstance(terminals, MongoTerminalStore)
    old = {serial: {f"t.{serial}": state(PARTNER, "ins-old"), f"l.{serial}": "lic-old"}}
    old[lower] = {f"t.{lower}": state(OTHER_PARTNER, "ins-rival")}
    for key, fields in old.items():
        # Under the store's lock: its consumer may be writing the same document (on FerretDB
        # concurrent updates of one document can lose one another).
        async with terminals._locks.lock(TERMINALS, group_of(key)):
            await store.update_one({"_id": group_of(key)}, {"$set": fields}, upsert=True)
    terminals._upgraded.clear()  # as a process starting on the old documents would

    ours = await get_json(client, f"/v1/activity/terminals/{serial.lower()}", token_for(PARTNER))
    assert (ours["serial"], ours["instance_id"], ours["license_id"]) == (serial, "ins-old", "lic-old")
    theirs = await get_json(client, f"/v1/activity/terminals/{lower}", token_for(OTHER_PARTNER))
    assert (theirs["serial"], theirs["license_id"]) == (lower.upper(), None)
    assert (await client.get(f"/v1/activity/terminals/{lower}", headers=auth(token_for(PARTNER)))).status_code == 404
    assert [d async for d in store.find({"$or": [{"t": {"$exists": True}}, {"l": {"$exists": True}}]})] == []


async def test_records_stored_with_a_lower_case_serial_are_moved_where_the_search_finds_them(
    activity: tuple[FastAPI, httpx2.AsyncClient],
    mongo: Any,
    database_name: str,
    platform: PlatformSettings,
    token_for: Callable[..., str],
) -> None:
    _, client = activity
    db, token = mongo[database_name], token_for(PARTNER)
    lower = next(s for s in (f"sl{uuid.uuid4().hex[:8]}" for _ in range(100)) if shard_of(s) != shard_of(s.upper()))
    pin = f"7{uuid.uuid4().int % 10**8:08d}"
    occurred = datetime.now(UTC) - timedelta(minutes=10)
    old_bucket = collection_name(day_of(occurred), shard_of(lower))
    event_id = str(uuid.uuid4())
    await db[old_bucket].insert_one(
        {
            "_id": event_id,
            "serial": lower,
            "instance_id": "ins-old",
            "partner_id": PARTNER,
            "action": "login",
            "kind": "telemetry",
            "occurred_at": occurred,
            "received_at": occurred,
            "pin": pin,
            "device": None,
            "battery_pct": None,
            "location": None,
            "details": {},
        }
    )
    await db["pins"].insert_one({"_id": f"{PARTNER}~{pin}", "partner_id": PARTNER, "pin": pin, "serials": [lower]})
    assert (await get_json(client, "/v1/activity/records", token, serial=lower))["items"] == [], "before: not found"

    settings = Settings(mongo_database=database_name, platform=platform)
    assert await canonical_serials.run(settings) == (1, 1)
    for params in ({"serial": lower}, {"serial": lower.upper()}, {"pin": pin}):
        [found] = (await get_json(client, "/v1/activity/records", token, **params))["items"]
        assert (found["event_id"], found["serial"]) == (event_id, lower.upper()), params
        assert found["id"] == record_id(day_of(occurred), shard_of(lower.upper()), event_id)
    assert await db[old_bucket].count_documents({"_id": event_id}) == 0
    assert await canonical_serials.run(settings) == (0, 0), "run again: nothing left to move"


async def test_license_events_arriving_in_any_order_leave_the_newest_binding(
    activity: tuple[FastAPI, httpx2.AsyncClient], kafka: KafkaProbe, token_for: Callable[..., str]
) -> None:
    """Bound to L1, released, then bound to L2 — delivered newest first (three topics, no set order)."""
    app, client = activity
    instance_id, key = await issue_key(app, kafka)
    token = token_for(PARTNER)
    serial = f"SQ{uuid.uuid4().hex[:8]}".upper()
    sent = await client.post(
        "/v1/ingest/events", json={"events": [telemetry_event(serial, 1)]}, headers={"X-Ingest-Key": key}
    )
    assert sent.status_code == 202, sent.text
    first, second = f"lic-{uuid.uuid4().hex[:8]}", f"lic-{uuid.uuid4().hex[:8]}"
    start = datetime.now(UTC) - timedelta(minutes=30)
    released = LicenseReleased(
        license_id=first, instance_id=instance_id, partner_id=PARTNER, company_id="cmp-1", pin="4821",
        serial=serial, released_by=WHO,
    )  # fmt: skip
    arrivals = [
        ("license.added", license_added(second, instance_id, PARTNER, serial), start + timedelta(minutes=2)),
        ("license.released", released, start + timedelta(minutes=1)),
        ("license.added", license_added(first, instance_id, PARTNER, serial), start),
    ]
    for count, (topic, payload, at) in enumerate(arrivals, start=1):
        await send(kafka, topic, payload, time=at)
        await search_until(client, token, count, serial=serial, kind="license", **{"from": start.isoformat()})

    terminal = await get_json(client, f"/v1/activity/terminals/{serial}", token)
    assert terminal["license_id"] == second


async def test_the_same_terminal_event_id_from_other_partners_and_instances_is_stored_for_each(
    activity: tuple[FastAPI, httpx2.AsyncClient], kafka: KafkaProbe, token_for: Callable[..., str]
) -> None:
    """Terminals make their own event ids: the same id, serial and time from another partner or
    another instance is another event (acknowledged, so kept), while a retry is stored once."""
    app, client = activity
    first, first_key = await issue_key(app, kafka)
    second, second_key = await issue_key(app, kafka)
    theirs, their_key = await issue_key(app, kafka, partner=OTHER_PARTNER)
    token, rival = token_for(PARTNER), token_for(OTHER_PARTNER)
    serial = f"SE{uuid.uuid4().hex[:8]}".upper()
    event = telemetry_event(serial, 5)

    async def post(key: str) -> None:
        sent = await client.post("/v1/ingest/events", json={"events": [event]}, headers={"X-Ingest-Key": key})
        assert sent.status_code == 202, sent.text

    await post(first_key)
    await search_until(client, token, 1, serial=serial)  # stored before the others arrive
    await post(their_key)
    await post(second_key)
    ours = await search_until(client, token, 2, serial=serial)
    their_records = await search_until(client, rival, 1, serial=serial)

    assert sorted(r["instance_id"] for r in ours) == sorted([first, second])
    assert [r["instance_id"] for r in their_records] == [theirs]
    assert {r["event_id"] for r in ours + their_records} == {event["event_id"]}, "the terminal's id is shown"
    assert len({r["id"] for r in ours + their_records}) == 3
    for record in ours:
        assert (await get_json(client, f"/v1/activity/records/{record['id']}", token)) == record
        assert (await client.get(f"/v1/activity/records/{record['id']}", headers=auth(rival))).status_code == 404
    [their_record] = their_records
    assert (await get_json(client, f"/v1/activity/records/{their_record['id']}", rival)) == their_record
    assert (await client.get(f"/v1/activity/records/{their_record['id']}", headers=auth(token))).status_code == 404

    # The first instance's terminal retries the batch: the same event, stored once.
    duplicates = recorder(app).stats.duplicates
    await post(first_key)

    async def retried() -> bool:
        return bool(recorder(app).stats.duplicates > duplicates)

    await eventually(retried)
    again = await get_json(client, "/v1/activity/records", token, serial=serial)
    assert sorted(r["id"] for r in again["items"]) == sorted(r["id"] for r in ours)
    assert [r for r in again["items"] if r["instance_id"] == first] == [r for r in ours if r["instance_id"] == first]
    assert (await get_json(client, "/v1/activity/records", rival, serial=serial))["items"] == their_records
