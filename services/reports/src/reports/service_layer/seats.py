"""Silent seats (issue #20): licensed terminals silent for N days, per instance and partner, as a
page or a full stream for the export. Kept on write (`SeatStore`: bindings from the license
events, the last telemetry time from each batch), so a request costs a constant number of queries:
the page of seats, and their instances' names."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from reports.domain.seats import Binding, Seat, silent_days
from reports.service_layer.ports import ReportStore
from servicekit.errors import NotFound, PartnerNotAllowed
from servicekit.handlers import HandlerTable
from servicekit.pagination import Page
from servicekit.principal import Principal

EXPORT_CHUNK = 200


@dataclass(frozen=True)
class SeatFilter:
    partner_ids: tuple[str, ...]
    silent_since: datetime
    """Seats whose terminal was last seen before this instant (or never)."""
    instance_id: str | None = None


@dataclass(frozen=True)
class Seen:
    """A terminal reported something at `at` (the event's own time)."""

    partner_id: str
    instance_id: str
    serial: str
    at: datetime


class SeatStore(Protocol):
    async def bind(self, partner_id: str, instance_id: str, serial: str, event: Binding, *, unbinding: bool) -> None:
        """Apply a license event to the seat (`domain.seats.decide`); idempotent, any order."""

    async def seen(self, sightings: list[Seen]) -> None:
        """Keep each seat's latest telemetry time (a maximum: idempotent, any order); one write per batch."""

    async def silent_page(self, query: SeatFilter, limit: int, cursor: str | None) -> Page[Seat]:
        """Bound seats silent since before the cutoff: never seen first, then the longest silent."""

    def silent(self, query: SeatFilter) -> AsyncIterator[Seat]: ...


@dataclass(frozen=True)
class SilentSeatCriteria:
    partner_id: str | None = None
    instance_id: str | None = None
    days: int = 14


@dataclass(frozen=True)
class SilentSeatRow:
    partner_id: str
    instance_id: str
    instance_name: str | None
    license_id: str
    user: str | None
    serial: str | None
    last_seen_at: datetime | None
    silent_days: int | None


@dataclass
class SilentSeatQueries:
    seats: SeatStore
    reports: ReportStore

    async def silent_seats(
        self, principal: Principal, criteria: SilentSeatCriteria, limit: int, cursor: str | None, now: datetime
    ) -> Page[SilentSeatRow]:
        query = await self._filter(principal, criteria, now)
        page = await self.seats.silent_page(query, limit, cursor)
        return Page(await self._rows(page.items, now), page.next_cursor)

    async def silent_seat_rows(
        self, principal: Principal, criteria: SilentSeatCriteria, now: datetime
    ) -> AsyncIterator[SilentSeatRow]:
        """Every silent seat, for the export (checked before the first row is sent)."""
        query = await self._filter(principal, criteria, now)
        return self._stream(query, now)

    async def _stream(self, query: SeatFilter, now: datetime) -> AsyncIterator[SilentSeatRow]:
        chunk: list[Seat] = []
        async for seat in self.seats.silent(query):
            chunk.append(seat)
            if len(chunk) >= EXPORT_CHUNK:
                for row in await self._rows(chunk, now):
                    yield row
                chunk = []
        for row in await self._rows(chunk, now):
            yield row

    async def _filter(self, principal: Principal, criteria: SilentSeatCriteria, now: datetime) -> SeatFilter:
        partner_ids = scope_of(principal, criteria.partner_id)
        instance_id = criteria.instance_id
        if instance_id is not None and await self.reports.get_instance(instance_id, partner_ids) is None:
            raise NotFound("instance", instance_id)
        return SeatFilter(partner_ids, now - timedelta(days=criteria.days), criteria.instance_id)

    async def _rows(self, seats: list[Seat], now: datetime) -> list[SilentSeatRow]:
        if not seats:
            return []
        instances = await self.reports.instances_by_id({s.instance_id for s in seats})
        return [
            SilentSeatRow(
                partner_id=s.partner_id,
                instance_id=s.instance_id,
                instance_name=instances[s.instance_id].name if s.instance_id in instances else None,
                license_id=s.license_id,
                user=s.user,
                serial=s.serial,
                last_seen_at=s.last_seen_at,
                silent_days=silent_days(s.last_seen_at, now),
            )
            for s in seats
        ]


def scope_of(principal: Principal, partner_id: str | None) -> tuple[str, ...]:
    """As every reports query: partner users their partner; staff their partners, or the one picked."""
    allowed = sorted(principal.partner_ids) if principal.is_staff else [principal.partner_id]
    if partner_id is None:
        return tuple(allowed)
    if partner_id not in allowed:
        raise PartnerNotAllowed(partner_id)
    return (partner_id,)


SILENT_SEAT_QUERY_HANDLERS: HandlerTable = {
    "silent_seats": SilentSeatQueries.silent_seats,
    "silent_seat_rows": SilentSeatQueries.silent_seat_rows,
}
