"""Putting envelopes on their topics, keyed as the catalogue says."""

from __future__ import annotations

from typing import Any, Protocol

from faststream.kafka import KafkaBroker

from contracts import EventEnvelope, topic
from servicekit.settings import PlatformSettings


class EventPublisher(Protocol):
    async def publish(self, event: EventEnvelope[Any]) -> None:
        """Return only once the broker has acknowledged the event (acks=all)."""


class KafkaEventPublisher:
    def __init__(self, broker: KafkaBroker, platform: PlatformSettings) -> None:
        self._broker = broker
        self._platform = platform

    async def publish(self, event: EventEnvelope[Any]) -> None:
        topic(event.type)  # refuse an event whose type is not catalogued
        await self._broker.publish(
            event.to_json_bytes(),
            self._platform.topic(event.type),
            key=event.subject.encode(),
            headers={"content-type": "application/cloudevents+json", "ce_id": str(event.id), "ce_type": event.type},
            correlation_id=str(event.correlation_id or event.id),
        )
