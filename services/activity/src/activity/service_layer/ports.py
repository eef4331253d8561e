"""What the activity use cases need from the outside world."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from activity.domain.model import ActivityRecord, RecordKind, Terminal, Window
from contracts import EventEnvelope
from servicekit.errors import DomainError
from servicekit.pagination import Page


@dataclass(frozen=True)
class IngestKey:
    instance_id: str
    partner_id: str
    key_sha256: str


@dataclass(frozen=True)
class RecordQuery:
    partner_id: str
    window: Window
    serial: str | None = None
    pin: str | None = None
    action: str | None = None
    kind: RecordKind | None = None
    limit: int = 50
    cursor: str | None = None


class ActivityStore(Protocol):
    async def add_records(self, records: list[ActivityRecord]) -> tuple[int, int]:
        """Store records once by event id; returns (stored, duplicates)."""

    async def get(self, record_id: str) -> ActivityRecord | None: ...

    async def search(self, query: RecordQuery) -> Page[ActivityRecord]: ...

    async def drop_days_before(self, day: str) -> int: ...


class TerminalStore(Protocol):
    """Terminals are kept per partner: a serial is the partner's own terminal, and another
    partner's events for the same serial neither change nor reveal it."""

    async def advance(self, records: list[ActivityRecord]) -> None:
        """Keep the latest state of each partner's serial (records older than it change nothing)."""

    async def get(self, partner_id: str, serial: str) -> Terminal | None: ...

    async def get_many(self, partner_id: str, serials: list[str]) -> list[Terminal]:
        """The partner's terminals of these serials, in their order (an unknown one left out): one read."""

    async def bind_license(
        self, partner_id: str, instance_id: str, serial: str, license_id: str | None, at: datetime
    ) -> None:
        """Record which license of the instance the partner's terminal holds (None: released or
        revoked) as of `at`, the event's time: an older event changes nothing."""

    async def latest(self, partner_id: str, limit: int, cursor: str | None) -> Page[Terminal]: ...

    async def serials_of_instance(self, partner_id: str, instance_id: str) -> list[str]: ...

    async def serials_of_pin(self, partner_id: str, pin: str) -> list[str]: ...


class IngestKeyStore(Protocol):
    async def put(self, key: IngestKey) -> None: ...

    async def get(self, instance_id: str) -> IngestKey | None: ...


class TelemetryPublisher(Protocol):
    async def publish_many(self, events: Sequence[EventEnvelope[Any]]) -> None:
        """Return once the broker acknowledged every event (acks=all)."""


@dataclass(frozen=True)
class LicenseRef:
    license_id: str
    status: str
    serial: str | None


@dataclass(frozen=True)
class Released:
    status_code: int
    body: dict[str, object]


class InstancesUnavailable(DomainError):
    """The instances service did not answer, or failed (`reason` says how; the caller may retry)."""

    status = 503
    slug = "instances-unavailable"

    def __init__(self, reason: str) -> None:
        super().__init__("The instances service is unavailable; retry shortly.")
        self.reason = reason


class InstancesApi(Protocol):
    """The instances service, called with the caller's own token (fails with `InstancesUnavailable`)."""

    async def license_of(self, token: str, instance_id: str, pin: str) -> LicenseRef | None: ...

    async def release(self, token: str, instance_id: str, license_id: str, reason: str | None) -> Released: ...
