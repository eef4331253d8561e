"""The remote-action trail: what the platform asked a terminal to do, and whether it reached it.

A remote action is requested by an event of the instances service (`session.cleared`,
`license.released`, `license.impersonated`); the terminal's own telemetry then shows it arriving
and taking effect:

- **session_clear** (epoch E): *delivered* when the terminal reports an event carrying
  `details.session_epoch >= E` (terminals report the epoch they saw with `config_fetched` and
  `login`) or a `config_fetched` / `session_expired` event received after the request;
  *applied* when it logs in (`login`) with `session_epoch >= E`, or, reporting no epoch, logs in
  after the request was delivered.
- **license_release** (PIN P): *delivered* at the terminal's first event received after the
  request (it is in contact again); *applied* at its first event after the request that no
  longer uses P (another PIN, or none): the seat no longer binds it.
- **impersonation** (grant G, the token's `jti`): moved on only by events carrying
  `details.impersonation_id == G` from the same partner and instance, whatever serial they name
  (the WDS panel reports through the same ingest endpoint): *delivered* at the first one (the
  panel opened a session with the grant, `impersonation_started`), *applied* at
  `impersonation_ended` (the session as the user ran and closed). Never delivered before the
  grant's `expires_at`, it is *expired* (still `requested`: the token can no longer open one).

Only events received after the request count (server time), so an event the terminal stored
before and synced late is not taken for a reaction. Times are the events' own (`occurred_at`),
never earlier than the step before. An action is *overdue* while requested and not delivered
for longer than the configured time. Pure rules: no framework, no store.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum


class ActionKind(StrEnum):
    SESSION_CLEAR = "session_clear"
    LICENSE_RELEASE = "license_release"
    IMPERSONATION = "impersonation"


class ActionState(StrEnum):
    REQUESTED = "requested"
    DELIVERED = "delivered"
    APPLIED = "applied"


SESSION_SIGNALS = frozenset({"config_fetched", "session_expired"})
IMPERSONATION_ENDED = "impersonation_ended"
GRANT_DETAIL = "impersonation_id"
"""The detail by which the panel's events name the grant they belong to."""


@dataclass(frozen=True)
class Observed:
    """What the trail needs of a terminal's event."""

    serial: str
    partner_id: str
    action: str
    pin: str | None
    occurred_at: datetime
    received_at: datetime
    session_epoch: int | None = None
    instance_id: str | None = None
    grant_id: str | None = None
    """`details.impersonation_id`: the impersonation grant the event belongs to."""


@dataclass(frozen=True)
class RemoteAction:
    id: str
    kind: ActionKind
    partner_id: str
    instance_id: str
    serial: str | None
    requested_at: datetime
    requested_by: str | None = None
    license_id: str | None = None
    pin: str | None = None
    session_epoch: int | None = None
    delivered_at: datetime | None = None
    applied_at: datetime | None = None
    expires_at: datetime | None = None
    """An impersonation's grant stops opening sessions then."""

    @property
    def state(self) -> ActionState:
        if self.applied_at is not None:
            return ActionState.APPLIED
        if self.delivered_at is not None:
            return ActionState.DELIVERED
        return ActionState.REQUESTED

    @property
    def open(self) -> bool:
        """Still waiting for the terminal (something it reports may move it on)."""
        return self.applied_at is None

    def overdue(self, now: datetime, after: timedelta) -> bool:
        """Requested and not delivered for too long (an impersonation expires instead)."""
        if self.kind == ActionKind.IMPERSONATION:
            return False
        return self.state == ActionState.REQUESTED and now - self.requested_at > after

    def expired(self, now: datetime) -> bool:
        """An impersonation whose grant was never used before it expired."""
        return self.state == ActionState.REQUESTED and self.expires_at is not None and now >= self.expires_at

    def concerns(self, event: Observed) -> bool:
        if event.partner_id != self.partner_id:
            return False
        if self.kind == ActionKind.IMPERSONATION:
            return event.grant_id == self.id and event.instance_id == self.instance_id
        return event.serial == self.serial

    def observe(self, events: list[Observed]) -> RemoteAction:
        """The action after the terminal's events (any order; those of other terminals or partners
        change nothing). Observing the same events again gives the same action."""
        action = self
        mine = sorted(
            (e for e in events if self.concerns(e)),
            key=lambda e: (e.occurred_at, e.received_at),
        )
        for event in mine:
            if action.applied_at is not None:
                break
            if event.received_at < self.requested_at:
                continue
            action = action._step(event)
        return action

    def _step(self, event: Observed) -> RemoteAction:
        at = max(event.occurred_at, self.delivered_at or self.requested_at)
        if self.kind == ActionKind.SESSION_CLEAR:
            return self._session_step(event, at)
        if self.kind == ActionKind.LICENSE_RELEASE:
            delivered = self.delivered_at or at
            if event.pin != self.pin:
                return replace(self, delivered_at=delivered, applied_at=max(at, delivered))
            return replace(self, delivered_at=delivered)
        # impersonation: any event of the grant delivers it, its end applies it
        delivered = self.delivered_at or at
        if event.action == IMPERSONATION_ENDED:
            return replace(self, delivered_at=delivered, applied_at=max(at, delivered))
        return replace(self, delivered_at=delivered)

    def _session_step(self, event: Observed, at: datetime) -> RemoteAction:
        epoch = self.session_epoch or 0
        saw_new = event.session_epoch is not None and event.session_epoch >= epoch
        delivered = self.delivered_at
        if delivered is None and (saw_new or (event.session_epoch is None and event.action in SESSION_SIGNALS)):
            delivered = at
        logged_in = event.action == "login" and (saw_new or (event.session_epoch is None and delivered is not None))
        if logged_in:
            delivered = delivered or at
            return replace(self, delivered_at=delivered, applied_at=max(at, delivered))
        return replace(self, delivered_at=delivered)
