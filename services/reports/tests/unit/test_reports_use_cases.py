"""The reports use cases on an in-memory store (`bootstrap_test_app`): events projected by the
event handlers become the charts, lists and details the queries answer; a caller sees only their
partners; the rebuild's replay applies what the live consumer would and counts what it would not."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from contracts import EventEnvelope, envelope_for
from contracts.events.activity import TerminalActivity
from contracts.events.common import Actor, InstanceType
from contracts.events.companies import CompanyCreated
from contracts.events.instances import InstanceCancellationRequested, InstanceProvisioned
from contracts.events.licenses import LicenseAdded, LicenseRevoked
from reports.domain.model import InstanceStatus, LicenseStatus, Period
from reports.service_layer.commands import ReplayTally
from reports.service_layer.queries import InstanceCriteria, LicenseCriteria, OperationCriteria
from reports.service_layer.testing import ReportsTestApp, bootstrap_test_app
from servicekit.errors import InvalidInput, NotFound, PartnerNotAllowed
from servicekit.pagination import InvalidSort
from servicekit.principal import Principal

pytestmark = pytest.mark.unit

TODAY = date(2026, 6, 15)
T0 = datetime(2026, 6, 1, 9, tzinfo=UTC)
WHO = Actor(user_id="usr-ana", role="partner")
IDS = {"partner_id": "ptn-1", "company_id": "cmp-1"}
ANA = Principal("usr-ana", "partner", "ptn-1")
RIVAL = Principal("usr-eve", "partner", "ptn-2")
STAFF = Principal("usr-sam", "staff", "ptn-2", frozenset({"ptn-1", "ptn-2"}))
EVERYTHING = InstanceCriteria()


def event(data: BaseModel, minutes: int = 0) -> EventEnvelope[Any]:
    return envelope_for(data, source="instances", time=T0 + timedelta(minutes=minutes))


def provisioned(instance_id: str, type_: InstanceType, activation: date, expiry: date) -> InstanceProvisioned:
    return InstanceProvisioned(
        instance_id=instance_id, provisioning_id=instance_id, contract_number=f"C-{instance_id}", type=type_,
        activation_date=activation, expiry_date=expiry, provisioned_by=WHO, **IDS,
    )  # fmt: skip


def added(license_id: str, instance_id: str) -> LicenseAdded:
    return LicenseAdded(
        license_id=license_id, instance_id=instance_id, user_name=f"User {license_id}", email="u@example.com",
        pin=license_id[-4:], added_by=WHO, **IDS,
    )  # fmt: skip


@dataclass(frozen=True)
class Delivery:
    event: EventEnvelope[Any]
    partition: int
    offset: int


def telemetry(instance_id: str, action: str, offset: int, *, day: date = TODAY) -> Delivery:
    moment = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
    data = TerminalActivity(serial="SER-1", instance_id=instance_id, partner_id="ptn-1", action=action,
                            occurred_at=moment, received_at=moment)  # fmt: skip
    return Delivery(envelope_for(data, source="activity"), 0, offset)


async def projected() -> ReportsTestApp:
    """Three instances of one partner (one cancelled, one expired) and three licenses; the
    licenses and the cancellation arrive before their instance."""
    app = bootstrap_test_app(today=TODAY)
    h = app.handlers
    await h.license_added(event(added("lic-1000", "ins-w"), 2))
    await h.license_added(event(added("lic-1001", "ins-w"), 2))
    revoked = LicenseRevoked(
        license_id="lic-1001", instance_id="ins-w", pin="1001", reason="Left", revoked_by=WHO, **IDS
    )
    await h.license_revoked(event(revoked, 3))
    await h.cancellation_requested(
        event(InstanceCancellationRequested(instance_id="ins-t", reason="Season over", requested_by=WHO, **IDS), 4)
    )
    await h.instance_provisioned(event(provisioned("ins-w", InstanceType.WDS, date(2026, 5, 1), date(2027, 4, 30))))
    await h.instance_provisioned(event(provisioned("ins-m", InstanceType.MCRM, date(2025, 1, 1), date(2025, 12, 31))))
    await h.instance_provisioned(event(provisioned("ins-t", InstanceType.WTA, date(2026, 6, 1), date(2027, 5, 31))))
    await h.license_added(event(added("lic-1002", "ins-t"), 5))
    await h.company_named(event(CompanyCreated(name="Talleres Norte S.L.", tax_id="B1", created_by=WHO, **IDS)))
    return app


async def test_projected_events_become_the_charts_and_lists() -> None:
    app = await projected()
    summary = await app.queries.summary(ANA, EVERYTHING)
    assert (summary.instances, summary.licenses) == (3, 3)
    assert summary.instances_by_status == {"active": 1, "cancellation_requested": 1, "expired": 1}
    assert summary.licenses_by_type["WDS"] == 2, "licenses that arrived first learnt their instance's type"

    first = await app.queries.instance_page(ANA, EVERYTHING, "activation_date", 2, None)
    assert [(r.id, r.company_name) for r in first.items] == [
        ("ins-m", "Talleres Norte S.L."),
        ("ins-w", "Talleres Norte S.L."),
    ]
    rest = await app.queries.instance_page(ANA, EVERYTHING, "activation_date", 2, first.next_cursor)
    assert ([r.id for r in rest.items], rest.next_cursor) == (["ins-t"], None)
    expired = await app.queries.instance_page(ANA, InstanceCriteria(status=InstanceStatus.EXPIRED), "id", 10, None)
    assert [(r.id, r.status) for r in expired.items] == [("ins-m", InstanceStatus.EXPIRED)]

    detail = await app.queries.instance_detail(ANA, "ins-w")
    assert (detail.type, detail.contract_number, detail.licenses_by_status) == (
        "WDS",
        "C-ins-w",
        {"active": 1, "revoked": 1},
    )

    revoked = await app.queries.license_page(
        ANA, EVERYTHING, LicenseCriteria(status=LicenseStatus.REVOKED), "id", 10, None
    )
    assert [(r.id, r.instance_type, r.company_name) for r in revoked.items] == [
        ("lic-1001", "WDS", "Talleres Norte S.L.")
    ]
    streamed = [r.id async for r in await app.queries.license_rows(ANA, EVERYTHING, LicenseCriteria(), "-id")]
    assert streamed == ["lic-1002", "lic-1001", "lic-1000"]

    june = Period(date(2026, 6, 1), date(2026, 6, 30))
    active = await app.queries.active_services_page(ANA, EVERYTHING, june, "id", 10, None)
    assert [(a.instance.id, a.active_from, a.licenses_held) for a in active.items] == [
        ("ins-t", date(2026, 6, 1), 1), ("ins-w", date(2026, 6, 1), 2),
    ]  # fmt: skip


async def test_a_caller_sees_only_their_partners() -> None:
    app = await projected()
    with pytest.raises(NotFound) as missing:
        await app.queries.instance_detail(RIVAL, "ins-w")
    assert (missing.value.status, missing.value.detail) == (404, "No instance ins-w.")
    with pytest.raises(NotFound):
        await app.queries.license_detail(RIVAL, "lic-1000")
    assert (await app.queries.summary(RIVAL, EVERYTHING)).instances == 0
    with pytest.raises(PartnerNotAllowed) as refused:
        await app.queries.summary(RIVAL, InstanceCriteria(partner_id="ptn-1"))
    assert refused.value.status == 403
    assert refused.value.detail == "Partner ptn-1 is not one of yours."
    assert refused.value.extensions["errors"][0]["field"] == "partner_id"

    assert (await app.queries.summary(STAFF, InstanceCriteria(partner_id="ptn-1"))).instances == 3
    assert (await app.queries.instance_detail(STAFF, "ins-w")).id == "ins-w"
    with pytest.raises(PartnerNotAllowed):
        await app.queries.instance_page(STAFF, InstanceCriteria(partner_id="ptn-else"), "id", 10, None)


async def test_unknown_sorts_and_too_long_periods_are_refused_before_anything_is_read() -> None:
    app = await projected()
    with pytest.raises(InvalidSort) as unknown:
        await app.queries.instance_rows(ANA, EVERYTHING, "secret")
    assert (unknown.value.status, unknown.value.errors[0]["field"]) == (422, "sort")
    with pytest.raises(InvalidSort):
        await app.queries.license_rows(ANA, EVERYTHING, LicenseCriteria(), "-pin")

    decade = Period(date(2010, 1, 1), date(2020, 12, 31))
    with pytest.raises(InvalidInput) as too_long:
        await app.queries.monthly(ANA, InstanceCriteria(activated=decade))
    assert too_long.value.errors[0]["field"] == "activated_to"
    assert too_long.value.errors[0]["code"] == "at_most_months"

    months = await app.queries.monthly(ANA, EVERYTHING)
    assert len(months) == 12, "the last 12 months by default"
    assert sum(m.activations for m in months) == 2, "the MCRM instance was activated 17 months ago"
    assert sum(m.cancellations for m in months) == 1


async def test_telemetry_counts_each_record_once_and_pages_by_day_and_instance() -> None:
    app = await projected()
    batch = [telemetry("ins-w", "login", 0), telemetry("ins-w", "gps", 1), telemetry("ins-t", "login", 2)]
    first = await app.handlers.count_telemetry(batch)
    again = await app.handlers.count_telemetry(batch)  # Kafka delivers the batch again
    assert (first.counted, again.counted, again.redelivered) == (3, 0, 3)
    assert app.handlers.stats.operations.counted == 3

    today = Period(TODAY, TODAY)
    report = await app.queries.operations(ANA, today, OperationCriteria())
    assert (report.total, report.by_type["WDS"], report.by_type["WTA"]) == (3, 2, 1)
    wds_only = await app.queries.operations(ANA, today, OperationCriteria(type="WDS"))
    assert wds_only.total == 2
    page = await app.queries.operation_rows(ANA, today, OperationCriteria(), limit=1)
    assert [(d.instance_id, d.company_name) for d in page.items] == [("ins-t", "Talleres Norte S.L.")]
    rest = await app.queries.operation_rows(ANA, today, OperationCriteria(), limit=1, cursor=page.next_cursor)
    assert [(d.instance_id, d.by_action) for d in rest.items] == [("ins-w", {"gps": 1, "login": 1})]
    assert rest.next_cursor is None
    assert (await app.queries.operations(RIVAL, today, OperationCriteria())).total == 0


@dataclass(frozen=True)
class Record:
    value: bytes | None
    partition: int = 0
    offset: int = 0


async def test_the_replay_applies_each_topic_with_the_live_handlers_and_counts_what_it_skips() -> None:
    app = bootstrap_test_app(today=TODAY)
    tally = ReplayTally()
    wds = event(provisioned("ins-w", InstanceType.WDS, date(2026, 5, 1), date(2027, 4, 30)))
    await app.commands.replay("instance.provisioned", [Record(b"not json"), Record(wds.to_json_bytes())], tally)
    # An event of another topic on this one: the live consumer would dead-letter it.
    license_ = event(added("lic-1000", "ins-w"))
    await app.commands.replay("license.added", [Record(license_.to_json_bytes()), Record(wds.to_json_bytes())], tally)
    login = telemetry("ins-w", "login", 7)
    records = [Record(login.event.to_json_bytes(), 0, 7), Record(login.event.to_json_bytes(), 0, 7)]
    await app.commands.replay("terminal.activity", records, tally)

    assert dict(tally.events) == {"instance.provisioned": 1, "license.added": 1, "terminal.activity": 2}
    assert tally.malformed == 2
    assert (tally.operations_counted, tally.operations_skipped) == (1, 1)
    assert (await app.queries.instance_detail(ANA, "ins-w")).licenses_by_status == {"active": 1}


async def test_the_replay_stops_on_what_it_is_told_is_the_infrastructure_failing() -> None:
    app = bootstrap_test_app(today=TODAY)

    class StoreDown(Exception):
        pass

    async def down(*_: Any) -> Any:
        raise StoreDown

    app.store.change_instance = down  # type: ignore[method-assign,assignment]
    wds = Record(event(provisioned("ins-w", InstanceType.WDS, date(2026, 5, 1), date(2027, 4, 30))).to_json_bytes())
    tally = ReplayTally()
    await app.commands.replay("instance.provisioned", [wds], tally)
    assert tally.failed == 1, "any other failure: noted, and the replay goes on"

    app.commands.stop_on = (StoreDown,)
    with pytest.raises(StoreDown):
        await app.commands.replay("instance.provisioned", [wds], tally)
    assert tally.events["instance.provisioned"] == 2
    assert app.store.instances_ == {}
