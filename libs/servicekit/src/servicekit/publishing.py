"""Putting envelopes on their topics, keyed as the catalogue says.

Every event goes out in the structured mode of the CloudEvents Kafka binding: the whole event in
the value and `content-type: application/cloudevents+json`. No `ce_` header may be added: a
reader (the CloudEvents SDK's `from_kafka`) takes any `ce_` header to mean binary mode.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol

from faststream.kafka import KafkaBroker

from contracts import CONTENT_TYPE, EventEnvelope, topic
from servicekit.settings import PlatformSettings


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
        """Send all, then wait for every acknowledgement: one round of waiting, not one per event."""
        pending = [await self._send(event, confirm=False) for event in events]
        await asyncio.gather(*pending)
        for event in events:
            self._count(event.type, 1)

    def _count(self, topic_name: str, count: int) -> None:
        self.published_by_topic[topic_name] = self.published_by_topic.get(topic_name, 0) + count

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
