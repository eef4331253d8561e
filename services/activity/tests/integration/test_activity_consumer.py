"""The activity service through the whole real path: ingest endpoint → Kafka → consumer →
FerretDB → search API; duplicates stored once, poison dead-lettered, bad keys refused."""

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

from activity.adapters.mongo_repository import collection_name
from activity.bootstrap import build_app
from activity.config import Settings
from activity.domain.model import day_of, shard_of
from activity.service_layer.event_handlers import ActivityEventHandlers
from contracts import envelope_for
from contracts.events.activity import TerminalActivity, telemetry_event_id
from contracts.events.common import Actor
from contracts.events.instances import IngestKeyRotated, SessionCleared
from contracts.events.licenses import LicenseRevoked
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
    """An instance and its ingest key, known to the service through instance.ingest_key_rotated."""
    instance_id = f"ins-{uuid.uuid4().hex[:10]}"
    key = f"pik_{instance_id}.{uuid.uuid4().hex}{uuid.uuid4().hex}"
    event = envelope_for(
        IngestKeyRotated(
            instance_id=instance_id,
            partner_id=partner,
            key_sha256=hashlib.sha256(key.encode()).hexdigest(),
            rotated_by=WHO,
        ),
        source="instances",
    )
    await kafka.send("instance.ingest_key_rotated", event.to_json_bytes(), key=instance_id.encode())

    async def known() -> object:
        return await recorder(app).keys.get(instance_id)

    await eventually(known)
    return instance_id, key


def telemetry_event(serial: str, minutes_ago: float, **overrides: Any) -> dict[str, Any]:
    occurred = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    event: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "serial": serial,
        "pin": "4821",
        "action": "clock_in",
        "occurred_at": occurred.isoformat(),
        "battery_pct": 80,
        "device": {"maker": "Samsung", "model": "SM-A546B", "os": "Android", "os_version": "14", "app_version": "5.12"},
        "location": {"lat": 40.4, "lon": -3.7},
    }
    return {**event, **overrides}


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


async def test_ingest_to_search_through_kafka_and_ferretdb(
    activity: tuple[FastAPI, httpx2.AsyncClient],
    kafka: KafkaProbe,
    token_for: Callable[..., str],
    mongo: Any,
    database_name: str,
) -> None:
    app, client = activity
    instance_id, key = await issue_key(app, kafka)
    # Upper case, the serials' canonical form, in which every record and terminal carries them.
    serial_a, serial_b = f"SA{uuid.uuid4().hex[:8]}".upper(), f"SB{uuid.uuid4().hex[:8]}".upper()
    events = [
        telemetry_event(serial_a, 50, action="login"),
        telemetry_event(serial_a, 40, action="clock_in", battery_pct=70),
        telemetry_event(serial_a, 30, action="gps_fix", battery_pct=60),
        telemetry_event(serial_b, 20, action="clock_in", pin="4821"),
        telemetry_event(serial_b, 10, action="clock_out", pin="9999"),
    ]
    response = await client.post("/v1/ingest/events", json={"events": events}, headers={"X-Ingest-Key": key})
    assert response.status_code == 202, response.text
    assert response.json() == {"accepted": 5}
    again = await client.post("/v1/ingest/events", json={"events": events[:2]}, headers={"X-Ingest-Key": key})
    assert again.status_code == 202, "a retried batch is accepted; it is stored once"

    token = token_for(PARTNER)
    items = await search_until(client, token, 3, serial=serial_a)
    assert [i["action"] for i in items] == ["gps_fix", "clock_in", "login"], "newest first"
    assert {i["instance_id"] for i in items} == {instance_id}, "the instance comes from the key"
    by_pin = await search_until(client, token, 4, pin="4821")
    assert {(i["serial"], i["action"]) for i in by_pin} == {
        (serial_a, "login"), (serial_a, "clock_in"), (serial_a, "gps_fix"), (serial_b, "clock_in"),
    }  # fmt: skip
    only = (
        await client.get("/v1/activity/records", params={"serial": serial_a, "action": "clock_in"}, headers=auth(token))
    ).json()
    assert [i["action"] for i in only["items"]] == ["clock_in"]
    page = (
        await client.get("/v1/activity/records", params={"serial": serial_a, "limit": 2}, headers=auth(token))
    ).json()
    rest = (
        await client.get(
            "/v1/activity/records",
            params={"serial": serial_a, "limit": 2, "cursor": page["next_cursor"]},
            headers=auth(token),
        )
    ).json()
    assert [i["action"] for i in page["items"] + rest["items"]] == ["gps_fix", "clock_in", "login"]
    assert rest["next_cursor"] is None

    detail = (await client.get(f"/v1/activity/records/{items[0]['id']}", headers=auth(token))).json()
    assert detail["event_id"] == items[0]["event_id"]
    assert detail["device"]["model"] == "SM-A546B"
    terminal = (await client.get(f"/v1/activity/terminals/{serial_a}", headers=auth(token))).json()
    assert terminal["last_action"] == "gps_fix"
    assert terminal["battery_pct"] == 60
    assert terminal["maker"] == "Samsung"
    latest = (await client.get("/v1/activity/terminals", headers=auth(token))).json()["items"]
    assert [t["serial"] for t in latest][:2] == [serial_b, serial_a]

    await search_until(client, token, 2, serial=serial_b)
    stored = 0
    for event in events:
        occurred = datetime.fromisoformat(event["occurred_at"])
        name = collection_name(day_of(occurred), shard_of(event["serial"]))
        stored += await mongo[database_name][name].count_documents(
            {"_id": str(telemetry_event_id(instance_id, event["event_id"]))}
        )
    assert stored == 5, "each event stored exactly once"

    async def duplicates_seen() -> bool:
        return bool(recorder(app).stats.duplicates >= 2)

    await eventually(duplicates_seen)

    rival = token_for(OTHER_PARTNER)
    assert (await client.get(f"/v1/activity/records/{items[0]['id']}", headers=auth(rival))).status_code == 404
    assert (await client.get("/v1/activity/records", params={"serial": serial_a}, headers=auth(rival))).json()[
        "items"
    ] == []
    assert (await client.get(f"/v1/activity/terminals/{serial_a}", headers=auth(rival))).status_code == 404


async def test_bad_batches_are_refused_whole_and_bad_keys_are_refused(
    activity: tuple[FastAPI, httpx2.AsyncClient], kafka: KafkaProbe, token_for: Callable[..., str]
) -> None:
    app, client = activity
    instance_id, key = await issue_key(app, kafka)
    serial = f"SX{uuid.uuid4().hex[:8]}".upper()
    good = telemetry_event(serial, 5)
    cases = [
        ([good, telemetry_event(serial, 4, battery_pct=250)], "events.1.battery_pct"),
        ([good, telemetry_event(serial, -60)], "events.1.occurred_at"),
        ([good, {**telemetry_event(serial, 3), "occurred_at": "2026-11-29T10:00:00"}], "events.1.occurred_at"),
        ([{**good, "instance_id": "ins-someone-else"}], "events.0.instance_id"),
        # U+0000, which the store cannot keep (FerretDB on PostgreSQL answered 500): anywhere, 422
        (
            [good, {**telemetry_event(serial, 3), "device": {**good["device"], "model": "SM\x00A546B"}}],
            "events.1.device.model",
        ),
        ([{**telemetry_event(serial, 3), "details": {"note": "a\x00b"}}], "events.0.details.note"),
        ([{**telemetry_event(serial, 3), "details": {"no\x00te": "ab"}}], "events.0.details.no\x00te"),
    ]
    for batch, field in cases:
        response = await client.post("/v1/ingest/events", json={"events": batch}, headers={"X-Ingest-Key": key})
        assert response.status_code == 422, (field, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert field in {e["field"] for e in response.json()["errors"]}, response.json()
    for bad_key in (
        "nonsense-key",
        f"pik_{instance_id}.wrong-secret",
        key[:-1] + "x",
        f"pik_ins-unknown.{uuid.uuid4().hex}",
    ):
        response = await client.post("/v1/ingest/events", json={"events": [good]}, headers={"X-Ingest-Key": bad_key})
        assert response.status_code == 401, bad_key
    other_instance, other_key = await issue_key(app, kafka, partner=OTHER_PARTNER)
    response = await client.post(
        "/v1/ingest/events", json={"events": [telemetry_event(serial, 2)]}, headers={"X-Ingest-Key": other_key}
    )
    assert response.status_code == 202
    # Written with the other instance's key, the event belongs to that instance and its partner only.
    theirs = await search_until(client, token_for(OTHER_PARTNER), 1, serial=serial)
    assert {i["instance_id"] for i in theirs} == {other_instance}
    ours = await client.get("/v1/activity/records", params={"serial": serial}, headers=auth(token_for(PARTNER)))
    assert ours.json()["items"] == [], "nothing of the refused batches was stored"

    token = token_for(PARTNER)
    for params in (
        {"serial": serial, "from": "2026-11-02T10:00:00Z", "to": "2026-11-01T10:00:00Z"},
        {"serial": serial, "from": "2026-11-01T10:00:00"},
        {"serial": serial, "from": "2026-09-01T00:00:00Z", "to": "2026-11-01T00:00:00Z"},
        {"pin": "1", "serial": serial},
        {},
        {"serial": serial, "limit": 0},
        {"serial": serial, "cursor": "x"},
    ):
        response = await client.get("/v1/activity/records", params=params, headers=auth(token))
        assert response.status_code == 422, (params, response.text)
    nul = await client.get("/v1/activity/records", params={"serial": serial, "pin": "48\x0021"}, headers=auth(token))
    assert (nul.status_code, [e["field"] for e in nul.json()["errors"]]) == (422, ["pin"])


async def test_kafka_duplicates_stored_once_and_poison_dead_lettered_while_the_next_goes_through(
    activity: tuple[FastAPI, httpx2.AsyncClient], kafka: KafkaProbe, token_for: Callable[..., str]
) -> None:
    app, client = activity
    serial = f"SK{uuid.uuid4().hex[:8]}".upper()
    now = datetime.now(UTC)

    def envelope(action: str) -> Any:
        data = TerminalActivity(
            serial=serial, pin="1234", instance_id="ins-kafka", partner_id=PARTNER, action=action,
            occurred_at=now, received_at=now,
        )  # fmt: skip
        return envelope_for(data, source="activity")

    first, after = envelope("clock_in"), envelope("clock_out")
    marker = uuid.uuid4().hex
    invalid = json.loads(envelope("x").to_json_bytes())
    invalid["data"]["battery_pct"] = 250
    invalid["data"]["details"] = {"marker": marker}
    key = serial.encode()  # one key, one partition: the poison sits between the others
    await kafka.send("terminal.activity", first.to_json_bytes(), key=key)
    await kafka.send("terminal.activity", first.to_json_bytes(), key=key)
    await kafka.send("terminal.activity", b'{"broken json ' + marker.encode(), key=key)
    await kafka.send("terminal.activity", json.dumps(invalid).encode(), key=key)
    await kafka.send("terminal.activity", after.to_json_bytes(), key=key)

    items = await search_until(client, token_for(PARTNER), 2, serial=serial)
    assert sorted(i["action"] for i in items) == ["clock_in", "clock_out"]
    assert recorder(app).stats.duplicates >= 1

    def both_dead(records: list[Any]) -> bool:
        return sum(marker.encode() in r.value for r in records) >= 2

    dead = [r for r in await kafka.read_all("deadletter", until=both_dead) if marker.encode() in r.value]
    reasons = sorted(dict(r.headers)["dlq-error"].decode() for r in dead)
    assert len(reasons) == 2
    assert reasons[0].startswith("MalformedEvent: invalid terminal.activity payload: battery_pct")
    assert reasons[1].startswith("MalformedEvent: not an event envelope")


async def test_a_terminals_timeline_shows_license_and_session_events(
    activity: tuple[FastAPI, httpx2.AsyncClient], kafka: KafkaProbe, token_for: Callable[..., str]
) -> None:
    app, client = activity
    instance_id, key = await issue_key(app, kafka)
    serial = f"ST{uuid.uuid4().hex[:8]}".upper()
    await client.post("/v1/ingest/events", json={"events": [telemetry_event(serial, 1)]}, headers={"X-Ingest-Key": key})
    token = token_for(PARTNER)
    await search_until(client, token, 1, serial=serial)

    revoked = envelope_for(
        LicenseRevoked(
            license_id="lic-1", instance_id=instance_id, partner_id=PARTNER, company_id="cmp-1", pin="4821",
            serial=serial, reason="Left", revoked_by=WHO,
        ),
        source="instances",
    )  # fmt: skip
    cleared = envelope_for(
        SessionCleared(instance_id=instance_id, partner_id=PARTNER, serial=None, session_epoch=3, cleared_by=WHO),
        source="instances",
    )
    await kafka.send("license.revoked", revoked.to_json_bytes(), key=instance_id.encode())
    await kafka.send("session.cleared", cleared.to_json_bytes(), key=instance_id.encode())
    await kafka.send("session.cleared", cleared.to_json_bytes(), key=instance_id.encode())  # delivered twice

    timeline = await search_until(client, token, 3, serial=serial)
    kinds = sorted((i["kind"], i["action"]) for i in timeline)
    assert kinds == [("license", "license.revoked"), ("session", "session.cleared"), ("telemetry", "clock_in")]
    session = next(i for i in timeline if i["kind"] == "session")
    assert session["details"] == {"session_epoch": 3, "scope": "instance"}
    only_license = (
        await client.get("/v1/activity/records", params={"serial": serial, "kind": "license"}, headers=auth(token))
    ).json()["items"]
    assert [i["details"]["reason"] for i in only_license] == ["Left"]
