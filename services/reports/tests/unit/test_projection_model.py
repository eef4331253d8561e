"""The projection's merge rules: any order, any number of deliveries, the same result."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

import pytest

from reports.adapters.mongo import (
    company_document,
    company_of,
    instance_document,
    instance_of,
    license_document,
    license_of,
)
from reports.domain import model
from reports.domain.model import (
    ActivityBucket,
    CompanyView,
    InstanceView,
    LicenseStatus,
    LicenseView,
    Operation,
    Period,
    count_operations,
)
from reports.domain.tallies import MonthlyTally, OperationsTally, SummaryTally

pytestmark = pytest.mark.unit

T = TypeVar("T")

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
IDS = {"instance_id": "ins-1", "partner_id": "ptn-1", "company_id": "cmp-1"}


def at(minutes: int) -> tuple[datetime, str]:
    moment = T0 + timedelta(minutes=minutes)
    return moment, model.stamp_of(moment, str(uuid.UUID(int=minutes)))


def instance_events() -> list[Callable[[InstanceView | None], InstanceView]]:
    t1, s1 = at(1)
    _, s2 = at(2)
    t3, s3 = at(3)
    _, s4 = at(4)
    return [
        lambda c: model.instance_provisioned(
            c, **IDS, type_="WDS", provisioning_id="ins-1", contract_number="C-1", profile="essential",
            activation_date=date(2026, 3, 1), expiry_date=date(2027, 2, 28), at=t1, stamp=s1,
        ),
        lambda c: model.instance_updated(
            c, **IDS, type_="WDS", changes={"profile": "enterprise", "name": "HQ"}, stamp=s2
        ),
        lambda c: model.cancellation_requested(c, **IDS, reason="Season over", at=t3, stamp=s3),
        lambda c: model.instance_extended(c, **IDS, new_expiry_date=date(2028, 2, 28), stamp=s4),
    ]  # fmt: skip


def apply_all(changes: list[Callable[[InstanceView | None], InstanceView]]) -> InstanceView | None:
    current: InstanceView | None = None
    for change in changes:
        current = change(current)
    return current


def test_an_instance_is_the_same_whatever_the_order_and_duplicates_of_its_events() -> None:
    events = instance_events()
    results = {apply_all(list(order)) for order in itertools.permutations(events)}
    results.add(apply_all([*events, *events[::-1]]))
    assert len(results) == 1
    (instance,) = results
    assert instance is not None
    assert (instance.type, instance.profile, instance.name) == ("WDS", "enterprise", "HQ")
    assert instance.expiry_date == date(2028, 2, 28), "the extension is newer than the provisioning"
    assert instance.status(date(2026, 6, 1)) == model.InstanceStatus.CANCELLATION_REQUESTED


def test_expired_is_derived_from_the_expiry_date() -> None:
    instance = apply_all(instance_events()[:1])
    assert instance is not None
    assert instance.status(date(2027, 2, 28)) == model.InstanceStatus.ACTIVE
    assert instance.status(date(2027, 3, 1)) == model.InstanceStatus.EXPIRED


def license_events() -> list[Callable[[LicenseView | None], LicenseView]]:
    lic = {"license_id": "lic-1", **IDS}
    t1, s1 = at(1)
    t2, s2 = at(2)
    t3, s3 = at(3)
    return [
        lambda c: model.license_added(c, **lic, user_name="Rosa", pin="7777", serial="SER-1", at=t1, stamp=s1),
        lambda c: model.license_released(c, **lic, pin="7777", at=t2, stamp=s2),
        lambda c: model.license_revoked(c, **lic, pin="7777", reason="Left", at=t3, stamp=s3),
    ]


def test_a_revoked_license_stays_revoked_in_any_order() -> None:
    results = set()
    for order in itertools.permutations(license_events()):
        current: LicenseView | None = None
        for change in order:
            current = change(current)
        results.add(current)
    assert len(results) == 1
    (license_,) = results
    assert license_ is not None
    assert license_.status == LicenseStatus.REVOKED
    assert license_.serial is None, "released from its terminal"
    assert license_.added_at == T0 + timedelta(minutes=1)


def test_released_wins_over_an_older_added_delivered_later() -> None:
    added, released, _ = license_events()
    license_ = added(released(None))
    assert license_.status == LicenseStatus.RELEASED
    assert license_.user_name == "Rosa"


def test_license_active_during_a_period() -> None:
    added, _, revoked = license_events()
    license_ = revoked(added(None))
    assert license_.active_during(Period(date(2026, 3, 1), date(2026, 3, 1)))
    assert not license_.active_during(Period(date(2026, 3, 2), date(2026, 3, 31)))
    assert not license_.active_during(Period(date(2026, 2, 1), date(2026, 2, 28)))


def test_a_period_must_not_end_before_it_starts() -> None:
    with pytest.raises(model.InvalidPeriod) as raised:
        Period.of(date(2026, 3, 2), date(2026, 3, 1), field_name="activated_to")
    assert raised.value.field == "activated_to"
    assert Period(date(2025, 11, 15), date(2026, 2, 1)).months() == ["2025-11", "2025-12", "2026-01", "2026-02"]


def op(offset: int, event_id: str | None = None, *, action: str = "login", partition: int = 0) -> Operation:
    return Operation(
        event_id or str(uuid.UUID(int=(offset + 1) << 80)),
        partition,
        offset,
        date(2026, 3, 1),
        "ins-1",
        "ptn-1",
        action,
    )


def test_operations_are_counted_once_per_offset_however_the_batches_are_cut() -> None:
    ops = [op(o, action="gps" if o % 2 else "login") for o in range(10)]
    whole = ActivityBucket(date(2026, 3, 1), 0)
    count_operations(whole, ops)
    redelivered = ActivityBucket(date(2026, 3, 1), 0)
    count_operations(redelivered, ops[:4])
    second = count_operations(redelivered, ops[2:7])  # Kafka delivers 2 and 3 again
    count_operations(redelivered, ops[::-1])  # and everything, in any order within the batch
    assert second.redelivered == 2
    assert redelivered.counts == whole.counts
    assert sum(whole.counts.values()) == 10


def test_a_resent_event_with_a_new_offset_is_skipped_while_its_id_is_recent() -> None:
    bucket = ActivityBucket(date(2026, 3, 1), 0)
    first = op(0)
    result = count_operations(bucket, [first, op(1), op(2, first.event_id)], window=2)
    assert (result.counted, result.resent) == (2, 1)
    later = count_operations(bucket, [op(3), op(4), op(5, first.event_id)], window=2)
    assert later.counted == 3, "beyond the window an old id counts again (the documented limit)"


def test_the_same_event_id_from_another_instance_or_partner_is_counted_not_taken_for_a_resend() -> None:
    """Older envelopes carry the terminal's own event id, which other terminals may use too."""
    bucket = ActivityBucket(date(2026, 3, 1), 0)
    same = str(uuid.uuid4())
    ops = [
        Operation(same, 0, 0, date(2026, 3, 1), "ins-a", "ptn-a", "login"),
        Operation(same, 0, 1, date(2026, 3, 1), "ins-b", "ptn-b", "login"),
        Operation(same, 0, 2, date(2026, 3, 1), "ins-a2", "ptn-a", "login"),
        Operation(same.upper(), 0, 3, date(2026, 3, 1), "ins-a", "ptn-a", "login"),  # a re-send by ins-a
    ]
    result = count_operations(bucket, ops)
    assert (result.counted, result.resent) == (3, 1)
    assert {(k.partner_id, k.instance_id): n for k, n in bucket.counts.items()} == {
        ("ptn-a", "ins-a"): 1, ("ptn-b", "ins-b"): 1, ("ptn-a", "ins-a2"): 1,
    }  # fmt: skip


def test_tallies_split_wds_by_profile_and_count_months_and_days() -> None:
    wds = apply_all(instance_events()[:2])
    assert wds is not None
    mcrm = InstanceView("ins-2", "ptn-1", "cmp-1", "MCRM", provisioned=True, activation_date=date(2026, 1, 5),
                        expiry_date=date(2026, 2, 1))  # fmt: skip
    summary = SummaryTally(date(2026, 6, 1))
    for instance in (wds, mcrm):
        summary.add_instance(instance)
    assert summary.instances_by_type == {"WDS": 1, "MCRM": 1, "S360": 0, "WTA": 0}
    assert summary.wds_by_profile == {"enterprise": 1}
    assert summary.instances_by_status == {"active": 1, "cancellation_requested": 0, "expired": 1}

    monthly = MonthlyTally(Period(date(2026, 1, 1), date(2026, 3, 31)))
    monthly.add_instance(wds)
    monthly.add_instance(mcrm)
    assert [(m.month, m.activations) for m in monthly.series()] == [("2026-01", 1), ("2026-02", 0), ("2026-03", 1)]

    bucket = ActivityBucket(date(2026, 3, 1), 0)
    count_operations(bucket, [op(0), op(1, action="gps")])
    foreign = ActivityBucket(date(2026, 3, 1), 1)
    count_operations(foreign, [Operation("x", 1, 0, date(2026, 3, 1), "ins-9", "ptn-other", "login")])
    tally = OperationsTally(Period(date(2026, 3, 1), date(2026, 3, 2)), ("ptn-1",))
    tally.add_bucket(bucket)
    tally.add_bucket(foreign)
    (row,) = tally.sorted_rows()
    assert (row.total, row.by_action) == (2, {"login": 1, "gps": 1})


def every_order(changes: list[Callable[[T | None], T]]) -> set[T | None]:
    """The view after each order of the changes, and after each order applied twice."""
    results: set[T | None] = set()
    for order in itertools.permutations(changes):
        current: T | None = None
        for change in [*order, *order]:
            current = change(current)
        results.add(current)
    return results


def test_a_license_keeps_the_ids_its_license_added_names_whatever_arrives_first() -> None:
    """Events of one license may disagree on its company, owner, instance or PIN (a producer's
    bug, another test's data): the first delivered must not decide, license.added does."""
    t1, s1 = at(1)
    t2, s2 = at(2)
    t3, s3 = at(3)
    lic = {"license_id": "lic-1", **IDS}
    other = {"license_id": "lic-1", "instance_id": "ins-2", "partner_id": "ptn-2", "company_id": "cmp-2"}
    third = {**other, "company_id": "cmp-3"}
    instance = model.instance_provisioned(
        None, **IDS, type_="WDS", provisioning_id="ins-1", contract_number="C-1", profile=None,
        activation_date=date(2026, 3, 1), expiry_date=date(2027, 2, 28), at=t1, stamp=s1,
    )  # fmt: skip
    changes: list[Callable[[LicenseView | None], LicenseView]] = [
        lambda c: model.with_instance(
            model.license_added(c, **lic, user_name="Ana", pin="4821", serial="SER-1", at=t1, stamp=s1), instance
        ),
        lambda c: model.license_released(c, **other, pin="9999", at=t2, stamp=s2),
        lambda c: model.license_revoked(c, **third, pin="8888", reason="Left", at=t3, stamp=s3),
    ]
    results = every_order(changes)
    assert len(results) == 1, results
    (license_,) = results
    assert license_ is not None
    assert (license_.instance_id, license_.partner_id, license_.company_id, license_.pin) == (
        "ins-1", "ptn-1", "cmp-1", "4821",
    )  # fmt: skip
    assert (license_.instance_type, license_.status, license_.user_name) == ("WDS", LicenseStatus.REVOKED, "Ana")
    assert license_of(dict(license_document(license_), _id="lic-1")) == license_, "the store keeps what decides"

    # Without its license.added, the oldest event decides, in any order.
    results = every_order(changes[1:])
    assert len(results) == 1, results
    (orphan,) = results
    assert orphan is not None
    assert (orphan.company_id, orphan.pin, orphan.added) == ("cmp-2", "9999", False)


def test_an_instance_keeps_the_ids_its_instance_provisioned_names_whatever_arrives_first() -> None:
    events = instance_events()
    _, s5 = at(5)
    _, s6 = at(6)
    elsewhere = {**IDS, "partner_id": "ptn-2", "company_id": "cmp-2"}
    events += [
        lambda c: model.instance_extended(c, **elsewhere, new_expiry_date=date(2029, 2, 28), stamp=s5),
        lambda c: model.instance_updated(c, **elsewhere, type_="WDS", changes={"name": "Depot"}, stamp=s6),
    ]
    results = every_order(events)
    assert len(results) == 1
    (instance,) = results
    assert instance is not None
    assert (instance.partner_id, instance.company_id, instance.name) == ("ptn-1", "cmp-1", "Depot")
    assert instance_of(dict(instance_document(instance), _id="ins-1")) == instance


def test_a_company_keeps_the_partner_its_company_created_names_whatever_arrives_first() -> None:
    _, s1 = at(1)
    _, s2 = at(2)
    changes: list[Callable[[CompanyView | None], CompanyView]] = [
        lambda c: model.company_named(c, company_id="cmp-1", partner_id="ptn-1", name="A", stamp=s1, created=True),
        lambda c: model.company_named(c, company_id="cmp-1", partner_id="ptn-2", name="B", stamp=s2),
    ]
    results = every_order(changes)
    assert len(results) == 1
    (company,) = results
    assert company is not None
    assert (company.partner_id, company.name) == ("ptn-1", "B")
    assert company_of(dict(company_document(company), _id="cmp-1")) == company
