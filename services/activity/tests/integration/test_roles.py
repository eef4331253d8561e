"""The two roles of the activity service on the real Kafka and FerretDB: the ingest role alone
accepts and publishes (nothing consumed), the consumer role alone stores what is on the topic, and
the two processes together carry a request from the ingest endpoint to the search."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx2
import pytest
from fastapi import FastAPI

from activity.adapters.mongo_repository import collection_name
from activity.bootstrap import build_app
from activity.config import Settings
from activity.domain.model import day_of, shard_of
from activity.service_layer.event_handlers import ActivityEventHandlers
from activity.service_layer.ports import IngestKey
from contracts import CONTENT_TYPE, decode_envelope, envelope_for
from contracts.events.activity import TerminalActivity, telemetry_event_id
from servicekit.api import provided_on
from servicekit.publishing import partition_of
from servicekit.settings import PlatformSettings
from servicekit.testing import KafkaProbe, eventually, started

pytestmark = pytest.mark.integration

PARTNER = "ptn-acme"
Role = Literal["ingest", "consumer", "all"]


@asynccontextmanager
async def running(
    role: Role, platform: PlatformSettings, database_name: str, group: str
) -> AsyncIterator[tuple[FastAPI, httpx2.AsyncClient]]:
    settings = Settings(mongo_database=database_name, consumer_group=group, platform=platform, role=role)
    app = build_app(settings)
    async with started(app):
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://activity") as client:
            yield app, client


async def known_key(app: FastAPI) -> tuple[str, str]:
    """An ingest key written straight to the store (as the consumer role would from
    instance.ingest_key_rotated)."""
    instance_id = f"ins-{uuid.uuid4().hex[:10]}"
    key = f"pik_{instance_id}.{uuid.uuid4().hex}{uuid.uuid4().hex}"
    handlers: ActivityEventHandlers = provided_on(app, ActivityEventHandlers)
    await handlers.keys.put(IngestKey(instance_id, PARTNER, hashlib.sha256(key.encode()).hexdigest()))
    return instance_id, key


def telemetry_event(serial: str, minutes_ago: float) -> dict[str, Any]:
    occurred = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return {"event_id": str(uuid.uuid4()), "serial": serial, "action": "clock_in", "occurred_at": occurred.isoformat()}


async def stored_count(mongo: Any, database_name: str, instance_id: str, events: list[dict[str, Any]]) -> int:
    count = 0
    for event in events:
        name = collection_name(day_of(datetime.fromisoformat(event["occurred_at"])), shard_of(event["serial"]))
        count += await mongo[database_name][name].count_documents(
            {"_id": str(telemetry_event_id(instance_id, event["event_id"]))}
        )
    return count


def group() -> str:
    return f"activity-{uuid.uuid4().hex[:8]}"


async def test_the_ingest_role_alone_accepts_and_publishes_and_consumes_nothing(
    platform: PlatformSettings, database_name: str, kafka: KafkaProbe
) -> None:
    serial = f"SI{uuid.uuid4().hex[:8]}".upper()
    events = [telemetry_event(serial, minutes) for minutes in (3, 2, 1)]
    async with running("ingest", platform, database_name, group()) as (app, client):
        instance_id, key = await known_key(app)
        response = await client.post("/v1/ingest/events", json={"events": events}, headers={"X-Ingest-Key": key})
        assert (response.status_code, response.json()) == (202, {"accepted": 3})
        ready = (await client.get("/readyz")).json()
        assert "consumer" not in ready["checks"], "the ingest role joins no consumer group"

    def ours(records: list[Any]) -> list[Any]:
        return [r for r in records if r.key == serial.encode()]

    records = ours(await kafka.read_all("terminal.activity", until=lambda got: len(ours(got)) >= 3))
    assert len(records) == 3
    assert {r.partition for r in records} == {partition_of("terminal.activity", serial.encode())}
    assert [r.offset for r in records] == sorted(r.offset for r in records)
    published = [decode_envelope(r.value, expected_type="terminal.activity") for r in records]
    assert [e.data.terminal_event_id for e in published] == [uuid.UUID(e["event_id"]) for e in events], "in order"
    assert {e.data.instance_id for e in published} == {instance_id}
    for record in records:
        headers = dict(record.headers)
        assert headers["content-type"] == CONTENT_TYPE.encode()
        assert not [name for name in headers if name.startswith("ce_")], "structured mode only"
        assert "traceparent" in headers, "the trace context goes along"


async def test_the_consumer_role_alone_stores_what_is_on_the_topic_and_serves_no_api(
    platform: PlatformSettings, database_name: str, kafka: KafkaProbe, mongo: Any
) -> None:
    serial = f"SC{uuid.uuid4().hex[:8]}".upper()
    instance_id = f"ins-{uuid.uuid4().hex[:10]}"
    events = [telemetry_event(serial, minutes) for minutes in (2, 1)]
    async with running("consumer", platform, database_name, group()) as (_, client):
        for event in events:
            now = datetime.now(UTC)
            payload = TerminalActivity(
                serial=serial,
                instance_id=instance_id,
                partner_id=PARTNER,
                action=event["action"],
                occurred_at=datetime.fromisoformat(event["occurred_at"]),
                received_at=now,
                terminal_event_id=event["event_id"],
            )
            envelope = envelope_for(
                payload, source="activity", event_id=telemetry_event_id(instance_id, event["event_id"])
            )
            await kafka.send("terminal.activity", envelope.to_json_bytes(), key=serial.encode())

        async def both_stored() -> bool:
            return await stored_count(mongo, database_name, instance_id, events) == 2

        await eventually(both_stored)
        assert (await client.get("/readyz")).status_code == 200
        refused = await client.post("/v1/ingest/events", json={"events": events}, headers={"X-Ingest-Key": "x"})
        assert refused.status_code == 404, "the consumer role serves no ingest"


async def test_the_two_roles_together_carry_a_request_from_ingest_to_search(
    platform: PlatformSettings, database_name: str, mongo: Any, token_for: Callable[..., str]
) -> None:
    serial = f"ST{uuid.uuid4().hex[:8]}".upper()
    events = [telemetry_event(serial, minutes) for minutes in (3, 2, 1)]
    consumers = group()
    async with (
        running("consumer", platform, database_name, consumers),
        running("ingest", platform, database_name, consumers) as (ingest, client),
    ):
        instance_id, key = await known_key(ingest)
        response = await client.post("/v1/ingest/events", json={"events": events}, headers={"X-Ingest-Key": key})
        assert response.status_code == 202, response.text
        token = token_for(PARTNER)

        async def found() -> list[dict[str, Any]] | None:
            answer = await client.get(
                "/v1/activity/records", params={"serial": serial}, headers={"Authorization": f"Bearer {token}"}
            )
            items: list[dict[str, Any]] = answer.json()["items"]
            return items if len(items) == 3 else None

        items = await eventually(found)
        assert {item["instance_id"] for item in items} == {instance_id}
        assert await stored_count(mongo, database_name, instance_id, events) == 3
