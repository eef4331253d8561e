"""Kafka -> live notifications: the gateway listens to the events users are told about (R-06)."""

from __future__ import annotations

from typing import Any

from contracts import EventEnvelope
from gateway.service_layer.notifications import NOTIFIED_TOPICS, NotificationHub
from servicekit.consumer import EventConsumer


def register(consumer: EventConsumer, hub: NotificationHub) -> None:
    async def on_events(events: list[EventEnvelope[Any]]) -> None:
        await hub.on_events(events)

    for topic in NOTIFIED_TOPICS:
        # Batches without the inbox: the notification log stores each event id once.
        consumer.subscribe_batch(topic, on_events)
