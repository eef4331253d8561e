"""Writes of the activity service: admit terminals' telemetry (R-04), release the license bound to
a record's terminal (R-43), drop the days past retention."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from activity.domain.model import ActivityRecord, retention_cutoff
from activity.service_layer.field_operations import FieldCommands
from activity.service_layer.ports import (
    ActivityStore,
    IngestKey,
    IngestKeyStore,
    InstancesApi,
    Released,
    TelemetryPublisher,
)
from activity.service_layer.queries import visible_record
from activity.service_layer.remote_actions import RemoteActionTrail
from contracts import envelope_for, ingest_keys
from contracts.events.activity import TerminalActivity, telemetry_event_id
from contracts.ingest_keys import InvalidIngestKey
from contracts.serials import canonical_serial
from servicekit.errors import DomainError, InvalidInput, NotFound
from servicekit.handlers import HandlerTable

FUTURE_TOLERANCE = timedelta(minutes=5)
# Never taken from the terminal: who it is comes from its key, when it arrived from our clock.
_SET_BY_THE_SERVICE = {"event_id", "terminal_event_id", "instance_id", "partner_id", "received_at"}
LATE_TOLERANCE = timedelta(days=30)
log = logging.getLogger(__name__)


class RejectedEvents(InvalidInput):
    """Some events of a batch cannot be admitted; `errors` names each one (the batch is refused whole)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        reasons = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        super().__init__([{**e, "in": "body"} for e in errors], detail=f"Rejected events: {reasons}.")
        self.errors = errors  # as the terminal got them wrong; the answer adds where (the body)


class ReleaseRefused(DomainError):
    """The record's terminal has no license this service can release (`slug` says why)."""

    status = 409

    def __init__(self, slug: str, detail: str) -> None:
        super().__init__(detail)
        self.slug = slug


@dataclass
class IngestStats:
    admitted: int = 0


async def authenticate(keys: IngestKeyStore, ingest_key: str) -> IngestKey:
    """The instance a terminal's ingest key belongs to; `InvalidIngestKey` (a 401) otherwise."""
    instance_id = ingest_keys.instance_of(ingest_key)
    known = await keys.get(instance_id) if instance_id else None
    if known is None or not hmac.compare_digest(known.key_sha256, ingest_keys.digest(ingest_key)):
        raise InvalidIngestKey
    return known


@dataclass
class ActivityCommands:
    keys: IngestKeyStore
    publisher: TelemetryPublisher
    records: ActivityStore
    instances: InstancesApi | None = None
    stats: IngestStats = field(default_factory=IngestStats)

    async def ingest(self, ingest_key: str, events: Sequence[dict[str, Any]], now: datetime) -> int:
        """Admit a batch for the key's instance: all or nothing, answered once Kafka has it."""
        key = await authenticate(self.keys, ingest_key)
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

    async def release_license(
        self, token: str, partner_id: str, record_id: str, reason: str | None
    ) -> tuple[ActivityRecord, Released]:
        """Free the seat bound to the record's terminal (R-43), through the instances service;
        the release then shows in the timeline once its `license.released` event arrives."""
        record = await visible_record(self.records, record_id, partner_id)
        if record is None:
            raise NotFound("activity record", record_id)
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

    async def enforce_retention(self, today: date, retention_days: int) -> int:
        """Drop the whole day buckets older than the retention period; how many were dropped."""
        cutoff = retention_cutoff(today, retention_days)
        dropped = await self.records.drop_days_before(cutoff)
        if dropped:
            log.info("retention: dropped %d day buckets before %s", dropped, cutoff)
        return dropped


COMMAND_HANDLERS: HandlerTable = {
    "ingest_events": ActivityCommands.ingest,
    "release_license": ActivityCommands.release_license,
    "enforce_retention": ActivityCommands.enforce_retention,
    # field operations (issue #20)
    "correct_working_day": FieldCommands.correct_day,
    "enforce_working_time_retention": FieldCommands.enforce_retention,
    "prune_remote_action_sightings": RemoteActionTrail.prune_sightings,
}
