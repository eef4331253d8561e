"""What the field operations use cases (the working-time record, a terminal's positions) need from
the store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from activity.domain.model import ActivityRecord
from activity.domain.working_time import ClockEvent, Correction


@dataclass(frozen=True)
class Worker:
    """A license user of an instance, known by the PIN they clock with."""

    partner_id: str
    instance_id: str
    pin: str
    user_name: str | None


@dataclass(frozen=True)
class StoredCorrection:
    correction_id: str
    correction: Correction


@dataclass(frozen=True)
class PositionPoint:
    record_id: str
    occurred_at: datetime
    received_at: datetime
    lat: float
    lon: float
    accuracy_m: float | None
    action: str


class WorkingTimeStore(Protocol):
    async def add_clock_events(self, records: list[ActivityRecord]) -> int:
        """Keep the clock events of the records in their worker's month (idempotent by event id);
        how many clock events there were."""

    async def name_worker(self, partner_id: str, instance_id: str, pin: str, user_name: str) -> None: ...

    async def worker(self, partner_id: str, instance_id: str, pin: str) -> Worker | None: ...

    async def clock_events(self, worker: Worker, utc_months: list[str]) -> list[ClockEvent]:
        """The worker's clock events of those UTC months (`YYYYMM`)."""

    async def corrections(self, worker: Worker, month: str) -> dict[date, list[StoredCorrection]]:
        """The corrections of the days of `month` (`YYYY-MM`), each day's oldest first."""

    async def add_correction(self, worker: Worker, stored: StoredCorrection) -> StoredCorrection:
        """Store a correction once by its id; a correction already stored under the id is returned instead."""

    async def drop_months_before(self, month: str) -> int: ...


class PositionStore(Protocol):
    async def positions(self, partner_id: str, serial: str, start: datetime, end: datetime) -> list[PositionPoint]:
        """The serial's points in [start, end), in time order."""


def location_of(document: dict[str, Any] | None) -> tuple[float, float, float | None] | None:
    if not document or document.get("lat") is None or document.get("lon") is None:
        return None
    accuracy = document.get("accuracy_m")
    return float(document["lat"]), float(document["lon"]), float(accuracy) if accuracy is not None else None
