"""Use cases of the activity service: admit telemetry, record it once, answer searches."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from activity.domain.model import ActivityRecord, RecordKind, Terminal, parse_record_id
from activity.service_layer.ports import (
    ActivityStore,
    IngestKey,
    IngestKeyStore,
    InstancesApi,
    RecordQuery,
    Released,
    TelemetryPublisher,
    TerminalStore,
)
from contracts import EventEnvelope, envelope_for, ingest_keys
from contracts.events.activity import TerminalActivity, telemetry_event_id
from contracts.ingest_keys import InvalidIngestKey
from contracts.serials import canonical_serial
from servicekit.pagination import Page

FUTURE_TOLERANCE = timedelta(minutes=5)
# Never taken from the terminal: who it is comes from its key, when it arrived from our clock.
_SET_BY_THE_SERVICE = {"event_id", "terminal_event_id", "instance_id", "partner_id", "received_at"}
LATE_TOLERANCE = timedelta(days=30)


class ReleaseRefused(Exception):
    """The record's terminal has no license this service can release (the reason says why)."""

    def __init__(self, slug: str, detail: str) -> None:
        super().__init__(detail)
        self.slug = slug


class RejectedEvents(ValueError):
    """Some events of a batch cannot be admitted; `errors` names each one (the batch is refused whole)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


@dataclass
class ActivityStats:
    stored: int = 0
    duplicates: int = 0
    admitted: int = 0


@dataclass
class ActivityService:
    records: ActivityStore
    terminals: TerminalStore
    keys: IngestKeyStore
    publisher: TelemetryPublisher
    instances: InstancesApi | None = None
    stats: ActivityStats = field(default_factory=ActivityStats)

    # ------------------------------------------------------------------ ingest

    async def authenticate(self, ingest_key: str) -> IngestKey:
        instance_id = ingest_keys.instance_of(ingest_key)
        known = await self.keys.get(instance_id) if instance_id else None
        if known is None or not hmac.compare_digest(known.key_sha256, ingest_keys.digest(ingest_key)):
            raise InvalidIngestKey
        return known

    async def ingest(self, ingest_key: str, events: Sequence[dict[str, Any]], now: datetime) -> int:
        """Admit a batch for the key's instance: all or nothing, answered once Kafka has it."""
        key = await self.authenticate(ingest_key)
        errors: list[dict[str, Any]] = []
        envelopes = []
        for index, event in enumerate(events):
            occurred: datetime = event["occurred_at"]
            if occurred > now + FUTURE_TOLERANCE:
                errors.append(
                    {"field": f"events.{index}.occurred_at", "message": "is in the future", "code": "in_the_future"}
                )
                continue
            if occurred < now - LATE_TOLERANCE:
                errors.append(
                    {
                        "field": f"events.{index}.occurred_at",
                        "message": f"is older than {LATE_TOLERANCE.days} days",
                        "code": "older_than_days",
                        "params": {"days": LATE_TOLERANCE.days},
                    }
                )
                continue
            reported = {k: v for k, v in event.items() if k not in _SET_BY_THE_SERVICE}
            payload = TerminalActivity(
                **reported,
                instance_id=key.instance_id,  # from the key, never from the terminal
                partner_id=key.partner_id,
                received_at=now,
                terminal_event_id=event["event_id"],
            )
            # The terminal's id is unique only to the terminal: the stored identity adds the instance.
            event_id = telemetry_event_id(key.instance_id, event["event_id"])
            envelopes.append(envelope_for(payload, source="activity", event_id=event_id))
        if errors:
            raise RejectedEvents(errors)
        await self.publisher.publish_many(envelopes)
        self.stats.admitted += len(envelopes)
        return len(envelopes)

    # ------------------------------------------------------------------ from Kafka

    async def record_telemetry(self, events: list[EventEnvelope[Any]]) -> None:
        records = [record_from_telemetry(event) for event in events]
        await self._store(records)

    async def record_license_event(self, event: EventEnvelope[Any]) -> None:
        data = event.data
        if data.serial is None:
            return  # a license without terminal has no place in a terminal's timeline
        details = {"license_id": data.license_id, "reason": getattr(data, "reason", None)}
        await self._store([_system_record(event, data.serial, data.pin, RecordKind.LICENSE, details)])
        bound = data.license_id if event.type == "license.added" else None
        await self.terminals.bind_license(data.partner_id, data.instance_id, data.serial, bound, event.time)

    async def record_session_cleared(self, event: EventEnvelope[Any]) -> None:
        data = event.data
        serials = (
            [data.serial]
            if data.serial
            else await self.terminals.serials_of_instance(data.partner_id, data.instance_id)
        )
        details = {"session_epoch": data.session_epoch, "scope": "terminal" if data.serial else "instance"}
        await self._store([_system_record(event, s, None, RecordKind.SESSION, details) for s in serials])

    async def ingest_key_rotated(self, event: EventEnvelope[Any]) -> None:
        data = event.data
        await self.keys.put(IngestKey(data.instance_id, data.partner_id, data.key_sha256))

    async def _store(self, records: list[ActivityRecord]) -> None:
        stored, duplicates = await self.records.add_records(records)
        await self.terminals.advance([r for r in records if r.kind == RecordKind.TELEMETRY])
        self.stats.stored += stored
        self.stats.duplicates += duplicates

    # ------------------------------------------------------------------ queries (R-40..R-42)

    async def record(self, record_id: str, partner_id: str) -> ActivityRecord | None:
        """Another partner's record is 'not found', like a missing one."""
        if parse_record_id(record_id) is None:
            return None
        record = await self.records.get(record_id)
        return record if record is not None and record.visible_to(partner_id) else None

    async def release_license(
        self, token: str, partner_id: str, record_id: str, reason: str | None
    ) -> tuple[ActivityRecord, Released] | None:
        """Free the seat bound to the record's terminal (R-43), through the instances service;
        the release then shows in the timeline once its `license.released` event arrives."""
        record = await self.record(record_id, partner_id)
        if record is None:
            return None
        if self.instances is None:
            raise ReleaseRefused("not-configured", "Releasing licenses is not configured on this service.")
        if record.pin is None:
            raise ReleaseRefused("no-pin", "The record names no PIN, so no license.")
        license_ref = await self.instances.license_of(token, record.instance_id, record.pin)
        if license_ref is None:
            raise ReleaseRefused("no-active-license", f"No active license with PIN {record.pin} in this instance.")
        # The instances service may hold a serial stored before serials had one canonical form.
        if license_ref.serial is None or canonical_serial(license_ref.serial) != canonical_serial(record.serial):
            raise ReleaseRefused(
                "bound-elsewhere", f"The license with PIN {record.pin} is not bound to terminal {record.serial}."
            )
        return record, await self.instances.release(token, record.instance_id, license_ref.license_id, reason)

    async def search(self, query: RecordQuery) -> Page[ActivityRecord]:
        if query.serial is not None:
            query = replace(query, serial=canonical_serial(query.serial))
        return await self.records.search(query)

    async def terminal(self, partner_id: str, serial: str) -> Terminal | None:
        return await self.terminals.get(partner_id, canonical_serial(serial))

    async def latest(self, partner_id: str, limit: int, cursor: str | None) -> Page[Terminal]:
        return await self.terminals.latest(partner_id, limit, cursor)


def record_from_telemetry(event: EventEnvelope[Any]) -> ActivityRecord:
    data: TerminalActivity = event.data
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
    event: EventEnvelope[Any], serial: str, pin: str | None, kind: RecordKind, details: dict[str, Any]
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
