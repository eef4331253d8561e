"""Silent seats: licensed terminals that sent nothing for N days (seats paid for and not used).

A *seat* is a partner's terminal in one instance: `(partner, instance, serial)`. It is *bound*
while a license of the instance holds that serial; the newest license event of the seat decides
(`license.added` with a serial binds; `license.released` / `license.revoked` of the bound license
unbind), whatever order they arrive in: the seat keeps its few license events and replays them
in stamp order (time, then id). The terminal's last
telemetry time is kept on the same document as a maximum, so any order and any redelivery give
the same value. A seat never seen carries `NEVER_SEEN` (the earliest instant), which sorts it
first and makes "silent since before the cutoff" one range condition.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

NEVER_SEEN = datetime(1970, 1, 1, tzinfo=UTC)


def seat_id(partner_id: str, instance_id: str, serial: str) -> str:
    return f"{partner_id}|{instance_id}|{serial}"


@dataclass(frozen=True)
class Binding:
    """Which license holds the seat, as of the event stamped `stamp` (None: no license)."""

    license_id: str | None
    user: str | None
    pin: str | None
    stamp: str


@dataclass(frozen=True)
class LicenseChange:
    """One license event of a seat: a binding (`license.added` with the serial) or an unbinding."""

    binding: Binding
    unbinding: bool


def holder(changes: list[LicenseChange]) -> Binding | None:
    """Who holds the seat after all its license events, replayed in stamp order: the same answer
    whatever order they arrived in (a release that arrived before a later license's add must not
    hide that add, which `decide` alone, applied in arrival order, would)."""
    current: Binding | None = None
    for change in sorted(changes, key=lambda c: c.binding.stamp):
        current = decide(current, change.binding, unbinding=change.unbinding) or current
    return current


def decide(current: Binding | None, event: Binding, *, unbinding: bool) -> Binding | None:
    """The binding after a license event; None: nothing changes (an older or repeated event, or
    the release of a license that no longer holds the seat)."""
    if current is not None and current.stamp >= event.stamp:
        return None
    if unbinding:
        if current is not None and current.license_id not in (None, event.license_id):
            return None  # another license holds the seat now
        return Binding(None, current.user if current else None, current.pin if current else None, event.stamp)
    return event


@dataclass(frozen=True)
class Seat:
    partner_id: str
    instance_id: str
    serial: str
    license_id: str
    user: str | None
    last_seen_at: datetime | None
    """None: the terminal never reported anything."""


def silent_days(last_seen_at: datetime | None, now: datetime) -> int | None:
    """Whole days since the terminal was last seen; None when never."""
    if last_seen_at is None:
        return None
    return max(0, (now - last_seen_at).days)
