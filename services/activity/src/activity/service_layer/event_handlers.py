"""What the activity service takes from Kafka: telemetry in batches, the license and session events
that belong in a terminal's timeline, and the instances' ingest keys. Each record is stored once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from activity.domain.model import ActivityRecord, RecordKind
from activity.service_layer.field_operations import FieldProjection
from activity.service_layer.ports import ActivityStore, IngestKey, IngestKeyStore, TerminalStore
from activity.service_layer.remote_actions import RemoteActionTrail
from contracts import EventEnvelope
from contracts.events.activity import TerminalActivity
from contracts.events.instances import IngestKeyRotated, SessionCleared
from contracts.events.licenses import LicenseAdded, LicenseImpersonated, LicenseReleased, LicenseRevoked
from servicekit.handlers import EventHandlerTable, InBatches

LicenseEvent = LicenseAdded | LicenseReleased | LicenseRevoked


@dataclass
class RecordingStats:
    stored: int = 0
    duplicates: int = 0


@dataclass
class ActivityEventHandlers:
    records: ActivityStore
    terminals: TerminalStore
    keys: IngestKeyStore
    stats: RecordingStats = field(default_factory=RecordingStats)
    field_ops: FieldProjection | None = None  # the working-time record (issue #20)
    trail: RemoteActionTrail | None = None
    """The remote-action trail, moved on by the same events (None: not kept)."""

    async def record_telemetry(self, events: list[EventEnvelope[TerminalActivity]]) -> None:
        """A batch at once (one insert per day and shard); idempotent by event id, as a batch must be."""
        records = [record_from_telemetry(event) for event in events]
        await self._store(records)
        if self.field_ops is not None:  # after the records: a redelivered batch sets the same events again
            await self.field_ops.apply(records)
        if self.trail is not None:
            await self.trail.telemetry(records)

    async def record_license_event(self, event: EventEnvelope[LicenseEvent]) -> None:
        data = event.data
        if isinstance(data, LicenseAdded) and self.field_ops is not None:  # who clocks with the PIN
            await self.field_ops.name_worker(data.partner_id, data.instance_id, data.pin, data.user_name)
        if data.serial is None:
            return  # a license without terminal has no place in a terminal's timeline
        # An added license is bound to the terminal; a released or revoked one no longer, for a reason.
        if isinstance(data, LicenseAdded):
            bound, reason = data.license_id, None
        else:
            bound, reason = None, data.reason
        details = {"license_id": data.license_id, "reason": reason}
        await self._store([_system_record(event, data.serial, data.pin, RecordKind.LICENSE, details)])
        await self.terminals.bind_license(data.partner_id, data.instance_id, data.serial, bound, event.time)
        if self.trail is not None and isinstance(data, LicenseReleased):
            await self.trail.license_released(str(event.id), event.time, data)

    async def record_impersonation(self, event: EventEnvelope[LicenseImpersonated]) -> None:
        """An impersonation grant becomes a remote action (its id the grant's), on the terminal's
        trail if the seat is bound; the timeline itself shows it through the trail."""
        if self.trail is not None:
            await self.trail.impersonated(event.time, event.data)

    async def record_session_cleared(self, event: EventEnvelope[SessionCleared]) -> None:
        data = event.data
        serials = (
            [data.serial]
            if data.serial
            else await self.terminals.serials_of_instance(data.partner_id, data.instance_id)
        )
        details = {"session_epoch": data.session_epoch, "scope": "terminal" if data.serial else "instance"}
        await self._store([_system_record(event, s, None, RecordKind.SESSION, details) for s in serials])
        if self.trail is not None:
            await self.trail.session_cleared(event, serials)

    async def ingest_key_rotated(self, event: EventEnvelope[IngestKeyRotated]) -> None:
        data = event.data
        await self.keys.put(IngestKey(data.instance_id, data.partner_id, data.key_sha256))

    async def _store(self, records: list[ActivityRecord]) -> None:
        stored, duplicates = await self.records.add_records(records)
        await self.terminals.advance([r for r in records if r.kind == RecordKind.TELEMETRY])
        self.stats.stored += stored
        self.stats.duplicates += duplicates


def record_from_telemetry(event: EventEnvelope[TerminalActivity]) -> ActivityRecord:
    data = event.data
    return ActivityRecord(
        event_id=str(event.id),
        serial=data.serial,
        instance_id=data.instance_id,
        partner_id=data.partner_id,
        action=data.action,
        occurred_at=data.occurred_at,
        received_at=data.received_at,
        # Older events carry none: their envelope id was the terminal's own (shown instead).
        terminal_event_id=str(data.terminal_event_id) if data.terminal_event_id else None,
        pin=data.pin,
        device=data.device.model_dump() if data.device else None,
        battery_pct=data.battery_pct,
        location=data.location.model_dump() if data.location else None,
        details=dict(data.details),
    )


def _system_record(
    event: EventEnvelope[LicenseEvent] | EventEnvelope[SessionCleared],
    serial: str,
    pin: str | None,
    kind: RecordKind,
    details: dict[str, Any],
) -> ActivityRecord:
    return ActivityRecord(
        event_id=f"{event.id}~{serial}" if kind == RecordKind.SESSION else str(event.id),
        serial=serial,
        instance_id=event.data.instance_id,
        partner_id=event.data.partner_id,
        action=event.type,
        occurred_at=event.time,
        received_at=event.time,
        kind=kind,
        pin=pin,
        details={k: v for k, v in details.items() if v is not None},
    )


EVENT_HANDLERS: EventHandlerTable = {
    "terminal.activity": InBatches(ActivityEventHandlers.record_telemetry),
    "license.added": ActivityEventHandlers.record_license_event,
    "license.released": ActivityEventHandlers.record_license_event,
    "license.revoked": ActivityEventHandlers.record_license_event,
    "session.cleared": ActivityEventHandlers.record_session_cleared,
    "instance.ingest_key_rotated": ActivityEventHandlers.ingest_key_rotated,
    "license.impersonated": ActivityEventHandlers.record_impersonation,
}
