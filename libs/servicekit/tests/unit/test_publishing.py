"""`KafkaEventPublisher.publish_many`: a request's events as one produce batch per partition, keyed and
headed as one-by-one sends, returning only once every batch is acknowledged (on a recording broker)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from aiokafka.errors import KafkaTimeoutError
from aiokafka.partitioner import DefaultPartitioner
from faststream.kafka import KafkaBroker

from contracts import CONTENT_TYPE, EventEnvelope, envelope_for, topic
from contracts.events.activity import TerminalActivity
from servicekit.kafka import PRODUCER_MAX_BATCH_BYTES
from servicekit.publishing import KafkaEventPublisher, partition_of
from servicekit.settings import PlatformSettings
from servicekit.testing import RecordingBroker

pytestmark = pytest.mark.unit

PREFIX = "unit-publish."


def telemetry(serial: str, **details: Any) -> EventEnvelope[Any]:
    now = datetime.now(UTC)
    data = TerminalActivity(
        serial=serial,
        instance_id="ins-001",
        partner_id="ptn-acme",
        action="clock_in",
        occurred_at=now,
        received_at=now,
        details=details,
    )
    return envelope_for(data, source="activity", event_id=uuid.uuid4())


def serials_on_distinct_partitions(count: int) -> list[str]:
    found: dict[int, str] = {}
    number = 0
    while len(found) < count:
        serial = f"SN-{number:04d}"
        found.setdefault(partition_of("terminal.activity", serial.encode()), serial)
        number += 1
    return list(found.values())


def publisher_on(broker: RecordingBroker) -> KafkaEventPublisher:
    return KafkaEventPublisher(cast(KafkaBroker, broker), PlatformSettings(topic_prefix=PREFIX))


def test_a_key_goes_to_the_partition_the_producer_would_pick() -> None:
    partitions = list(range(topic("terminal.activity").partitions))
    for serial in ("SN-0001", "SN-0002", "TERM-XYZ"):
        expected = DefaultPartitioner()(serial.encode(), partitions, partitions)
        assert partition_of("terminal.activity", serial.encode()) == expected


async def test_a_requests_events_go_as_one_batch_per_partition_keyed_and_headed_as_before() -> None:
    first, second = serials_on_distinct_partitions(2)
    events = [telemetry(first), telemetry(second), telemetry(first), telemetry(first)]
    broker = RecordingBroker()
    publisher = publisher_on(broker)

    await publisher.publish_many(events)

    assert len(broker.batches) == 2
    by_partition = {batch.partition: batch for batch in broker.batches}
    ours = by_partition[partition_of("terminal.activity", first.encode())]
    theirs = by_partition[partition_of("terminal.activity", second.encode())]
    assert ours.values == [e.to_json_bytes() for e in (events[0], events[2], events[3])]  # in request order
    assert ours.keys == [first.encode()] * 3
    assert theirs.values == [events[1].to_json_bytes()]
    assert theirs.keys == [second.encode()]
    for batch in broker.batches:
        assert batch.topic == PREFIX + "terminal.activity"
        # Structured mode of the CloudEvents binding: the content type, never a `ce_` header.
        assert batch.headers == {"content-type": CONTENT_TYPE}
    assert publisher.published_by_topic == {"terminal.activity": 4}


async def test_publish_many_returns_only_once_every_batch_is_acknowledged() -> None:
    broker = RecordingBroker(auto_acknowledge=False)
    publisher = publisher_on(broker)
    first, second = serials_on_distinct_partitions(2)

    sending = asyncio.create_task(publisher.publish_many([telemetry(first), telemetry(second)]))
    await broker.sent(2)
    await asyncio.sleep(0.01)
    assert not sending.done(), "both batches are in flight, neither acknowledged"
    assert publisher.published_by_topic == {}

    broker.acknowledge()
    await sending
    assert publisher.published_by_topic == {"terminal.activity": 2}


async def test_a_refused_batch_fails_the_publish_and_counts_nothing() -> None:
    broker = RecordingBroker(auto_acknowledge=False)
    publisher = publisher_on(broker)

    sending = asyncio.create_task(publisher.publish_many([telemetry("SN-0001"), telemetry("SN-0001")]))
    await broker.sent(1)
    broker.refuse(KafkaTimeoutError())

    with pytest.raises(KafkaTimeoutError):
        await sending
    assert publisher.published_by_topic == {}


async def test_events_outgrowing_the_producers_buffer_go_as_several_batches_in_order() -> None:
    big = "x" * 20_000
    events = [telemetry("SN-0001", **{f"d{i}": big for i in range(10)}) for _ in range(8)]  # ~200 KB each
    broker = RecordingBroker()

    await publisher_on(broker).publish_many(events)

    assert len(broker.batches) > 1
    assert {batch.partition for batch in broker.batches} == {partition_of("terminal.activity", b"SN-0001")}
    assert [value for batch in broker.batches for value in batch.values] == [e.to_json_bytes() for e in events]
    for batch in broker.batches:
        assert sum(len(value) for value in batch.values) < PRODUCER_MAX_BATCH_BYTES
