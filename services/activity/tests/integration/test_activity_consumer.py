"""The activity consumer against the real Kafka and FerretDB, read back through the HTTP API."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from activity.bootstrap import build_app
from activity.config import Settings
from contracts import envelope_for
from contracts.events.activity import TerminalActivity
from servicekit.settings import PlatformSettings
from servicekit.testing import KafkaProbe, eventually

pytestmark = pytest.mark.integration

PARTNER, OTHER_PARTNER = "ptn-acme", "ptn-rival"


def telemetry(serial: str = "R58N123ABC", **overrides: Any) -> TerminalActivity:
    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        "serial": serial,
        "pin": "4821",
        "instance_id": "ins-7f3a",
        "partner_id": PARTNER,
        "action": "clock_in",
        "occurred_at": now,
        "received_at": now,
        "battery_pct": 77,
        "details": {"method": "nfc"},
    }
    return TerminalActivity(**{**fields, **overrides})


@pytest.fixture
async def activity(platform: PlatformSettings, database_name: str) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    settings = Settings(
        mongo_database=database_name,
        consumer_group=f"activity-{uuid.uuid4().hex[:8]}",
        platform=platform,
    )
    app = build_app(settings)
    async with LifespanManager(app, startup_timeout=60):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://activity") as client:
            yield app, client


async def test_consumed_event_is_stored_in_ferretdb_and_read_back_over_http(
    activity: tuple[FastAPI, httpx.AsyncClient],
    kafka: KafkaProbe,
    token_for: Callable[..., str],
    mongo: Any,
    database_name: str,
) -> None:
    _app, client = activity
    event = envelope_for(telemetry(), source="activity")
    await kafka.send("terminal.activity", event.to_json_bytes(), key=event.subject.encode())

    headers = {"Authorization": f"Bearer {token_for(PARTNER)}"}

    async def fetched() -> httpx.Response | None:
        response = await client.get(f"/v1/activity/records/{event.id}", headers=headers)
        return response if response.status_code == 200 else None

    response = await eventually(fetched)
    body = response.json()
    assert body["event_id"] == str(event.id)
    assert body["serial"] == "R58N123ABC"
    assert body["action"] == "clock_in"
    assert body["battery_pct"] == 77
    # MongoDB keeps milliseconds.
    assert abs(datetime.fromisoformat(body["occurred_at"]) - event.data.occurred_at) < timedelta(milliseconds=1)

    stored = await mongo[database_name]["activity_events"].find_one({"_id": str(event.id)})
    assert stored is not None
    assert stored["partner_id"] == PARTNER

    # Another partner's token sees nothing, and says so the same way as for a missing id.
    other = await client.get(
        f"/v1/activity/records/{event.id}", headers={"Authorization": f"Bearer {token_for(OTHER_PARTNER)}"}
    )
    assert other.status_code == 404
    assert other.headers["content-type"] == "application/problem+json"
    unauthenticated = await client.get(f"/v1/activity/records/{event.id}")
    assert unauthenticated.status_code == 401


async def test_duplicate_is_stored_once_and_poison_is_dead_lettered_while_the_next_is_processed(
    activity: tuple[FastAPI, httpx.AsyncClient],
    kafka: KafkaProbe,
    token_for: Callable[..., str],
    mongo: Any,
    database_name: str,
) -> None:
    app, client = activity
    first = envelope_for(telemetry(serial="SER-DUP-1"), source="activity")
    after = envelope_for(telemetry(serial="SER-DUP-1", action="clock_out"), source="activity")
    poison = b'{"this is": "not an envelope'  # broken JSON
    marker = uuid.uuid4().hex
    invalid = json.loads(envelope_for(telemetry(serial="SER-DUP-1"), source="activity").to_json_bytes())
    invalid["data"]["battery_pct"] = 250  # valid JSON, invalid payload
    invalid["data"]["details"] = {"marker": marker}

    key = b"SER-DUP-1"  # one key: one partition, so the poison sits between the others
    await kafka.send("terminal.activity", first.to_json_bytes(), key=key)
    await kafka.send("terminal.activity", first.to_json_bytes(), key=key)
    await kafka.send("terminal.activity", poison + marker.encode(), key=key)
    await kafka.send("terminal.activity", json.dumps(invalid).encode(), key=key)
    await kafka.send("terminal.activity", after.to_json_bytes(), key=key)

    headers = {"Authorization": f"Bearer {token_for(PARTNER)}"}

    async def after_visible() -> bool:
        return (await client.get(f"/v1/activity/records/{after.id}", headers=headers)).status_code == 200

    await eventually(after_visible)

    events = mongo[database_name]["activity_events"]
    assert await events.count_documents({"_id": str(first.id)}) == 1
    assert await events.count_documents({"serial": "SER-DUP-1"}) == 2
    stats = app.state.runtime.consumer.stats
    assert stats.duplicates >= 1

    def both_dead_lettered(records: list[Any]) -> bool:
        return sum(marker.encode() in r.value for r in records) >= 2

    dead = [r for r in await kafka.read_all("deadletter", until=both_dead_lettered) if marker.encode() in r.value]
    assert len(dead) == 2
    reasons = sorted(dict(r.headers)["dlq-error"].decode() for r in dead)
    assert reasons[0].startswith("MalformedEvent: invalid terminal.activity payload: battery_pct")
    assert reasons[1].startswith("MalformedEvent: not an event envelope")
    for record in dead:
        headers_of = dict(record.headers)
        assert headers_of["dlq-original-topic"].decode() == kafka.prefix + "terminal.activity"
        assert record.key == key
