"""What the reports service takes from Kafka: the instances service's events one by one (the
inbox drops redeliveries), and the terminals' telemetry in batches, counted once per
(partition, offset)."""

from __future__ import annotations

from reports.service_layer.projections import TELEMETRY_TOPIC, Projector, operation_of
from servicekit.consumer import EventConsumer
from servicekit.handlers import Delivered


def register(consumer: EventConsumer, projector: Projector) -> None:
    for topic_name, handler in projector.handlers().items():
        consumer.subscribe(topic_name, handler)

    async def telemetry(batch: list[Delivered]) -> None:
        await projector.count_operations([operation_of(d.event, d.partition, d.offset) for d in batch])

    consumer.subscribe_deliveries(TELEMETRY_TOPIC, telemetry)
