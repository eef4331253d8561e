"""The working-time record (Real Decreto-ley 8/2019, art. 34.9 Estatuto de los Trabajadores): per
worker (instance and PIN) and day, the start and end of work, each pause and the time worked, built
from the terminal's clock events. Pure rules, no framework; `RULES_VERSION` names this set of rules
and is shown with every record built from it.

Events: `clock_in`, `clock_out`, `break_start`, `break_end` (the actions the terminals send); any
other action is not a clock event and is ignored.

Rules (`build_days`):

- **Time**: the terminal's own time (`occurred_at`) is the time of the record: a terminal offline for
  an hour still records when the worker clocked in. The server's time (`received_at`) is kept beside
  it for the two flags below; events are taken in the order of `occurred_at` (then their id).
- **Duplicates**: an event is identified by its id (the stored envelope id, which is the instance
  and the terminal's own event id): the same event delivered twice counts once.
- **Shift**: a `clock_in` opens a shift, the next `clock_out` closes it. A shift belongs to the day
  (in the time zone asked for, Europe/Madrid by default) of its clock-in, even when it ends after
  midnight (flag `crosses_midnight`).
- **Several shifts in a day** (a split shift): the day's start is the first clock-in, its end the
  last clock-out, and the time between a clock-out and the next clock-in is one more pause.
- **Unmatched clock-in** (`unmatched_clock_in`): a shift with no clock-out (yet), or whose
  clock-out came more than `Rules.max_shift` (16 h) later, has `end` null and counts **nothing**:
  the record never invents an end; a correction gives it one. A second `clock_in` inside an open
  shift shorter than `max_shift` is a repeated press and changes nothing (`repeated_clock_in`);
  after `max_shift` it opens a new shift and the old one stays unmatched.
- **Unmatched clock-out** (`unmatched_clock_out`): a `clock_out` with no open shift (or after one
  longer than `max_shift`) makes a day (of its own date) with `start` null, its `end`, and nothing
  counted.
- **Breaks**: `break_start` … `break_end` inside a shift is a pause. Overlapping or nested breaks
  (a `break_start` while a break is open) are merged: the pause runs from the first start to the
  end that closes the last one open (`overlapping_breaks`). A `break_end` with no break open is
  ignored (`unmatched_break_end`); a break still open at clock-out ends there
  (`unmatched_break_start`). Breaks outside any shift are ignored (`break_outside_work`), on the
  day of the event.
- **Late sync** (`late_sync`): an event received more than `Rules.late_after` (the setting
  `ACTIVITY_LATE_SYNC_THRESHOLD_S`, 900 s) after its terminal time.
- **Clock skew** (`clock_skew`): an event whose terminal time is ahead of the server's by more than
  `Rules.skew_tolerance` (2 min): the device's clock is fast, its times may be too.
- **Worked time**: the sum of the work intervals: each complete shift minus its pauses; never
  negative; the intervals never overlap and are in time order.

Corrections (`corrected_day`) are new versions of a day (start, end, pauses, who, when, why): the
terminal's version stays version 1 and is never changed; the latest version is the day's record.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

RULES_VERSION = "wt-2026.1"
CLOCK_IN, CLOCK_OUT, BREAK_START, BREAK_END = "clock_in", "clock_out", "break_start", "break_end"
CLOCK_ACTIONS = frozenset({CLOCK_IN, CLOCK_OUT, BREAK_START, BREAK_END})
DEFAULT_TZ = "Europe/Madrid"

UNMATCHED_CLOCK_IN = "unmatched_clock_in"
UNMATCHED_CLOCK_OUT = "unmatched_clock_out"
REPEATED_CLOCK_IN = "repeated_clock_in"
OVERLAPPING_BREAKS = "overlapping_breaks"
UNMATCHED_BREAK_START = "unmatched_break_start"
UNMATCHED_BREAK_END = "unmatched_break_end"
BREAK_OUTSIDE_WORK = "break_outside_work"
CROSSES_MIDNIGHT = "crosses_midnight"
LATE_SYNC = "late_sync"
CLOCK_SKEW = "clock_skew"


@dataclass(frozen=True)
class Rules:
    late_after: timedelta = timedelta(seconds=900)
    skew_tolerance: timedelta = timedelta(minutes=2)
    max_shift: timedelta = timedelta(hours=16)


@dataclass(frozen=True)
class ClockEvent:
    event_id: str
    action: str
    occurred_at: datetime  # the terminal's time: the record's
    received_at: datetime  # the server's
    record_id: str | None = None  # the activity record it came from, shown as evidence


@dataclass(frozen=True)
class Span:
    start: datetime
    end: datetime

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


@dataclass(frozen=True)
class WorkDay:
    date: date
    start: datetime | None
    end: datetime | None
    pauses: tuple[Span, ...] = ()
    intervals: tuple[Span, ...] = ()  # what was worked: complete shifts minus their pauses
    flags: tuple[str, ...] = ()
    source_record_ids: tuple[str, ...] = ()
    version: int = 1
    corrected_by: str | None = None
    corrected_at: datetime | None = None
    reason: str | None = None

    @property
    def worked_s(self) -> int:
        return sum(span.seconds for span in self.intervals)


@dataclass
class _Shift:
    start: datetime | None
    end: datetime | None = None
    pauses: list[Span] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    events: list[ClockEvent] = field(default_factory=list)
    break_open: datetime | None = None
    break_depth: int = 0

    def intervals(self) -> list[Span]:
        if self.start is None or self.end is None:
            return []
        return subtract(Span(self.start, self.end), self.pauses)


def merge(spans: Iterable[Span]) -> list[Span]:
    """Overlapping or touching spans as one; empty ones dropped; in time order."""
    merged: list[Span] = []
    for span in sorted((s for s in spans if s.end > s.start), key=lambda s: (s.start, s.end)):
        if merged and span.start <= merged[-1].end:
            if span.end > merged[-1].end:
                merged[-1] = Span(merged[-1].start, span.end)
        else:
            merged.append(span)
    return merged


def subtract(whole: Span, holes: Iterable[Span]) -> list[Span]:
    """`whole` without the `holes` (clipped to it), in time order."""
    out, cursor = [], whole.start
    for hole in merge(Span(max(h.start, whole.start), min(h.end, whole.end)) for h in holes):
        if hole.start > cursor:
            out.append(Span(cursor, hole.start))
        cursor = max(cursor, hole.end)
    if whole.end > cursor:
        out.append(Span(cursor, whole.end))
    return out


def local_date(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The day's first instant and the next day's, in UTC (23 or 25 hours on a DST change)."""
    start = datetime.combine(day, time(), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def _event_flags(event: ClockEvent, rules: Rules) -> set[str]:
    lag = event.received_at - event.occurred_at
    flags = set()
    if lag > rules.late_after:
        flags.add(LATE_SYNC)
    if -lag > rules.skew_tolerance:
        flags.add(CLOCK_SKEW)
    return flags


def dedupe(events: Iterable[ClockEvent]) -> list[ClockEvent]:
    """Clock events once each (by id), in the terminal's time order."""
    seen: dict[str, ClockEvent] = {}
    for event in events:
        if event.action in CLOCK_ACTIONS:
            seen.setdefault(event.event_id, event)
    return sorted(seen.values(), key=lambda e: (e.occurred_at, e.event_id))


@dataclass
class _Walk:
    """The shifts clock events make, one event after the other (in the terminal's time order)."""

    rules: Rules
    shifts: list[_Shift] = field(default_factory=list)
    stray: list[ClockEvent] = field(default_factory=list)  # breaks outside any shift
    open: _Shift | None = None

    def take(self, event: ClockEvent) -> None:
        shift = self.open
        too_long = (
            shift is not None and shift.start is not None and event.occurred_at - shift.start > self.rules.max_shift
        )
        if too_long and event.action in (CLOCK_IN, CLOCK_OUT):
            self.close_unmatched()
        if event.action == CLOCK_IN:
            self.clock_in(event)
        elif event.action == CLOCK_OUT:
            self.clock_out(event)
        elif self.open is None:
            self.stray.append(event)
        elif event.action == BREAK_START:
            self.break_start(self.open, event)
        else:
            self.break_end(self.open, event)

    def close_unmatched(self) -> None:
        if self.open is not None:
            self.open.flags.add(UNMATCHED_CLOCK_IN)
            self.open.end = None
            self.open.pauses.clear()  # nothing is counted, so neither are its pauses
            self.open = None

    def clock_in(self, event: ClockEvent) -> None:
        if self.open is not None:
            self.open.flags.add(REPEATED_CLOCK_IN)
            self.open.events.append(event)
            return
        self.open = _Shift(start=event.occurred_at, events=[event])
        self.shifts.append(self.open)

    def clock_out(self, event: ClockEvent) -> None:
        shift = self.open
        if shift is None:
            self.shifts.append(_Shift(start=None, end=event.occurred_at, flags={UNMATCHED_CLOCK_OUT}, events=[event]))
            return
        shift.events.append(event)
        if shift.break_open is not None:
            shift.pauses.append(Span(shift.break_open, event.occurred_at))
            shift.flags.add(UNMATCHED_BREAK_START)
        shift.end = event.occurred_at
        self.open = None

    @staticmethod
    def break_start(shift: _Shift, event: ClockEvent) -> None:
        shift.events.append(event)
        if shift.break_open is None:
            shift.break_open = event.occurred_at
        else:
            shift.flags.add(OVERLAPPING_BREAKS)
        shift.break_depth += 1

    @staticmethod
    def break_end(shift: _Shift, event: ClockEvent) -> None:
        shift.events.append(event)
        if shift.break_open is None:
            shift.flags.add(UNMATCHED_BREAK_END)
            return
        shift.break_depth -= 1
        if shift.break_depth == 0:
            shift.pauses.append(Span(shift.break_open, event.occurred_at))
            shift.break_open = None


def _shifts(events: Sequence[ClockEvent], rules: Rules) -> tuple[list[_Shift], list[ClockEvent]]:
    """The shifts the events make, and the breaks outside any of them."""
    walk = _Walk(rules)
    for event in events:
        walk.take(event)
    walk.close_unmatched()  # still open: no clock-out (yet)
    return walk.shifts, walk.stray


def build_days(events: Iterable[ClockEvent], tz: ZoneInfo, rules: Rules | None = None) -> list[WorkDay]:
    """The terminal's version (1) of every day the events touch, in date order (see the module)."""
    rules = rules or Rules()
    ordered = dedupe(events)
    shifts, stray = _shifts(ordered, rules)
    by_day: dict[date, list[_Shift]] = {}
    for shift in shifts:
        anchor = shift.start or shift.end or shift.events[0].occurred_at
        by_day.setdefault(local_date(anchor, tz), []).append(shift)
    strays: dict[date, list[ClockEvent]] = {}
    for event in stray:
        strays.setdefault(local_date(event.occurred_at, tz), []).append(event)
    days = []
    for day in sorted(by_day.keys() | strays.keys()):
        days.append(_day(day, by_day.get(day, []), strays.get(day, []), tz, rules))
    return days


def _day(day: date, shifts: list[_Shift], stray: list[ClockEvent], tz: ZoneInfo, rules: Rules) -> WorkDay:
    flags: set[str] = set()
    events: list[ClockEvent] = list(stray)
    if stray:
        flags.add(BREAK_OUTSIDE_WORK)
    intervals: list[Span] = []
    pauses: list[Span] = []
    previous_end: datetime | None = None
    for shift in shifts:
        flags |= shift.flags
        events += shift.events
        if shift.start is not None and shift.end is not None:
            if local_date(shift.end, tz) != day:
                flags.add(CROSSES_MIDNIGHT)
            if previous_end is not None and shift.start > previous_end:
                pauses.append(Span(previous_end, shift.start))  # between two shifts of a split day
            pauses += merge(Span(max(p.start, shift.start), min(p.end, shift.end)) for p in shift.pauses)
            intervals += shift.intervals()
            previous_end = shift.end
    for event in events:
        flags |= _event_flags(event, rules)
    first, last = (shifts[0], shifts[-1]) if shifts else (None, None)
    return WorkDay(
        date=day,
        start=first.start if first else None,
        end=last.end if last else None,
        pauses=tuple(merge(pauses)),
        intervals=tuple(intervals),
        flags=tuple(sorted(flags)),
        source_record_ids=tuple(
            dict.fromkeys(e.record_id or e.event_id for e in sorted(events, key=lambda e: (e.occurred_at, e.event_id)))
        ),
    )


class InvalidCorrection(ValueError):
    """A correction that cannot be a day's record; `field` names the part, `code` the rule."""

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(message)
        self.field, self.code = field, code


@dataclass(frozen=True)
class Correction:
    day: date
    start: datetime
    end: datetime | None
    pauses: tuple[Span, ...]
    reason: str
    corrected_by: str
    corrected_at: datetime


def corrected_day(correction: Correction, version: int, tz: ZoneInfo, source: WorkDay | None) -> WorkDay:
    """The day as corrected, as version `version`; refuses what cannot be a day's record."""
    c = correction
    if local_date(c.start, tz) != c.day:
        raise InvalidCorrection("start", "start_not_on_date", "the start must fall on the corrected date")
    if c.end is not None and c.end <= c.start:
        raise InvalidCorrection("end", "end_before_start", "the end must be after the start")
    if c.end is not None and c.end - c.start > timedelta(hours=24):
        raise InvalidCorrection("end", "shift_too_long", "a day's work cannot last more than 24 hours")
    for index, pause in enumerate(c.pauses):
        if pause.end <= pause.start:
            raise InvalidCorrection(f"pauses.{index}.end", "end_before_start", "a pause must end after it starts")
        if pause.start < c.start or (c.end is not None and pause.end > c.end) or c.end is None:
            raise InvalidCorrection(f"pauses.{index}", "pause_outside_work", "a pause must lie within start and end")
    pauses = merge(c.pauses)
    flags = []
    if c.end is None:
        flags.append(UNMATCHED_CLOCK_IN)
    elif local_date(c.end, tz) != c.day:
        flags.append(CROSSES_MIDNIGHT)
    intervals = subtract(Span(c.start, c.end), pauses) if c.end is not None else []
    return WorkDay(
        date=c.day,
        start=c.start,
        end=c.end,
        pauses=tuple(pauses),
        intervals=tuple(intervals),
        flags=tuple(flags),
        source_record_ids=source.source_record_ids if source else (),
        version=version,
        corrected_by=c.corrected_by,
        corrected_at=c.corrected_at,
        reason=c.reason,
    )


def empty_day(day: date) -> WorkDay:
    """Version 1 of a day the terminal reported nothing for."""
    return WorkDay(date=day, start=None, end=None)


def versions_of(day: date, reported: WorkDay | None, corrections: Sequence[Correction], tz: ZoneInfo) -> list[WorkDay]:
    """Every version of a day, oldest first: the terminal's (1), then each correction."""
    first = reported or empty_day(day)
    versions = [first]
    for number, correction in enumerate(corrections, start=2):
        versions.append(corrected_day(correction, number, tz, first))
    return versions


def month_days(month: str) -> list[date]:
    first = date.fromisoformat(f"{month}-01")
    days, current = [], first
    while current.month == first.month:
        days.append(current)
        current += timedelta(days=1)
    return days
