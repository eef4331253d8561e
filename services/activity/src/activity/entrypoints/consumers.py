from __future__ import annotations

from typing import Any

from activity.service_layer import handlers
from activity.service_layer.ports import ActivityRepository
from contracts import EventEnvelope
from servicekit.consumer import EventConsumer


def register(consumer: EventConsumer, repository: ActivityRepository) -> None:
    async def on_terminal_activity(event: EventEnvelope[Any]) -> None:
        await handlers.record_activity(event, repository)

    consumer.subscribe("terminal.activity", on_terminal_activity)
