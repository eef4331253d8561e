"""The ingest endpoint on the real Kafka publisher over a recording broker: a request's telemetry
goes out as one produce batch per partition, and the 202 comes only after the broker acknowledged
every batch (acks=all); a refused batch is a 503 with nothing counted as accepted."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx2
import pytest
from aiokafka.errors import KafkaTimeoutError
from faststream.kafka import KafkaBroker

from activity.bootstrap import bootstrap_test_app
from activity.config import Settings
from activity.service_layer.commands import ActivityCommands
from activity.service_layer.ports import IngestKey
from activity.service_layer.testing import ActivityFakes
from contracts import CONTENT_TYPE, decode_envelope
from servicekit.publishing import KafkaEventPublisher, partition_of
from servicekit.settings import PlatformSettings
from servicekit.testing import RecordingBroker

pytestmark = pytest.mark.unit

PARTNER, INSTANCE = "ptn-acme", "ins-001"
INGEST_KEY = f"pik_{INSTANCE}.{'0123456789abcdef' * 4}"
HEADERS = {"X-Ingest-Key": INGEST_KEY}


def an_event(serial: str) -> dict[str, Any]:
    occurred = datetime.now(UTC) - timedelta(minutes=1)
    return {"event_id": str(uuid.uuid4()), "serial": serial, "action": "clock_in", "occurred_at": occurred.isoformat()}


def serials_on_distinct_partitions(count: int) -> list[str]:
    found: dict[int, str] = {}
    number = 0
    while len(found) < count:
        serial = f"SN-{number:04d}"
        found.setdefault(partition_of("terminal.activity", serial.encode()), serial)
        number += 1
    return list(found.values())


def accepted_on_metrics(metrics: str) -> float:
    (line,) = (line for line in metrics.splitlines() if line.startswith("partnerapp_ingest_events_total "))
    return float(line.split()[1])


@pytest.fixture
def broker() -> RecordingBroker:
    return RecordingBroker(auto_acknowledge=False)


@pytest.fixture
async def client(broker: RecordingBroker) -> AsyncIterator[httpx2.AsyncClient]:
    fakes = ActivityFakes()
    fakes.keys.keys[INSTANCE] = IngestKey(INSTANCE, PARTNER, hashlib.sha256(INGEST_KEY.encode()).hexdigest())
    platform = PlatformSettings()
    publisher = KafkaEventPublisher(cast(KafkaBroker, broker), platform)
    fakes.commands = ActivityCommands(fakes.keys, publisher, fakes.records)
    app = bootstrap_test_app(fakes, Settings(platform=platform))
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://activity") as client:
        yield client


async def test_a_requests_telemetry_is_one_batch_per_partition_and_202_only_once_acknowledged(
    client: httpx2.AsyncClient, broker: RecordingBroker
) -> None:
    first, second = serials_on_distinct_partitions(2)
    events = [an_event(first) for _ in range(30)] + [an_event(second) for _ in range(20)]

    posting = asyncio.create_task(client.post("/v1/ingest/events", json={"events": events}, headers=HEADERS))
    await broker.sent(2)
    await asyncio.sleep(0.02)
    assert not posting.done(), "no answer before the broker acknowledged"

    broker.acknowledge()
    response = await posting
    assert (response.status_code, response.json()) == (202, {"accepted": 50})
    assert len(broker.batches) == 2, "one produce batch per partition, not one per event"
    sizes = {batch.partition: len(batch.values) for batch in broker.batches}
    assert sizes == {
        partition_of("terminal.activity", first.encode()): 30,
        partition_of("terminal.activity", second.encode()): 20,
    }
    for batch in broker.batches:
        assert batch.headers == {"content-type": CONTENT_TYPE}
        serials = {decode_envelope(value, expected_type="terminal.activity").data.serial for value in batch.values}
        assert [key.decode() for key in batch.keys if key] == [serials.pop()] * len(batch.values)
    assert accepted_on_metrics((await client.get("/metrics")).text) == 50


async def test_a_batch_the_broker_refuses_is_a_503_and_nothing_is_accepted(
    client: httpx2.AsyncClient, broker: RecordingBroker
) -> None:
    posting = asyncio.create_task(
        client.post("/v1/ingest/events", json={"events": [an_event("SN-0001"), an_event("SN-0001")]}, headers=HEADERS)
    )
    await broker.sent(1)
    broker.refuse(KafkaTimeoutError())

    response = await posting
    assert response.status_code == 503
    assert response.json()["type"].endswith("broker-unavailable")
    assert accepted_on_metrics((await client.get("/metrics")).text) == 0
