"""Putting envelopes on their topics, keyed as the catalogue says.

Every event goes out in the structured mode of the CloudEvents Kafka binding: the whole event in
the value and `content-type: application/cloudevents+json`. No `ce_` header may be added: a
reader (the CloudEvents SDK's `from_kafka`) takes any `ce_` header to mean binary mode.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol

from aiokafka.partitioner import DefaultPartitioner
from faststream.kafka import KafkaBroker, KafkaResponse

from contracts import CONTENT_TYPE, EventEnvelope, topic
from servicekit.kafka import PRODUCER_MAX_BATCH_BYTES
from servicekit.settings import PlatformSettings

# What a record adds to its key and value inside a batch (varints, attributes, and the headers:
# content-type, FastStream's correlation id, the trace context), overestimated so a batch sized
# with it always fits the producer's buffer.
RECORD_OVERHEAD_BYTES = 512
_BATCH_HEADER_BYTES = 64
_partitioner = DefaultPartitioner()


def partition_of(topic_name: str, key: bytes) -> int:
    """The partition a keyed record goes to: the producer's own choice (murmur2 of the key over the
    topic's partitions, the catalogue's count), so a batch lands where one-by-one sends would."""
    partitions = list(range(topic(topic_name).partitions))
    return int(_partitioner(key, partitions, partitions))


class EventPublisher(Protocol):
    async def publish(self, event: EventEnvelope[Any]) -> None:
        """Return only once the broker has acknowledged the event (acks=all)."""


class KafkaEventPublisher:
    def __init__(self, broker: KafkaBroker, platform: PlatformSettings) -> None:
        self._broker = broker
        self._platform = platform
        self.published_by_topic: dict[str, int] = {}
        """Events the broker acknowledged, per topic (read by the service's metrics)."""

    async def publish(self, event: EventEnvelope[Any]) -> None:
        await self._send(event, confirm=True)
        self._count(event.type, 1)

    async def publish_many(self, events: Sequence[EventEnvelope[Any]]) -> None:
        """One produce batch per partition (a request's events, keyed as one by one), all in flight
        together; returns once the broker acknowledged every batch (acks=all). A batch larger than
        the producer's buffer goes as several."""
        by_partition: dict[tuple[str, int], list[EventEnvelope[Any]]] = {}
        for event in events:
            by_partition.setdefault((event.type, partition_of(event.type, event.subject.encode())), []).append(event)
        pending = [
            await self._send_batch(topic_name, partition, chunk)
            for (topic_name, partition), same_partition in by_partition.items()
            for chunk in _chunks_that_fit(same_partition)
        ]
        await asyncio.gather(*pending)
        for event in events:
            self._count(event.type, 1)

    def _count(self, topic_name: str, count: int) -> None:
        self.published_by_topic[topic_name] = self.published_by_topic.get(topic_name, 0) + count

    async def _send_batch(self, topic_name: str, partition: int, events: Sequence[EventEnvelope[Any]]) -> Any:
        first = events[0]
        return await self._broker.publish_batch(
            *(KafkaResponse(event.to_json_bytes(), key=event.subject.encode()) for event in events),
            topic=self._platform.topic(topic_name),
            partition=partition,
            headers={"content-type": CONTENT_TYPE},
            correlation_id=str(first.correlation_id or first.id),
            no_confirm=True,
        )

    async def _send(self, event: EventEnvelope[Any], *, confirm: bool) -> Any:
        topic(event.type)  # refuse an event whose type is not catalogued
        return await self._broker.publish(
            event.to_json_bytes(),
            self._platform.topic(event.type),
            key=event.subject.encode(),
            headers={"content-type": CONTENT_TYPE},
            correlation_id=str(event.correlation_id or event.id),
            no_confirm=not confirm,
        )


def _chunks_that_fit(events: list[EventEnvelope[Any]]) -> list[list[EventEnvelope[Any]]]:
    """The events in order, cut where a batch would outgrow the producer's buffer."""
    chunks: list[list[EventEnvelope[Any]]] = [[]]
    size = _BATCH_HEADER_BYTES
    for event in events:
        record = len(event.to_json_bytes()) + len(event.subject.encode()) + RECORD_OVERHEAD_BYTES
        if chunks[-1] and size + record > PRODUCER_MAX_BATCH_BYTES:
            chunks.append([])
            size = _BATCH_HEADER_BYTES
        chunks[-1].append(event)
        size += record
    return chunks
