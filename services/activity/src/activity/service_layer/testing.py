"""In-memory fakes of the activity ports and the use-case objects built on them (tests only:
service-layer unit tests, and `bootstrap.bootstrap_test_app` for the HTTP edge without infrastructure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from activity.domain.model import ActivityRecord, Terminal, parse_record_id
from activity.domain.remote_actions import Observed, RemoteAction
from activity.service_layer.commands import ActivityCommands
from activity.service_layer.event_handlers import ActivityEventHandlers
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
        self.actions = FakeRemoteActionStore()
        self.event_handlers = ActivityEventHandlers(
            self.records, self.terminals, self.keys, trail=RemoteActionTrail(self.actions, self.records)
        )
        self.action_queries = RemoteActionQueries(self.actions, self.terminals, self.keys)


class FakeRemoteActionStore:
    """Remote actions in memory, once by id, newest request first."""

    def __init__(self) -> None:
        self.by_id: dict[str, RemoteAction] = {}
        self.seen: dict[str, list[Observed]] = {}

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

    async def sightings(self, grant_id: str) -> list[Observed]:
        return list(self.seen.get(grant_id, []))

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
