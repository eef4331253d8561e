"""The remote-action trail's use cases: actions requested by the instances service's events, moved
on by the terminals' own telemetry (`activity.domain.remote_actions`), and read per terminal or
per instance (overdue clear-session requests in the instance view).

An impersonation's action id is its grant id (the token's `jti`): the panel's events name it in
`details.impersonation_id`, so they find their action by id, whatever serial they carry. A panel
event seen before its grant's request (the two travel on different topics) is kept as a sighting
of the grant and read when the request arrives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from activity.domain.model import ActivityRecord, RecordKind, Window
from activity.domain.remote_actions import GRANT_DETAIL, ActionKind, ActionState, Observed, RemoteAction
from activity.service_layer.ports import ActivityStore, IngestKeyStore, RecordQuery, TerminalStore
from contracts import EventEnvelope
from contracts.events.common import Actor
from contracts.events.instances import SessionCleared
from contracts.events.licenses import LicenseImpersonated, LicenseReleased
from contracts.serials import canonical_serial
from servicekit.errors import NotFound
from servicekit.handlers import HandlerTable
from servicekit.pagination import Page

CATCH_UP_RECORDS = 200
"""The terminal's records already stored when a request is first seen (its reaction may come
through Kafka before the request does): read once, at most this many."""


@dataclass(frozen=True)
class ActionSearch:
    partner_id: str
    serial: str | None = None
    instance_id: str | None = None
    state: ActionState | None = None
    requested_before: datetime | None = None
    """Only actions requested before this instant (with `state=requested`: the overdue ones)."""
    limit: int = 50
    cursor: str | None = None


class RemoteActionStore(Protocol):
    async def add(self, actions: list[RemoteAction]) -> list[RemoteAction]:
        """Store actions once by id; returns those stored now (the others were there already)."""

    async def open_for(self, serials: set[str]) -> list[RemoteAction]:
        """Actions of these serials (any partner) still waiting for their terminal."""

    async def open_by_id(self, ids: set[str]) -> list[RemoteAction]:
        """Actions with these ids still waiting (an impersonation's id is its grant id)."""

    async def sighted(self, sightings: dict[str, list[Observed]]) -> None:
        """Keep events that name a grant (by grant id) whose request has not arrived yet."""

    async def sightings(self, grant_id: str) -> list[Observed]:
        """The events kept for this grant."""

    async def forget_sightings(self, grant_id: str) -> None:
        """Drop the events kept for this grant (its request has arrived and read them)."""

    async def prune_sightings(self, before: datetime) -> int:
        """Drop the sightings first kept before this instant (their request never came); how many."""

    async def progress(self, actions: list[RemoteAction]) -> None:
        """Store the actions' new delivered/applied times (an applied one is no longer open)."""

    async def search(self, asked: ActionSearch) -> Page[RemoteAction]:
        """Newest request first, by (partner, serial) or (partner, instance[, state]); a search for
        requested or delivered ones may read only the actions still open."""


@dataclass(frozen=True)
class RemoteActionView:
    """An action as answered: its state and whether it is overdue now."""

    id: str
    kind: ActionKind
    instance_id: str
    serial: str | None
    license_id: str | None
    requested_at: datetime
    requested_by: str | None
    delivered_at: datetime | None
    applied_at: datetime | None
    state: ActionState
    overdue: bool
    expired: bool

    @classmethod
    def of(cls, action: RemoteAction, now: datetime, overdue_after: timedelta) -> RemoteActionView:
        return cls(
            action.id,
            action.kind,
            action.instance_id,
            action.serial,
            action.license_id,
            action.requested_at,
            action.requested_by,
            action.delivered_at,
            action.applied_at,
            action.state,
            action.overdue(now, overdue_after),
            action.expired(now),
        )


def requested_by(actor: Actor) -> str:
    return actor.user_id


def observed(record: ActivityRecord) -> Observed:
    epoch = record.details.get("session_epoch")
    grant = record.details.get(GRANT_DETAIL)
    return Observed(
        serial=record.serial,
        partner_id=record.partner_id,
        action=record.action,
        pin=record.pin,
        occurred_at=record.occurred_at,
        received_at=record.received_at,
        session_epoch=epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else None,
        instance_id=record.instance_id,
        grant_id=grant if isinstance(grant, str) and grant else None,
    )


SIGHTINGS_KEPT = timedelta(days=2)


@dataclass
class RemoteActionTrail:
    """The event side: requests become actions, telemetry moves them on (idempotent by event id)."""

    actions: RemoteActionStore
    records: ActivityStore

    async def prune_sightings(self, now: datetime) -> int:
        """Drop the panel's events kept for grants whose request has not come in `SIGHTINGS_KEPT`
        (run by the retention job): a grant's request follows within seconds, or after an outage
        within hours, so what is older will never be read."""
        return await self.actions.prune_sightings(now - SIGHTINGS_KEPT)

    async def session_cleared(self, event: EventEnvelope[SessionCleared], serials: list[str]) -> None:
        data = event.data
        # An instance-wide clear is one action per terminal the instance reported from; with none
        # known, one action without terminal, which only the overdue flag can show.
        scope: list[str | None] = [data.serial] if data.serial else [*serials] or [None]
        await self._requested(
            [
                RemoteAction(
                    id=str(event.id) if data.serial or serial is None else f"{event.id}~{serial}",
                    kind=ActionKind.SESSION_CLEAR,
                    partner_id=data.partner_id,
                    instance_id=data.instance_id,
                    serial=serial,
                    requested_at=event.time,
                    requested_by=requested_by(data.cleared_by),
                    session_epoch=data.session_epoch,
                )
                for serial in scope
            ]
        )

    async def license_released(self, event_id: str, at: datetime, data: LicenseReleased) -> None:
        action = RemoteAction(
            id=event_id,
            kind=ActionKind.LICENSE_RELEASE,
            partner_id=data.partner_id,
            instance_id=data.instance_id,
            serial=data.serial,
            requested_at=at,
            requested_by=requested_by(data.released_by),
            license_id=data.license_id,
            pin=data.pin,
        )
        await self._requested([action])

    async def impersonated(self, at: datetime, data: LicenseImpersonated) -> None:
        action = RemoteAction(
            id=data.grant_id,
            kind=ActionKind.IMPERSONATION,
            partner_id=data.partner_id,
            instance_id=data.instance_id,
            serial=data.serial,
            requested_at=at,
            requested_by=requested_by(data.impersonated_by),
            license_id=data.license_id,
            pin=data.pin,
            expires_at=data.expires_at,
        )
        await self._requested([action])

    async def telemetry(self, records: list[ActivityRecord]) -> None:
        """One read of the open actions of the batch's serials (and one of the grants its events
        name, if any), one write per action moved on."""
        events = [observed(r) for r in records if r.kind == RecordKind.TELEMETRY]
        if not events:
            return
        waiting = {a.id: a for a in await self.actions.open_for({e.serial for e in events})}
        grants = {e.grant_id for e in events if e.grant_id is not None}
        if grants:
            waiting |= {a.id: a for a in await self.actions.open_by_id(grants)}
            unknown = grants - waiting.keys()
            if unknown:  # maybe their request is still on its way: kept for when it arrives
                await self.actions.sighted({g: [e for e in events if e.grant_id == g] for g in sorted(unknown)})
        await self._advance(list(waiting.values()), events)

    async def _requested(self, actions: list[RemoteAction]) -> None:
        new = await self.actions.add(actions)
        for action in new:  # the terminal may have reacted before the request reached us
            if action.kind == ActionKind.IMPERSONATION:
                await self._advance([action], await self.actions.sightings(action.id))
                await self.actions.forget_sightings(action.id)  # read once: not kept for ever
                continue
            if action.serial is None:
                continue
            now = max(datetime.now(action.requested_at.tzinfo), action.requested_at + timedelta(seconds=1))
            window = Window(action.requested_at - timedelta(minutes=5), now + timedelta(minutes=5))
            query = RecordQuery(
                action.partner_id, window, serial=action.serial, kind=RecordKind.TELEMETRY, limit=CATCH_UP_RECORDS
            )
            found = await self.records.search(query)
            telemetry = [observed(r) for r in found.items if r.kind == RecordKind.TELEMETRY]
            await self._advance([action], telemetry)

    async def _advance(self, waiting: list[RemoteAction], events: list[Observed]) -> None:
        moved = [after for before in waiting if (after := before.observe(events)) != before]
        if moved:
            await self.actions.progress(moved)


@dataclass
class RemoteActionQueries:
    actions: RemoteActionStore
    terminals: TerminalStore
    keys: IngestKeyStore
    overdue_after: timedelta = timedelta(hours=1)

    async def terminal_actions(
        self, partner_id: str, serial: str, limit: int, cursor: str | None, now: datetime
    ) -> Page[RemoteActionView]:
        """A terminal's remote actions, newest first; another partner's (or no) terminal is a 404."""
        canonical = canonical_serial(serial)
        page = await self.actions.search(ActionSearch(partner_id, serial=canonical, limit=limit, cursor=cursor))
        if not page.items and cursor is None and await self.terminals.get(partner_id, canonical) is None:
            raise NotFound("terminal", canonical)
        return Page([RemoteActionView.of(a, now, self.overdue_after) for a in page.items], page.next_cursor)

    async def instance_actions(
        self,
        partner_id: str,
        instance_id: str | None,
        state: ActionState | None,
        overdue: bool,
        limit: int,
        cursor: str | None,
        now: datetime,
    ) -> Page[RemoteActionView]:
        """An instance's (or all the partner's) remote actions, newest first; `overdue`: those still
        requested after the overdue time. Another partner's instance is a 404."""
        if overdue:
            if state not in (None, ActionState.REQUESTED):
                return Page([], None)
            asked = ActionSearch(
                partner_id, instance_id=instance_id, state=ActionState.REQUESTED,
                requested_before=now - self.overdue_after, limit=limit, cursor=cursor,
            )  # fmt: skip
        else:
            asked = ActionSearch(partner_id, instance_id=instance_id, state=state, limit=limit, cursor=cursor)
        page = await self.actions.search(asked)
        if overdue:  # an impersonation still requested expires instead of turning overdue
            page = Page([a for a in page.items if a.kind != ActionKind.IMPERSONATION], page.next_cursor)
        if not page.items and instance_id is not None and cursor is None:
            key = await self.keys.get(instance_id)
            if key is not None and key.partner_id != partner_id:
                raise NotFound("instance", instance_id)
        return Page([RemoteActionView.of(a, now, self.overdue_after) for a in page.items], page.next_cursor)


REMOTE_ACTION_QUERY_HANDLERS: HandlerTable = {
    "terminal_actions": RemoteActionQueries.terminal_actions,
    "instance_actions": RemoteActionQueries.instance_actions,
}
