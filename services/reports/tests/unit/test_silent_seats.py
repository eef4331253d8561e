"""Silent seats' rules: which license holds a terminal (the newest license event, any order) and
how long it has been silent."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from reports.domain.seats import Binding, LicenseChange, decide, holder, silent_days

pytestmark = pytest.mark.unit

ADDED = Binding("lic-1", "Ana", "4821", "2026-11-01T09:00:00.000000Z|a")
RELEASED = Binding("lic-1", None, "4821", "2026-11-02T09:00:00.000000Z|b")
READDED = Binding("lic-2", "Bea", "5555", "2026-11-03T09:00:00.000000Z|c")


def apply(events: list[tuple[Binding, bool]]) -> Binding | None:
    current: Binding | None = None
    for event, unbinding in events:
        current = decide(current, event, unbinding=unbinding) or current
    return current


def test_the_newest_license_event_decides_whatever_order_and_however_often_they_arrive() -> None:
    events = [(ADDED, False), (RELEASED, True), (READDED, False)]
    for order in itertools.permutations(events + events[:1]):
        final = apply(list(order))
        assert final == READDED, order
    for order in itertools.permutations(events[:2]):
        final = apply(list(order))
        assert final is not None
        assert (final.license_id, final.stamp) == (None, RELEASED.stamp), "released: no license holds it"


def test_a_release_arriving_before_a_later_license_of_the_seat_never_hides_it() -> None:
    """Replayed in stamp order, any arrival order gives the holder of the last event: here the
    release of lic-1 (stamped after lic-2's add) leaves lic-2 holding the seat."""
    first = Binding("lic-1", "Ana", "1", "2026-11-01T09:00:00.000000Z|a")
    second = Binding("lic-2", "Bea", "2", "2026-11-02T09:00:00.000000Z|b")
    release_first = Binding("lic-1", None, "1", "2026-11-03T09:00:00.000000Z|c")
    changes = [LicenseChange(first, False), LicenseChange(second, False), LicenseChange(release_first, True)]
    for order in itertools.permutations(changes):
        assert holder(list(order)) == second, order


def test_a_repeated_or_older_event_changes_nothing() -> None:
    assert decide(ADDED, ADDED, unbinding=False) is None
    assert decide(READDED, RELEASED, unbinding=True) is None


def test_the_release_of_a_license_that_no_longer_holds_the_seat_leaves_it_bound() -> None:
    later_release_of_other = Binding("lic-9", None, "1", "2026-11-04T00:00:00.000000Z|d")
    assert decide(READDED, later_release_of_other, unbinding=True) is None


def test_silent_days_are_whole_days_and_none_when_never_seen() -> None:
    now = datetime(2026, 12, 2, 12, tzinfo=UTC)
    assert silent_days(None, now) is None
    assert silent_days(now - timedelta(days=14, hours=1), now) == 14
    assert silent_days(now - timedelta(hours=23), now) == 0
    assert silent_days(now + timedelta(hours=1), now) == 0, "a terminal clock ahead is not negative silence"
