"""In-memory fakes of the activity ports and the use-case objects built on them (tests only:
service-layer unit tests, and `bootstrap.bootstrap_test_app` for the HTTP edge without infrastructure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from activity.domain.model import ActivityRecord, RecordKind, Terminal, parse_record_id
from activity.domain.remote_actions import Observed, RemoteAction
from activity.domain.working_time import CLOCK_ACTIONS, ClockEvent
from activity.service_layer.commands import ActivityCommands
from activity.service_layer.event_handlers import ActivityEventHandlers
from activity.service_layer.field_operations import FieldCommands, FieldProjection, FieldQueries
from activity.service_layer.field_ports import PositionPoint, StoredCorrection, Worker, location_of
from activity.service_layer.ports import IngestKey, InstancesApi, LicenseRef, RecordQuery, Released
from activity.service_layer.queries import ActivityQueries
from activity.service_layer.remote_actions import ActionSearch, RemoteActionQueries, RemoteActionTrail
from contracts import EventEnvelope
from servicekit.pagination import Page


class FakeActivityStore:
    """Keeps records once by public id, like the real store keeps them once per bucket and event id."""

    def __init__(self) -> None:
        self.by_id: dict[str, ActivityRecord] = {}
        self.gets: list[str] = []
        self.dropped_before: list[str] = []

    async def add_records(self, records: list[ActivityRecord]) -> tuple[int, int]:
        stored = duplicates = 0
        for record in records:
            if record.id in self.by_id:
                duplicates += 1
            else:
                self.by_id[record.id] = record
                stored += 1
        return stored, duplicates

    async def get(self, record_id: str) -> ActivityRecord | None:
        self.gets.append(record_id)
        parsed = parse_record_id(record_id)
        if parsed is None:
            return None
        day, shard, event_id = parsed
        return self.by_id.get(f"{day}~{shard:02d}~{event_id}")

    async def search(self, query: RecordQuery) -> Page[ActivityRecord]:
        items = [r for r in self.by_id.values() if r.partner_id == query.partner_id]
        return Page(items[: query.limit], None)

    async def drop_days_before(self, day: str) -> int:
        """Drops the records of days before `day`; how many (day, shard) buckets held them."""
        expired = [r for r in self.by_id.values() if r.day < day]
        for record in expired:
            del self.by_id[record.id]
        self.dropped_before.append(day)
        return len({(r.day, r.shard) for r in expired})


class FakeTerminalStore:
    def __init__(self, serials: dict[tuple[str, str], list[str]] | None = None) -> None:
        self.serials = serials or {}  # (partner, instance) -> serials
        self.advanced: list[list[ActivityRecord]] = []
        self.bound: dict[tuple[str, str, str], tuple[str | None, datetime]] = {}
        self.states: dict[tuple[str, str], Terminal] = {}  # (partner, serial) -> state, as tests set it

    async def advance(self, records: list[ActivityRecord]) -> None:
        self.advanced.append(list(records))

    async def get(self, partner_id: str, serial: str) -> Terminal | None:
        return self.states.get((partner_id, serial))

    async def get_many(self, partner_id: str, serials: list[str]) -> list[Terminal]:
        return [t for serial in serials if (t := self.states.get((partner_id, serial))) is not None]

    async def bind_license(
        self, partner_id: str, instance_id: str, serial: str, license_id: str | None, at: datetime
    ) -> None:
        self.bound[(partner_id, instance_id, serial)] = (license_id, at)

    async def latest(self, partner_id: str, limit: int, cursor: str | None) -> Page[Terminal]:
        mine = sorted((t for (p, _), t in self.states.items() if p == partner_id), key=lambda t: t.last_seen)
        return Page(mine[::-1][:limit], None)

    async def serials_of_instance(self, partner_id: str, instance_id: str) -> list[str]:
        return list(self.serials.get((partner_id, instance_id), []))

    async def serials_of_pin(self, partner_id: str, pin: str) -> list[str]:
        return []


class FakeIngestKeyStore:
    def __init__(self, *keys: IngestKey) -> None:
        self.keys = {key.instance_id: key for key in keys}

    async def put(self, key: IngestKey) -> None:
        self.keys[key.instance_id] = key

    async def get(self, instance_id: str) -> IngestKey | None:
        return self.keys.get(instance_id)


class FakePublisher:
    def __init__(self) -> None:
        self.published: list[list[EventEnvelope[Any]]] = []

    async def publish_many(self, envelopes: Sequence[EventEnvelope[Any]]) -> None:
        self.published.append(list(envelopes))


class FakeInstances:
    """The instances service holding one active license bound to `serial` (as it was stored, in any
    letter case), or none; it answers a release with `answer`."""

    def __init__(
        self, serial: str | None, *, license_id: str = "lic-1", answer: Released | None = None, active: bool = True
    ) -> None:
        self.serial = serial
        self.license_id = license_id
        self.answer = answer
        self.active = active
        self.released: list[str] = []
        self.tokens: list[str] = []

    async def license_of(self, token: str, instance_id: str, pin: str) -> LicenseRef | None:
        self.tokens.append(token)
        return LicenseRef(self.license_id, "active", self.serial) if self.active else None

    async def release(self, token: str, instance_id: str, license_id: str, reason: str | None) -> Released:
        self.released.append(license_id)
        return self.answer or Released(200, {"id": license_id, "status": "released"})


@dataclass
class ActivityFakes:
    """The ports of the activity use cases, in memory, and the use-case objects built on them."""

    records: FakeActivityStore = field(default_factory=FakeActivityStore)
    terminals: FakeTerminalStore = field(default_factory=FakeTerminalStore)
    keys: FakeIngestKeyStore = field(default_factory=FakeIngestKeyStore)
    publisher: FakePublisher = field(default_factory=FakePublisher)
    instances: InstancesApi | None = None

    def __post_init__(self) -> None:
        self.commands = ActivityCommands(self.keys, self.publisher, self.records, self.instances)
        self.queries = ActivityQueries(self.records, self.terminals)
        self.field_store = FakeFieldStore(self.records)
        self.field_queries = FieldQueries(self.field_store, self.field_store, self.terminals)
        self.field_commands = FieldCommands(self.field_store, self.field_queries)
        self.actions = FakeRemoteActionStore()
        self.trail = RemoteActionTrail(self.actions, self.records)
        self.event_handlers = ActivityEventHandlers(
            self.records, self.terminals, self.keys, field_ops=FieldProjection(self.field_store), trail=self.trail
        )
        self.action_queries = RemoteActionQueries(self.actions, self.terminals, self.keys)


class FakeFieldStore:
    """The working-time store and the positions read, in memory (over the fake records)."""

    def __init__(self, records: FakeActivityStore) -> None:
        self.records = records
        self.events: dict[tuple[str, str, str], dict[str, ClockEvent]] = {}
        self.workers: dict[tuple[str, str, str], Worker] = {}
        self.fixes: dict[tuple[str, str, str], dict[date, dict[str, StoredCorrection]]] = {}

    async def add_clock_events(self, records: list[ActivityRecord]) -> int:
        count = 0
        for r in records:
            if r.kind != RecordKind.TELEMETRY or r.action not in CLOCK_ACTIONS or not r.pin:
                continue
            key = (r.partner_id, r.instance_id, r.pin)
            self.workers.setdefault(key, Worker(*key, None))
            event = ClockEvent(r.event_id, r.action, r.occurred_at, r.received_at, r.id)
            self.events.setdefault(key, {})[r.event_id] = event
            count += 1
        return count

    async def name_worker(self, partner_id: str, instance_id: str, pin: str, user_name: str) -> None:
        self.workers[(partner_id, instance_id, pin)] = Worker(partner_id, instance_id, pin, user_name)

    async def worker(self, partner_id: str, instance_id: str, pin: str) -> Worker | None:
        return self.workers.get((partner_id, instance_id, pin))

    async def clock_events(self, worker: Worker, utc_months: list[str]) -> list[ClockEvent]:
        events = self.events.get((worker.partner_id, worker.instance_id, worker.pin), {}).values()
        return [e for e in events if e.occurred_at.strftime("%Y%m") in utc_months]

    async def corrections(self, worker: Worker, month: str) -> dict[date, list[StoredCorrection]]:
        days = self.fixes.get((worker.partner_id, worker.instance_id, worker.pin), {})
        return {
            day: sorted(by_id.values(), key=lambda s: (s.correction.corrected_at, s.correction_id))
            for day, by_id in days.items()
            if day.strftime("%Y-%m") == month
        }

    async def add_correction(self, worker: Worker, stored: StoredCorrection) -> StoredCorrection:
        days = self.fixes.setdefault((worker.partner_id, worker.instance_id, worker.pin), {})
        return days.setdefault(stored.correction.day, {}).setdefault(stored.correction_id, stored)

    async def drop_months_before(self, month: str) -> int:
        return 0

    async def positions(self, partner_id: str, serial: str, start: datetime, end: datetime) -> list[PositionPoint]:
        points = []
        for r in self.records.by_id.values():
            where = location_of(r.location)
            if r.partner_id == partner_id and r.serial == serial and where and start <= r.occurred_at < end:
                points.append(PositionPoint(r.id, r.occurred_at, r.received_at, *where, r.action))
        return sorted(points, key=lambda p: (p.occurred_at, p.record_id))


class FakeRemoteActionStore:
    """Remote actions in memory, once by id, newest request first."""

    def __init__(self) -> None:
        self.by_id: dict[str, RemoteAction] = {}
        self.seen: dict[str, list[Observed]] = {}
        self.seen_at: dict[str, datetime] = {}

    async def add(self, actions: list[RemoteAction]) -> list[RemoteAction]:
        new = [a for a in actions if a.id not in self.by_id]
        self.by_id.update({a.id: a for a in new})
        return new

    async def open_for(self, serials: set[str]) -> list[RemoteAction]:
        return [a for a in self.by_id.values() if a.open and a.serial in serials]

    async def open_by_id(self, ids: set[str]) -> list[RemoteAction]:
        return [a for a in self.by_id.values() if a.open and a.id in ids]

    async def sighted(self, sightings: dict[str, list[Observed]]) -> None:
        for grant_id, events in sightings.items():
            self.seen.setdefault(grant_id, []).extend(events)
            self.seen_at.setdefault(grant_id, datetime.now(UTC))

    async def sightings(self, grant_id: str) -> list[Observed]:
        return list(self.seen.get(grant_id, []))

    async def forget_sightings(self, grant_id: str) -> None:
        self.seen.pop(grant_id, None)
        self.seen_at.pop(grant_id, None)

    async def prune_sightings(self, before: datetime) -> int:
        old = [g for g, at in self.seen_at.items() if at < before]
        for grant_id in old:
            await self.forget_sightings(grant_id)
        return len(old)

    async def progress(self, actions: list[RemoteAction]) -> None:
        self.by_id.update({a.id: a for a in actions})

    async def search(self, asked: ActionSearch) -> Page[RemoteAction]:
        found = sorted(
            (
                a
                for a in self.by_id.values()
                if a.partner_id == asked.partner_id
                and asked.serial in (None, a.serial)
                and asked.instance_id in (None, a.instance_id)
                and asked.state in (None, a.state)
                and (asked.requested_before is None or a.requested_at < asked.requested_before)
            ),
            key=lambda a: (a.requested_at, a.id),
            reverse=True,
        )
        start = int(asked.cursor) if asked.cursor else 0
        page = found[start : start + asked.limit]
        more = len(found) > start + asked.limit
        return Page(page, str(start + asked.limit) if more else None)
