"""The working-time rules on hand-made clock event sequences, one per edge case, and a property:
whatever the events, the work intervals are ordered, never overlap and add up to the time worked."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activity.domain.working_time import (
    BREAK_OUTSIDE_WORK,
    CLOCK_ACTIONS,
    CLOCK_SKEW,
    CROSSES_MIDNIGHT,
    LATE_SYNC,
    OVERLAPPING_BREAKS,
    REPEATED_CLOCK_IN,
    UNMATCHED_BREAK_END,
    UNMATCHED_BREAK_START,
    UNMATCHED_CLOCK_IN,
    UNMATCHED_CLOCK_OUT,
    ClockEvent,
    Correction,
    InvalidCorrection,
    Span,
    build_days,
    corrected_day,
    versions_of,
)

MADRID = ZoneInfo("Europe/Madrid")
DAY = date(2026, 11, 3)


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    """A Madrid wall-clock time (UTC+1 in November) as UTC."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=MADRID).astimezone(UTC)


_counter = iter(range(10**9))


def ev(action: str, when: datetime, *, received: datetime | None = None, event_id: str | None = None) -> ClockEvent:
    event_id = event_id or f"e{next(_counter)}"
    return ClockEvent(event_id, action, when, received or when + timedelta(seconds=5), f"r-{event_id}")


def one(events: list[ClockEvent]) -> object:
    days = build_days(events, MADRID)
    assert len(days) == 1, days
    return days[0]


def test_a_plain_day_with_a_break() -> None:
    day = build_days(
        [ev("clock_in", at(8)), ev("break_start", at(12)), ev("break_end", at(12, 30)), ev("clock_out", at(17))],
        MADRID,
    )[0]
    assert (day.date, day.start, day.end) == (DAY, at(8), at(17))
    assert day.pauses == (Span(at(12), at(12, 30)),)
    assert day.worked_s == 8 * 3600 + 30 * 60
    assert day.flags == ()
    assert len(day.source_record_ids) == 4


def test_an_unmatched_clock_in_has_no_end_and_counts_nothing() -> None:
    day = build_days([ev("clock_in", at(8)), ev("break_start", at(12))], MADRID)[0]
    assert (day.start, day.end, day.worked_s) == (at(8), None, 0)
    assert UNMATCHED_CLOCK_IN in day.flags
    assert day.intervals == ()


def test_a_clock_out_after_the_longest_shift_leaves_both_ends_unmatched() -> None:
    days = build_days([ev("clock_in", at(8)), ev("clock_out", at(9, day=DAY + timedelta(days=1)))], MADRID)
    assert [d.date for d in days] == [DAY, DAY + timedelta(days=1)]
    assert UNMATCHED_CLOCK_IN in days[0].flags and days[0].worked_s == 0
    assert UNMATCHED_CLOCK_OUT in days[1].flags and days[1].start is None and days[1].end == at(9, day=days[1].date)


def test_an_unmatched_clock_out_makes_a_day_with_no_start() -> None:
    day = build_days([ev("clock_out", at(17))], MADRID)[0]
    assert (day.start, day.end, day.worked_s, day.flags) == (None, at(17), 0, (UNMATCHED_CLOCK_OUT,))


def test_a_repeated_clock_in_changes_nothing() -> None:
    day = build_days([ev("clock_in", at(8)), ev("clock_in", at(8, 5)), ev("clock_out", at(16))], MADRID)[0]
    assert (day.start, day.worked_s) == (at(8), 8 * 3600)
    assert REPEATED_CLOCK_IN in day.flags


def test_overlapping_and_nested_breaks_are_merged() -> None:
    events = [
        ev("clock_in", at(8)),
        ev("break_start", at(10)),
        ev("break_start", at(10, 10)),  # nested
        ev("break_end", at(10, 20)),
        ev("break_end", at(10, 40)),
        ev("clock_out", at(16)),
    ]
    day = build_days(events, MADRID)[0]
    assert day.pauses == (Span(at(10), at(10, 40)),)
    assert day.worked_s == 8 * 3600 - 40 * 60
    assert OVERLAPPING_BREAKS in day.flags


def test_a_break_end_without_start_is_ignored_and_a_break_open_at_clock_out_ends_there() -> None:
    events = [
        ev("clock_in", at(8)),
        ev("break_end", at(9)),
        ev("break_start", at(15)),
        ev("clock_out", at(16)),
    ]
    day = build_days(events, MADRID)[0]
    assert day.pauses == (Span(at(15), at(16)),)
    assert day.worked_s == 7 * 3600
    assert {UNMATCHED_BREAK_END, UNMATCHED_BREAK_START} <= set(day.flags)


def test_breaks_outside_work_are_ignored_and_flagged() -> None:
    events = [
        ev("break_start", at(7)),
        ev("break_end", at(7, 30)),
        ev("clock_in", at(8)),
        ev("clock_out", at(12)),
        ev("break_start", at(13)),
    ]
    day = build_days(events, MADRID)[0]
    assert (day.pauses, day.worked_s) == ((), 4 * 3600)
    assert BREAK_OUTSIDE_WORK in day.flags


def test_a_night_shift_belongs_to_the_day_of_its_clock_in() -> None:
    events = [ev("clock_in", at(22)), ev("clock_out", at(6, day=DAY + timedelta(days=1)))]
    day = one(events)
    assert day.date == DAY  # type: ignore[attr-defined]
    assert day.worked_s == 8 * 3600  # type: ignore[attr-defined]
    assert CROSSES_MIDNIGHT in day.flags  # type: ignore[attr-defined]


def test_the_day_is_the_one_of_the_time_zone_asked_for() -> None:
    """23:30 in Madrid on the 3rd is 22:30 UTC on the 3rd, and 07:30 in Tokyo on the 4th."""
    events = [ev("clock_in", at(23, 30)), ev("clock_out", at(23, 45))]
    assert build_days(events, MADRID)[0].date == DAY
    assert build_days(events, ZoneInfo("Asia/Tokyo"))[0].date == DAY + timedelta(days=1)


def test_a_split_shift_is_one_day_with_the_time_between_as_a_pause() -> None:
    events = [ev("clock_in", at(8)), ev("clock_out", at(13)), ev("clock_in", at(15)), ev("clock_out", at(19))]
    day = one(events)
    assert (day.start, day.end) == (at(8), at(19))  # type: ignore[attr-defined]
    assert day.pauses == (Span(at(13), at(15)),)  # type: ignore[attr-defined]
    assert day.worked_s == 9 * 3600  # type: ignore[attr-defined]


def test_a_redelivered_event_counts_once() -> None:
    clock_in = ev("clock_in", at(8), event_id="same")
    events = [clock_in, ev("clock_out", at(12)), clock_in, ev("clock_in", at(8), event_id="same")]
    day = one(events)
    assert day.worked_s == 4 * 3600  # type: ignore[attr-defined]
    assert REPEATED_CLOCK_IN not in day.flags  # type: ignore[attr-defined]


def test_the_terminal_time_is_the_record_and_late_or_early_server_times_are_flagged() -> None:
    late = ev("clock_in", at(8), received=at(10))  # offline for two hours
    skewed = ev("clock_out", at(16), received=at(15, 50))  # the device clock ten minutes ahead
    day = one([late, skewed])
    assert (day.start, day.end) == (at(8), at(16))  # type: ignore[attr-defined]
    assert {LATE_SYNC, CLOCK_SKEW} <= set(day.flags)  # type: ignore[attr-defined]
    on_time = one([ev("clock_in", at(8), received=at(8, 1)), ev("clock_out", at(16), received=at(15, 59))])
    assert not {LATE_SYNC, CLOCK_SKEW} & set(on_time.flags)  # type: ignore[attr-defined]


def test_events_out_of_order_are_taken_in_the_terminal_time_order() -> None:
    events = [ev("clock_out", at(16)), ev("break_end", at(13)), ev("clock_in", at(8)), ev("break_start", at(12))]
    assert one(events).worked_s == 7 * 3600  # type: ignore[attr-defined]


def test_other_actions_are_not_clock_events() -> None:
    assert build_days([ev("gps_fix", at(8)), ev("login", at(9))], MADRID) == []


def test_a_correction_is_a_new_version_and_the_first_stays_as_reported() -> None:
    reported = build_days([ev("clock_in", at(8))], MADRID)[0]
    fix = Correction(DAY, at(8), at(16), (Span(at(12), at(13)),), "forgot to clock out", "usr-1", at(18))
    versions = versions_of(DAY, reported, [fix], MADRID)
    assert [v.version for v in versions] == [1, 2]
    assert versions[0] == reported and versions[0].end is None
    assert (versions[1].worked_s, versions[1].corrected_by, versions[1].reason) == (7 * 3600, "usr-1", fix.reason)
    assert versions[1].source_record_ids == reported.source_record_ids


@pytest.mark.parametrize(
    ("start", "end", "pauses", "field"),
    [
        (at(8, day=DAY + timedelta(days=1)), at(9, day=DAY + timedelta(days=1)), (), "start"),
        (at(8), at(7), (), "end"),
        (at(8), at(9), (Span(at(10), at(11)),), "pauses.0"),
        (at(8), at(12), (Span(at(10), at(9)),), "pauses.0.end"),
    ],
)
def test_a_correction_that_cannot_be_a_record_names_its_field(
    start: datetime, end: datetime, pauses: tuple[Span, ...], field: str
) -> None:
    with pytest.raises(InvalidCorrection) as refused:
        corrected_day(Correction(DAY, start, end, pauses, "why", "usr-1", at(18)), 2, MADRID, None)
    assert refused.value.field == field


# ------------------------------------------------------------------------------ property

BASE = datetime(2026, 3, 27, 20, tzinfo=UTC)  # around the spring DST change in Madrid
events_strategy = st.lists(
    st.tuples(
        st.sampled_from(sorted(CLOCK_ACTIONS)),
        st.integers(min_value=0, max_value=4 * 24 * 60),  # minutes over four days
        st.integers(min_value=-30, max_value=60),  # server minus terminal, minutes
        st.integers(min_value=0, max_value=40),  # ids: some repeat
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(events_strategy, st.sampled_from(["Europe/Madrid", "UTC", "America/New_York", "Asia/Kolkata"]))
def test_any_sequence_gives_ordered_disjoint_intervals_adding_up_to_the_time_worked(
    raw: list[tuple[str, int, int, int]], tz: str
) -> None:
    events = [
        ClockEvent(f"id{n}", action, BASE + timedelta(minutes=m), BASE + timedelta(minutes=m + lag))
        for action, m, lag, n in raw
    ]
    days = build_days(events, ZoneInfo(tz))
    assert [d.date for d in days] == sorted({d.date for d in days})
    everything = [span for day in days for span in day.intervals]
    for span in everything:
        assert span.end > span.start
    for before, after in itertools.pairwise(everything):
        assert before.end <= after.start
    for day in days:
        assert day.worked_s >= 0
        assert day.worked_s == sum(int((s.end - s.start).total_seconds()) for s in day.intervals)
        if day.start is not None and day.end is not None and day.intervals:
            assert day.start <= day.intervals[0].start and day.intervals[-1].end <= day.end
        for pause in day.pauses:
            assert not any(s.start < pause.end and pause.start < s.end for s in day.intervals)
    assert len({e.event_id for e in events}) >= sum(len(d.source_record_ids) for d in days)
