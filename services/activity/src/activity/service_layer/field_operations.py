"""Field operations (issue #20): a worker's working-time record (month, day with its versions, a
correction, the export's data) and a terminal's positions of a day. Scoped by partner like every
activity read: another partner's worker or terminal is absent (404)."""

from __future__ import annotations

import functools
import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from activity.domain.model import ActivityRecord
from activity.domain.working_time import (
    DEFAULT_TZ,
    RULES_VERSION,
    Correction,
    InvalidCorrection,
    Rules,
    Span,
    WorkDay,
    build_days,
    day_bounds,
    month_days,
    versions_of,
)
from activity.service_layer.field_ports import PositionPoint, PositionStore, StoredCorrection, Worker, WorkingTimeStore
from activity.service_layer.ports import TerminalStore
from contracts.serials import canonical_serial
from servicekit.concurrency import together
from servicekit.errors import InvalidInput, NotFound
from servicekit.pagination import InvalidCursor, decode_cursor, encode_cursor

MAX_REASON = 500


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def zone(name: str | None, where: str = "query") -> ZoneInfo:
    """The time zone asked for (Europe/Madrid by default), one of the IANA database's names; a 422
    naming `tz` otherwise (never a path: only the names the database lists are opened)."""
    name = name or DEFAULT_TZ
    if name not in _zones():
        raise InvalidInput.of_field("tz", "unknown_time_zone", "is not a known IANA time zone", where=where)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise InvalidInput.of_field("tz", "unknown_time_zone", "is not a known IANA time zone", where=where) from exc


def parse_month(value: str) -> str:
    try:
        first = date.fromisoformat(f"{value}-01")
    except ValueError as exc:
        raise InvalidInput.of_field("month", "invalid_month", "must be a month as YYYY-MM", where="query") from exc
    if len(value) != 7 or not FIRST_YEAR <= first.year <= LAST_YEAR:
        raise InvalidInput.of_field("month", "invalid_month", "must be a month as YYYY-MM", where="query")
    return value


FIRST_YEAR, LAST_YEAR = 2000, 2999


def check_day(day: date, field: str = "date", where: str = "query") -> date:
    """A day the record can hold (years 2000 to 2999: the calendar's ends overflow in any time zone)."""
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise InvalidInput.of_field(
            field,
            "date_range",
            f"must lie between the years {FIRST_YEAR} and {LAST_YEAR}",
            where=where,
            params={"first": FIRST_YEAR, "last": LAST_YEAR},
        )
    return day


@dataclass(frozen=True)
class MonthRecord:
    worker: Worker
    month: str
    days: list[WorkDay]
    rules_version: str = RULES_VERSION

    @property
    def total_worked_s(self) -> int:
        return sum(day.worked_s for day in self.days)


@dataclass(frozen=True)
class DayRecord:
    day: WorkDay  # the latest version
    versions: list[WorkDay]


@dataclass(frozen=True)
class CorrectionAsked:
    instance_id: str
    pin: str
    day: date
    start: datetime
    end: datetime | None
    pauses: list[tuple[datetime, datetime]]
    reason: str
    tz: str | None = None


@dataclass(frozen=True)
class PositionsPage:
    items: list[tuple[PositionPoint, int | None]]  # each point and the gap before it (when over the threshold)
    next_cursor: str | None
    gap_threshold_s: int


def _utc_months(start: datetime, end: datetime) -> list[str]:
    months, current = [], start.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while current < end:
        months.append(current.strftime("%Y%m"))
        current = (current + timedelta(days=32)).replace(day=1)
    return months


@dataclass
class FieldQueries:
    working_time: WorkingTimeStore
    positions_store: PositionStore
    terminals: TerminalStore
    rules: Rules = field(default_factory=Rules)
    gap_threshold_s: int = 600

    async def _worker(self, partner_id: str, instance_id: str, pin: str) -> Worker:
        worker = await self.working_time.worker(partner_id, instance_id, pin)
        if worker is None:
            raise NotFound("worker", f"{instance_id}/{pin}")
        return worker

    async def _reported(self, worker: Worker, days: list[date], tz: ZoneInfo) -> dict[date, WorkDay]:
        """The terminal's version of each of `days`, from the events around them (a shift begun the
        day before the first may end in it; one begun on the last may end the day after)."""
        start, _ = day_bounds(days[0], tz)
        _, end = day_bounds(days[-1], tz)
        around = self.rules.max_shift + timedelta(days=1)
        events = await self.working_time.clock_events(worker, _utc_months(start - around, end + around))
        wanted = set(days)
        return {d.date: d for d in build_days(events, tz, self.rules) if d.date in wanted}

    async def _read(
        self, partner_id: str, instance_id: str, pin: str, days: list[date], tz: ZoneInfo
    ) -> tuple[Worker, dict[date, WorkDay], dict[date, list[StoredCorrection]]]:
        """The worker, the terminal's days and the corrections, read at once (the reads are keyed by
        the partner, so nothing of another partner's is read; the worker's absence is a 404)."""
        asked = Worker(partner_id, instance_id, pin, None)
        found: list[Any] = await together(
            self.working_time.worker(partner_id, instance_id, pin),
            self._reported(asked, days, tz),
            self.working_time.corrections(asked, days[0].strftime("%Y-%m")),
        )
        worker = cast("Worker | None", found[0])
        if worker is None:
            raise NotFound("worker", f"{instance_id}/{pin}")
        return worker, cast("dict[date, WorkDay]", found[1]), cast("dict[date, list[StoredCorrection]]", found[2])

    async def month(self, partner_id: str, instance_id: str, pin: str, month: str, tz_name: str | None) -> MonthRecord:
        """The month of a worker (`YYYY-MM`, days in `tz`): each day's latest version."""
        month, tz = parse_month(month), zone(tz_name)
        days = month_days(month)
        worker, reported, corrections = await self._read(partner_id, instance_id, pin, days, tz)
        shown = []
        for day in days:
            fixes = corrections.get(day, [])
            if day not in reported and not fixes:
                continue
            shown.append(versions_of(day, reported.get(day), [s.correction for s in fixes], tz)[-1])
        return MonthRecord(worker, month, shown)

    async def day(self, partner_id: str, instance_id: str, pin: str, day: date, tz_name: str | None) -> DayRecord:
        """One day of a worker with every version, oldest first (version 1: as the terminal reported)."""
        tz, day = zone(tz_name), check_day(day)
        _, reported, corrections = await self._read(partner_id, instance_id, pin, [day], tz)
        fixes = corrections.get(day, [])
        versions = versions_of(day, reported.get(day), [s.correction for s in fixes], tz)
        return DayRecord(versions[-1], versions)

    async def positions(
        self,
        partner_id: str,
        serial: str,
        day: date,
        tz_name: str | None,
        limit: int,
        cursor: str | None,
    ) -> PositionsPage:
        """A terminal's points of a day in time order; a point after a silence over the threshold
        says how long it was (`gap_before_s`); paged."""
        tz, serial, day = zone(tz_name), canonical_serial(serial), check_day(day)
        if await self.terminals.get(partner_id, serial) is None:
            raise NotFound("terminal", serial)
        start, end = day_bounds(day, tz)
        points = await self.positions_store.positions(partner_id, serial, start, end)
        items: list[tuple[PositionPoint, int | None]] = []
        previous: PositionPoint | None = None
        for point in points:
            gap = int((point.occurred_at - previous.occurred_at).total_seconds()) if previous else None
            items.append((point, gap if gap is not None and gap > self.gap_threshold_s else None))
            previous = point
        if cursor is not None:
            at, record_id = decode_cursor(cursor)
            if not isinstance(at, datetime) or not isinstance(record_id, str):
                raise InvalidCursor("the cursor is not one this API returned")
            items = [i for i in items if (i[0].occurred_at, i[0].record_id) > (at, record_id)]
        page = items[:limit]
        next_cursor = encode_cursor(page[-1][0].occurred_at, page[-1][0].record_id) if len(items) > limit else None
        return PositionsPage(page, next_cursor, self.gap_threshold_s)


@dataclass
class FieldCommands:
    working_time: WorkingTimeStore
    queries: FieldQueries

    async def correct_day(
        self, partner_id: str, user_id: str, asked: CorrectionAsked, now: datetime, idempotency_key: str | None
    ) -> WorkDay:
        """A new version of a worker's day (who, when, why); the terminal's version is never changed."""
        tz = zone(asked.tz, where="body")
        check_day(asked.day, where="body")
        check_day(asked.start.date(), "start", where="body")
        if asked.end is not None:
            check_day(asked.end.date(), "end", where="body")
        for index, (start, end) in enumerate(asked.pauses):
            check_day(start.date(), f"pauses.{index}.start", where="body")
            check_day(end.date(), f"pauses.{index}.end", where="body")
        if not asked.reason.strip() or len(asked.reason) > MAX_REASON:
            raise InvalidInput.of_field(
                "reason",
                "reason_required",
                f"is required, at most {MAX_REASON} characters",
                where="body",
                params={"limit": MAX_REASON},
            )
        worker = await self.queries._worker(partner_id, asked.instance_id, asked.pin)
        correction = Correction(
            asked.day,
            asked.start.astimezone(UTC),
            asked.end.astimezone(UTC) if asked.end else None,
            tuple(Span(s.astimezone(UTC), e.astimezone(UTC)) for s, e in asked.pauses),
            asked.reason.strip(),
            user_id,
            now,
        )
        try:
            versions_of(asked.day, None, [correction], tz)  # refuses what cannot be a day's record
        except InvalidCorrection as exc:
            raise InvalidInput.of_field(exc.field, exc.code, str(exc), where="body") from exc
        correction_id = (
            hashlib.sha256(f"{partner_id}/{user_id}/{idempotency_key}".encode()).hexdigest()[:32]
            if idempotency_key
            else uuid.uuid4().hex
        )
        await self.working_time.add_correction(worker, StoredCorrection(correction_id, correction))
        found = await self.queries.day(partner_id, asked.instance_id, asked.pin, asked.day, asked.tz)
        fixes = (await self.working_time.corrections(worker, asked.day.strftime("%Y-%m"))).get(asked.day, [])
        ids = [s.correction_id for s in fixes]
        # This correction's version (a retry answers with the one first stored)
        return found.versions[ids.index(correction_id) + 1] if correction_id in ids else found.day

    async def enforce_retention(self, today: date, retention_days: int) -> int:
        """Drop the months of the record wholly older than the retention (run with the records' retention)."""
        cutoff = (today - timedelta(days=retention_days)).strftime("%Y%m")
        return await self.working_time.drop_months_before(cutoff)


@dataclass
class FieldProjection:
    """What the consumer keeps for the working-time record (called by the activity event handlers)."""

    working_time: WorkingTimeStore

    async def apply(self, records: list[ActivityRecord]) -> None:
        await self.working_time.add_clock_events(records)

    async def name_worker(self, partner_id: str, instance_id: str, pin: str, user_name: str) -> None:
        await self.working_time.name_worker(partner_id, instance_id, pin, user_name)
