from __future__ import annotations

import logging
from typing import Any

from activity.domain.model import ActivityRecord
from activity.service_layer.ports import ActivityRepository
from contracts import EventEnvelope
from contracts.events.activity import TerminalActivity

log = logging.getLogger(__name__)


def record_from_event(event: EventEnvelope[TerminalActivity]) -> ActivityRecord:
    data = event.data
    return ActivityRecord(
        event_id=str(event.id),
        serial=data.serial,
        instance_id=data.instance_id,
        partner_id=data.partner_id,
        action=data.action,
        occurred_at=data.occurred_at,
        received_at=data.received_at,
        pin=data.pin,
        device=data.device.model_dump() if data.device else None,
        battery_pct=data.battery_pct,
        location=data.location.model_dump() if data.location else None,
        details=dict(data.details),
    )


async def record_activity(event: EventEnvelope[Any], repository: ActivityRepository) -> bool:
    """Store a telemetry event once; a redelivered event id is a no-op (returns False)."""
    return await repository.add(record_from_event(event))


async def get_record(event_id: str, partner_id: str, repository: ActivityRepository) -> ActivityRecord | None:
    """The record, only if it belongs to the caller's partner: another partner's id is 'not found'."""
    record = await repository.get(event_id)
    if record is None or not record.visible_to(partner_id):
        return None
    return record
