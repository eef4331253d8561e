"""The remote-action trail's rules on hand-made event sequences, and its use cases on fakes."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest
from pydantic import BaseModel

from activity.bootstrap import bootstrap_test_app
from activity.config import Settings
from activity.domain.model import ActivityRecord
from activity.domain.remote_actions import ActionKind, ActionState, Observed, RemoteAction
from activity.service_layer.ports import IngestKey
from activity.service_layer.remote_actions import SIGHTINGS_KEPT
from activity.service_layer.testing import ActivityFakes
from contracts import EventEnvelope, envelope_for
from contracts.events.activity import TerminalActivity
from contracts.events.instances import SessionCleared
from contracts.events.licenses import LicenseImpersonated, LicenseReleased
from servicekit.auth import TokenIssuer, generate_key_pair
from servicekit.errors import NotFound
from servicekit.principal import Principal
from servicekit.settings import PlatformSettings

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
PARTNER = "ptn-acme"


def clear(epoch: int = 3, serial: str = "SN1") -> RemoteAction:
    return RemoteAction("a1", ActionKind.SESSION_CLEAR, PARTNER, "ins-1", serial, T0, "usr-ana", session_epoch=epoch)


def release(pin: str = "4821") -> RemoteAction:
    return RemoteAction(
        "a2", ActionKind.LICENSE_RELEASE, PARTNER, "ins-1", "SN1", T0, "usr-ana", license_id="lic-1", pin=pin
    )


def seen(
    action: str,
    minutes: float,
    *,
    epoch: int | None = None,
    pin: str | None = "4821",
    serial: str = "SN1",
    partner: str = PARTNER,
    received: float | None = None,
) -> Observed:
    at = T0 + timedelta(minutes=minutes)
    got = T0 + timedelta(minutes=received if received is not None else minutes)
    return Observed(serial, partner, action, pin, at, got, epoch)


def test_a_clear_session_is_delivered_by_the_config_fetch_and_applied_by_the_login_with_the_new_epoch() -> None:
    events = [seen("gps_fix", 1), seen("config_fetched", 2, epoch=3), seen("login", 3, epoch=3)]
    after = clear().observe(events)
    assert (after.delivered_at, after.applied_at) == (T0 + timedelta(minutes=2), T0 + timedelta(minutes=3))
    assert after.state == ActionState.APPLIED
    assert not after.open


def test_a_login_with_the_old_epoch_applies_nothing() -> None:
    after = clear().observe([seen("login", 1, epoch=2), seen("config_fetched", 2, epoch=2)])
    assert after.state == ActionState.REQUESTED
    assert after == clear()


def test_the_steps_are_reached_whatever_order_the_events_come_in_and_seeing_them_again_changes_nothing() -> None:
    events = [seen("session_expired", 1), seen("login", 2), seen("gps_fix", 3)]
    expected = clear().observe(events)
    assert expected.delivered_at == T0 + timedelta(minutes=1)
    assert expected.applied_at == T0 + timedelta(minutes=2), "a login without epoch counts once delivered"
    for order in itertools.permutations(events):
        assert clear().observe(list(order)) == expected
    assert expected.observe(events) == expected, "idempotent: a redelivered batch moves nothing"
    # in two batches
    assert clear().observe(events[:1]).observe(events[1:]) == expected


def test_a_login_with_the_new_epoch_alone_is_delivered_and_applied_at_once() -> None:
    after = clear().observe([seen("login", 4, epoch=5)])
    assert after.delivered_at == after.applied_at == T0 + timedelta(minutes=4)


def test_events_from_before_the_request_or_other_terminals_and_partners_do_not_count() -> None:
    late = seen("login", -3, epoch=3, received=-1)  # stored on the terminal and synced before the request
    others = [seen("login", 2, epoch=3, serial="SN2"), seen("login", 2, epoch=3, partner="ptn-rival")]
    assert clear().observe([late, *others]).state == ActionState.REQUESTED


def test_a_terminal_clock_behind_the_server_never_puts_a_step_before_the_request() -> None:
    skewed = seen("login", -10, epoch=3, received=1)  # received after the request, its clock 10 min slow
    after = clear().observe([skewed])
    assert after.delivered_at == after.applied_at == T0


def test_a_release_is_delivered_by_the_next_event_and_applied_when_the_pin_is_no_longer_used() -> None:
    after = release().observe([seen("gps_fix", 1), seen("logout", 2)])
    assert (after.state, after.delivered_at) == (ActionState.DELIVERED, T0 + timedelta(minutes=1))
    after = after.observe([seen("login", 5, pin="5555")])
    assert (after.state, after.applied_at) == (ActionState.APPLIED, T0 + timedelta(minutes=5))
    assert release().observe([seen("login", 5, pin=None)]).state == ActionState.APPLIED


def test_overdue_is_requested_and_not_delivered_past_the_time() -> None:
    hour = timedelta(hours=1)
    assert not clear().overdue(T0 + hour, hour)
    assert clear().overdue(T0 + hour + timedelta(seconds=1), hour)
    delivered = clear().observe([seen("config_fetched", 1, epoch=3)])
    assert delivered.state == ActionState.DELIVERED
    assert not delivered.overdue(T0 + 5 * hour, hour)


def envelope(data: BaseModel, at: datetime) -> EventEnvelope[Any]:
    return envelope_for(data, source="instances", time=at)


def record(serial: str, action: str, at: datetime, details: dict[str, int | str] | None = None) -> ActivityRecord:
    return ActivityRecord(
        event_id=str(uuid.uuid4()),
        serial=serial,
        instance_id="ins-1",
        partner_id=PARTNER,
        action=action,
        occurred_at=at,
        received_at=at,
        pin="4821",
        details=dict(details or {}),
    )


async def test_use_cases_request_once_move_on_with_telemetry_and_answer_scoped() -> None:
    fakes = ActivityFakes()
    handlers = fakes.event_handlers
    now = datetime.now(UTC)
    await fakes.keys.put(IngestKey("ins-1", PARTNER, "0" * 64))
    await fakes.keys.put(IngestKey("ins-rival", "ptn-rival", "1" * 64))
    cleared = SessionCleared(
        instance_id="ins-1",
        partner_id=PARTNER,
        serial="SN1",
        session_epoch=2,
        cleared_by={"user_id": "usr-ana", "role": "partner"},
    )
    event = envelope(cleared, now - timedelta(hours=2))
    await handlers.record_session_cleared(event)
    await handlers.record_session_cleared(event)  # redelivered
    assert len(fakes.actions.by_id) == 1, "a retried event makes no second action"
    released = LicenseReleased(
        license_id="lic-1",
        instance_id="ins-1",
        partner_id=PARTNER,
        company_id="cmp-1",
        pin="4821",
        serial="SN1",
        released_by={"user_id": "usr-bea", "role": "partner"},
    )
    await handlers.record_license_event(envelope(released, now - timedelta(minutes=1)))
    queries = fakes.action_queries
    overdue = await queries.instance_actions(PARTNER, "ins-1", None, True, 50, None, now)
    assert [(a.kind, a.state, a.overdue) for a in overdue.items] == [
        (ActionKind.SESSION_CLEAR, ActionState.REQUESTED, True)
    ]

    await handlers.record_telemetry(
        [
            envelope_of(record("SN1", "config_fetched", now - timedelta(minutes=30), {"session_epoch": 2})),
            envelope_of(record("SN1", "login", now - timedelta(minutes=29), {"session_epoch": 2})),
        ]
    )
    trail = await queries.terminal_actions(PARTNER, "sn1", 50, None, now)
    assert [(a.kind, a.state, a.requested_by) for a in trail.items] == [
        (ActionKind.LICENSE_RELEASE, ActionState.REQUESTED, "usr-bea"),
        (ActionKind.SESSION_CLEAR, ActionState.APPLIED, "usr-ana"),
    ], "newest first; the release is older than the terminal's events it would need"
    assert (await queries.instance_actions(PARTNER, "ins-1", None, True, 50, None, now)).items == []

    with pytest.raises(NotFound):
        await queries.terminal_actions("ptn-rival", "SN1", 50, None, now)
    with pytest.raises(NotFound):
        await queries.instance_actions(PARTNER, "ins-rival", None, False, 50, None, now)
    with pytest.raises(NotFound):
        await queries.instance_actions("ptn-rival", "ins-1", None, False, 50, None, now)
    assert (await queries.instance_actions("ptn-rival", None, None, False, 50, None, now)).items == []


def envelope_of(rec: ActivityRecord) -> EventEnvelope[Any]:
    data = TerminalActivity(
        serial=rec.serial,
        pin=rec.pin,
        instance_id=rec.instance_id,
        partner_id=rec.partner_id,
        action=rec.action,
        occurred_at=rec.occurred_at,
        received_at=rec.received_at,
        details=rec.details,
    )
    return envelope_for(data, source="activity", time=rec.received_at)


async def test_the_http_edge_answers_the_contract_and_names_a_bad_state() -> None:
    private, public = generate_key_pair()
    token = TokenIssuer(private, issuer="partnerapp-gateway", audience="partnerapp").issue(
        Principal("usr-ana", "partner", PARTNER, frozenset({PARTNER}))
    )
    fakes = ActivityFakes()
    await fakes.actions.add([clear(serial="SN7")])
    app = bootstrap_test_app(fakes, Settings(platform=PlatformSettings(auth_public_key=public)))
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://activity") as client:
        auth = {"Authorization": f"Bearer {token}"}
        bad = await client.get("/v1/activity/actions", params={"state": "lost"}, headers=auth)
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert "state" in bad.text
        empty = await client.get(
            "/v1/activity/actions", params={"instance_id": "ins-2", "overdue": "true"}, headers=auth
        )
        assert empty.status_code == 200
        assert empty.json() == {"items": [], "next_cursor": None}
        missing = await client.get("/v1/activity/terminals/SN404/actions", headers=auth)
        assert missing.status_code == 404
        found = await client.get("/v1/activity/terminals/sn7/actions", headers=auth)
        assert found.status_code == 200, found.text
        (item,) = found.json()["items"]
        assert item == {
            "id": "a1",
            "kind": "session_clear",
            "instance_id": "ins-1",
            "serial": "SN7",
            "license_id": None,
            "requested_at": "2026-11-30T09:00:00Z",
            "requested_by": "usr-ana",
            "delivered_at": None,
            "applied_at": None,
            "state": "requested",
            "overdue": True,
            "expired": False,
        }


async def test_an_instance_wide_clear_with_no_terminal_known_is_one_action_that_turns_overdue() -> None:
    fakes = ActivityFakes()
    now = datetime.now(UTC)
    cleared = SessionCleared(
        instance_id="ins-1", partner_id=PARTNER, session_epoch=4, cleared_by={"user_id": "usr-ana", "role": "partner"}
    )
    event = envelope(cleared, now - timedelta(hours=2))
    await fakes.event_handlers.record_session_cleared(event)
    await fakes.event_handlers.record_session_cleared(event)
    overdue = await fakes.action_queries.instance_actions(PARTNER, "ins-1", None, True, 50, None, now)
    assert [(a.id, a.serial, a.state, a.overdue) for a in overdue.items] == [
        (str(event.id), None, ActionState.REQUESTED, True)
    ]


# ------------------------------------------------------------------------------------ impersonation


def grant(expires_in: float = 5) -> RemoteAction:
    return RemoteAction(
        "imp-1", ActionKind.IMPERSONATION, PARTNER, "ins-1", "SN1", T0, "usr-ana",
        license_id="lic-1", pin="4821", expires_at=T0 + timedelta(minutes=expires_in),
    )  # fmt: skip


def panel(
    action: str, minutes: float, *, grant_id: str | None = "imp-1", instance: str = "ins-1", partner: str = PARTNER,
    serial: str = "PANEL", received: float | None = None,
) -> Observed:  # fmt: skip
    at = T0 + timedelta(minutes=minutes)
    got = T0 + timedelta(minutes=received if received is not None else minutes)
    return Observed(serial, partner, action, "4821", at, got, instance_id=instance, grant_id=grant_id)


def test_an_impersonation_is_delivered_when_the_panel_opens_the_grant_and_applied_when_it_ends() -> None:
    started = grant().observe([panel("impersonation_started", 1)])
    assert (started.state, started.delivered_at) == (ActionState.DELIVERED, T0 + timedelta(minutes=1))
    ended = started.observe([panel("page_viewed", 2), panel("impersonation_ended", 9)])
    assert (ended.state, ended.delivered_at, ended.applied_at) == (
        ActionState.APPLIED, T0 + timedelta(minutes=1), T0 + timedelta(minutes=9),
    )  # fmt: skip
    events = [panel("impersonation_ended", 9), panel("impersonation_started", 1)]
    assert grant().observe(events) == ended, "any order"
    assert ended.observe(events) == ended, "seeing them again changes nothing"
    only_end = grant().observe([panel("impersonation_ended", 4)])
    assert only_end.delivered_at == only_end.applied_at == T0 + timedelta(minutes=4)


def test_only_events_naming_the_grant_in_its_own_instance_and_partner_move_an_impersonation() -> None:
    others = [
        seen("login", 1, serial="SN1"),  # the terminal itself, no grant
        panel("impersonation_started", 1, grant_id="imp-2"),
        panel("impersonation_started", 1, instance="ins-2"),
        panel("impersonation_started", 1, partner="ptn-rival"),
        panel("impersonation_started", 1, received=-1),  # stored before the request
    ]
    assert grant().observe(others) == grant()


def test_an_impersonation_never_opened_expires_and_is_never_overdue() -> None:
    hour = timedelta(hours=1)
    assert not grant().expired(T0 + timedelta(minutes=4))
    assert grant().expired(T0 + timedelta(minutes=5))
    assert not grant().overdue(T0 + 5 * hour, hour)
    opened = grant().observe([panel("impersonation_started", 1)])
    assert not opened.expired(T0 + hour)
    assert not clear().expired(T0 + 5 * hour), "other kinds never expire"


async def test_an_impersonation_event_requests_once_and_panel_events_before_or_after_move_it() -> None:
    fakes = ActivityFakes()
    handlers = fakes.event_handlers
    now = datetime.now(UTC)
    await fakes.keys.put(IngestKey("ins-1", PARTNER, "0" * 64))
    impersonated = LicenseImpersonated(
        grant_id="imp-9", license_id="lic-1", instance_id="ins-1", partner_id=PARTNER, company_id="cmp-1",
        pin="4821", user="ana@example.com", serial="SN1", reason="Support call",
        expires_at=now + timedelta(minutes=5), impersonated_by={"user_id": "usr-ana", "role": "staff"},
    )  # fmt: skip
    started = record("PANEL-1", "impersonation_started", now + timedelta(seconds=1), {"impersonation_id": "imp-9"})
    # The panel's event comes through before the request (another topic): kept, then read.
    await handlers.record_telemetry([envelope_of(started)])
    event = envelope(impersonated, now)
    await handlers.record_impersonation(event)
    await handlers.record_impersonation(event)  # redelivered
    queries = fakes.action_queries
    (action,) = (await queries.terminal_actions(PARTNER, "SN1", 50, None, now)).items
    assert (action.id, action.kind, action.state, action.requested_by, action.license_id) == (
        "imp-9", ActionKind.IMPERSONATION, ActionState.DELIVERED, "usr-ana", "lic-1",
    )  # fmt: skip
    assert (action.requested_at, action.delivered_at, action.expired) == (now, started.occurred_at, False)
    ended = record("PANEL-1", "impersonation_ended", now + timedelta(minutes=3), {"impersonation_id": "imp-9"})
    await handlers.record_telemetry([envelope_of(ended)])
    (action,) = (await queries.instance_actions(PARTNER, "ins-1", None, False, 50, None, now)).items
    assert (action.state, action.applied_at) == (ActionState.APPLIED, ended.occurred_at)
    assert len(fakes.actions.by_id) == 1


async def test_an_unused_impersonation_shows_expired_not_overdue() -> None:
    fakes = ActivityFakes()
    now = datetime.now(UTC)
    impersonated = LicenseImpersonated(
        grant_id="imp-10", license_id="lic-1", instance_id="ins-1", partner_id=PARTNER, company_id="cmp-1",
        reason="Support call", expires_at=now - timedelta(hours=2, minutes=55),
        impersonated_by={"user_id": "usr-ana", "role": "staff"},
    )  # fmt: skip
    await fakes.event_handlers.record_impersonation(envelope(impersonated, now - timedelta(hours=3)))
    queries = fakes.action_queries
    (action,) = (await queries.instance_actions(PARTNER, "ins-1", None, False, 50, None, now)).items
    assert (action.serial, action.state, action.expired, action.overdue) == (None, ActionState.REQUESTED, True, False)
    assert (await queries.instance_actions(PARTNER, "ins-1", None, True, 50, None, now)).items == []


async def test_sightings_are_dropped_once_read_and_those_never_read_after_two_days() -> None:
    fakes = ActivityFakes()
    handlers, store = fakes.event_handlers, fakes.actions
    now = datetime.now(UTC)
    await fakes.keys.put(IngestKey("ins-1", PARTNER, "0" * 64))
    for grant in ("imp-read", "imp-lost"):  # the panel's events, each before its grant's request
        opened = record("PANEL-1", "impersonation_started", now, {"impersonation_id": grant})
        await handlers.record_telemetry([envelope_of(opened)])
    assert set(store.seen) == {"imp-read", "imp-lost"}
    impersonated = LicenseImpersonated(
        grant_id="imp-read", license_id="lic-1", instance_id="ins-1", partner_id=PARTNER, company_id="cmp-1",
        pin="4821", user="ana@example.com", serial="SN1", reason="Support call",
        expires_at=now + timedelta(minutes=5), impersonated_by={"user_id": "usr-ana", "role": "staff"},
    )  # fmt: skip
    await handlers.record_impersonation(envelope(impersonated, now))
    assert store.by_id["imp-read"].state == ActionState.DELIVERED  # moved on by what it read...
    assert set(store.seen) == {"imp-lost"}  # ...which is then dropped
    trail = fakes.trail
    assert await trail.prune_sightings(now + timedelta(days=1)) == 0  # its request may still come
    assert await trail.prune_sightings(now + SIGHTINGS_KEPT + timedelta(seconds=1)) == 1
    assert store.seen == {}
