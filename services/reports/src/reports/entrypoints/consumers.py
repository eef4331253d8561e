"""What the reports service takes from Kafka: the instances service's events one by one (the
inbox drops redeliveries), and the terminals' telemetry in batches, counted once per
(partition, offset)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from aiokafka import ConsumerRecord
from faststream.kafka import KafkaBroker

from contracts import EventEnvelope
from reports.domain.model import Operation
from reports.service_layer.projections import TELEMETRY_TOPIC, Projector, operation_of
from servicekit.consumer import EventConsumer


class PositionsUnknown(RuntimeError):
    """Telemetry reached the handler without the Kafka records it came from."""


def operations_of(
    events: list[EventEnvelope[Any]], records: Sequence[ConsumerRecord[bytes, bytes]], topic_name: str
) -> list[Operation]:
    """Pair each event with the record it was decoded from: the events are the batch's records of
    the topic, in order, minus the malformed ones (dead-lettered before the handler)."""
    positions: list[tuple[str, int, int]] = []
    for record in records:
        if record.topic != topic_name:
            continue
        try:
            event_id = str(json.loads(record.value or b"{}").get("id"))
        except (ValueError, AttributeError):
            continue
        positions.append((event_id, record.partition, record.offset))
    operations: list[Operation] = []
    index = 0
    for event in events:
        wanted = str(event.id)
        while index < len(positions) and positions[index][0] != wanted:
            index += 1
        if index == len(positions):
            raise PositionsUnknown(f"no record for telemetry event {wanted}")
        _, partition, offset = positions[index]
        operations.append(operation_of(event, partition, offset))
        index += 1
    return operations


def register(consumer: EventConsumer, broker: KafkaBroker, projector: Projector, *, topic_prefix: str) -> None:
    for topic_name, handler in projector.handlers().items():
        consumer.subscribe(topic_name, handler)

    async def telemetry(events: list[EventEnvelope[Any]]) -> None:
        # servicekit's batch handlers get envelopes only; the offsets that make counting idempotent
        # come from the batch FastStream is handling (its message context).
        message = broker.context.get_local("message")
        records = getattr(message, "raw_message", None)
        if records is None:
            raise PositionsUnknown("telemetry handled outside a Kafka batch")
        if not isinstance(records, tuple | list):
            records = (records,)
        await projector.count_operations(operations_of(events, records, topic_prefix + TELEMETRY_TOPIC))

    consumer.subscribe_batch(TELEMETRY_TOPIC, telemetry)
