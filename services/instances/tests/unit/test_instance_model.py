"""The instance aggregate: provisioning, the instance's life, sessions and licenses (pure domain, no I/O)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from contracts.events.common import Actor, InstanceType
from contracts.events.instances import (
    InstanceCancellationRequested,
    InstanceExtended,
    InstanceProvisioned,
    InstanceUpdated,
    SessionCleared,
)
from contracts.events.licenses import LicenseAdded, LicenseImpersonated, LicenseReleased, LicenseRevoked
from instances.domain.configuration import Configuration, McrmConfiguration, WdsConfiguration, WdsProfile
from instances.domain.errors import Conflict, IllegalTransition, QuotaExceeded
from instances.domain.model import (
    MAX_TERM_MONTHS,
    PRODUCT_NAMES,
    Instance,
    InstanceStatus,
    LicenseStatus,
    NewLicense,
    Party,
    Stage,
    TerminalSession,
    add_months,
)
from servicekit.errors import NotFound

pytestmark = pytest.mark.unit

PARTNER = Actor(user_id="usr-partner", role="partner")
STAFF = Actor(user_id="usr-staff", role="staff")
CREATED = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
LATER = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)
TODAY = date(2026, 3, 10)
VENDOR = Party(name="Vendor S.L.", tax_id="B00000000", address="Calle Mayor 1, Madrid")
CUSTOMER = Party(name="Acme S.A.", tax_id="A11111111", address="Gran Via 2, Madrid", email="it@acme.example")


# ---------------------------------------------------------------------------------------- factories


def wds(quota: int = 10, profile: str = "professional") -> WdsConfiguration:
    return WdsConfiguration(terminal_quota=quota, profile=WdsProfile(profile))


def draft(configuration: Configuration | None = None, term_months: int = 12) -> Instance:
    configuration = configuration or wds()
    instance, _ = Instance.draft(
        instance_id="ins-1",
        partner_id="ptn-a",
        company_id="cmp-1",
        instance_type=InstanceType(configuration.type),
        name="Acme field team",
        configuration=configuration,
        term_months=term_months,
        actor=PARTNER,
        now=CREATED,
    )
    return instance


def provisioned(configuration: Configuration | None = None, term_months: int = 12) -> Instance:
    instance = draft(configuration, term_months)
    instance.provision(
        contract_number="CTR-2026-0001", vendor=VENDOR, customer=CUSTOMER, terms={"en": "T&C"}, now=CREATED
    )
    return instance


def generated(configuration: Configuration | None = None, term_months: int = 12) -> Instance:
    instance = provisioned(configuration, term_months)
    instance.generate(idempotency_key="key-1", actor=PARTNER, today=TODAY, now=CREATED)
    return instance


def seat(n: int, serial: str | None = None, pin: str | None = None) -> NewLicense:
    return NewLicense(user_name=f"User {n}", email=f"user{n}@acme.example", pin=pin or f"{1000 + n}", serial=serial)


def with_licenses(*new: NewLicense, quota: int = 10) -> Instance:
    instance = generated(wds(quota))
    instance.add_licenses(list(new), ids=[f"lic-{i}" for i in range(1, len(new) + 1)], actor=PARTNER, now=CREATED)
    return instance


def frozen(instance: Instance) -> Instance:
    """A deep copy to compare against after a refused action."""
    return copy.deepcopy(instance)


def assert_unchanged(instance: Instance, before: Instance) -> None:
    assert instance.snapshot() == before.snapshot()
    assert [vars(lic) for lic in instance.licenses] == [vars(lic) for lic in before.licenses]
    assert instance == before


# ---------------------------------------------------------------------------------------- add_months


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 3, 10), 12, date(2027, 3, 10)),
        (date(2026, 11, 15), 3, date(2027, 2, 15)),
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2028, 2, 29), 12, date(2029, 2, 28)),
        (date(2026, 8, 31), -6, date(2026, 2, 28)),
        (date(2026, 1, 15), -1, date(2025, 12, 15)),
        (date(2026, 5, 31), 0, date(2026, 5, 31)),
        (date(2026, 3, 10), MAX_TERM_MONTHS, date(2036, 3, 10)),
    ],
)
def test_add_months_clamps_to_the_end_of_shorter_months(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


# ---------------------------------------------------------------------------------------- provisioning


def test_a_draft_is_created_with_an_audited_change_and_no_event() -> None:
    instance, change = Instance.draft(
        instance_id="ins-9",
        partner_id="ptn-a",
        company_id="cmp-1",
        instance_type=InstanceType.WDS,
        name="Night shift",
        configuration=wds(5),
        term_months=24,
        actor=PARTNER,
        now=CREATED,
    )

    assert instance.stage == Stage.DRAFT
    assert instance.status is None
    assert instance.effective_status(TODAY) is None
    assert (instance.created_at, instance.updated_at, instance.created_by) == (CREATED, CREATED, PARTNER)
    assert (change.action, change.target_type, change.target_id) == ("provisioning.create", "instance", "ins-9")
    assert change.before is None
    assert change.after == instance.snapshot()
    assert change.after["stage"] == "draft"
    assert change.after["term_months"] == 24
    assert change.event is None


@pytest.mark.parametrize("term_months", [0, -1, MAX_TERM_MONTHS + 1])
def test_a_draft_needs_a_term_between_1_and_120_months(term_months: int) -> None:
    with pytest.raises(Conflict, match="between 1 and 120 months") as caught:
        draft(term_months=term_months)
    assert caught.value.slug == "invalid-term"


def test_a_draft_can_be_edited_and_the_change_records_before_and_after() -> None:
    instance = draft()

    change = instance.update_draft(name="Renamed", configuration=wds(20), term_months=36, now=NOW)

    assert (instance.name, instance.configuration.quota, instance.term_months) == ("Renamed", 20, 36)
    assert instance.updated_at == NOW
    assert change.action == "provisioning.update"
    assert change.before is not None and change.after is not None
    assert (change.before["name"], change.after["name"]) == ("Acme field team", "Renamed")
    assert (change.before["term_months"], change.after["term_months"]) == (12, 36)
    assert change.after["configuration"]["terminal_quota"] == 20


def test_a_draft_edit_with_an_invalid_term_changes_nothing() -> None:
    instance = draft()
    before = frozen(instance)

    with pytest.raises(Conflict, match="between 1 and 120"):
        instance.update_draft(name="Renamed", configuration=wds(20), term_months=0, now=NOW)

    assert_unchanged(instance, before)


@pytest.mark.parametrize(
    ("configuration", "term_months", "profile", "prices"),
    [
        (wds(20, "enterprise"), 24, "enterprise", ("9.00", "180.00", "4320.00")),
        (wds(10, "essential"), 12, "essential", ("4.00", "40.00", "480.00")),
        (McrmConfiguration(seat_quota=3), 6, None, ("12.00", "36.00", "216.00")),
    ],
)
def test_provisioning_issues_a_priced_contract(
    configuration: Configuration, term_months: int, profile: str | None, prices: tuple[str, str, str]
) -> None:
    instance = draft(configuration, term_months)

    change = instance.provision(contract_number="CTR-7", vendor=VENDOR, customer=CUSTOMER, terms={"en": "T&C"}, now=NOW)

    contract = instance.contract
    assert contract is not None
    assert instance.stage == Stage.PROVISIONED
    assert instance.status is None
    assert (contract.number, contract.issued_at, contract.vendor, contract.customer) == ("CTR-7", NOW, VENDOR, CUSTOMER)
    assert contract.partner_id == "ptn-a"
    assert contract.product_type == instance.type
    assert contract.product_name == PRODUCT_NAMES[instance.type]
    assert contract.profile == profile
    assert contract.term_months == term_months
    assert contract.pricing.currency == "EUR"
    assert contract.pricing.seats == configuration.quota
    pricing = contract.pricing
    assert (pricing.unit_price, pricing.monthly_total, pricing.term_total) == tuple(Decimal(p) for p in prices)
    assert change.action == "provisioning.provision"
    assert change.detail == {"contract": "CTR-7"}
    assert change.before is not None and change.after is not None
    assert (change.before["stage"], change.after["stage"]) == ("draft", "provisioned")
    assert (change.before["contract"], change.after["contract"]) == (None, "CTR-7")
    assert change.event is None


@pytest.mark.parametrize(
    ("make", "act", "message"),
    [
        (
            provisioned,
            lambda i: i.provision(
                contract_number="CTR-8", vendor=VENDOR, customer=CUSTOMER, terms={"en": "T"}, now=NOW
            ),
            "Cannot provision: the current state is 'provisioned'",
        ),
        (
            provisioned,
            lambda i: i.update_draft(name="x", configuration=None, term_months=None, now=NOW),
            "Cannot edit the draft: the current state is 'provisioned'",
        ),
        (
            draft,
            lambda i: i.generate(idempotency_key="key-1", actor=PARTNER, today=TODAY, now=NOW),
            "Cannot generate: the current state is 'draft'",
        ),
        (
            lambda: replace(draft(), stage=Stage.PROVISIONED),  # a hand-edited document: no contract
            lambda i: i.generate(idempotency_key="key-1", actor=PARTNER, today=TODAY, now=NOW),
            "Cannot generate: the current state is 'provisioned without contract'",
        ),
        (
            generated,
            lambda i: i.cancel_provisioning(now=NOW),
            "Cannot cancel the provisioning: the current state is 'generated'",
        ),
        (
            draft,
            lambda i: i.edit(name="Renamed", configuration=None, actor=PARTNER, now=NOW),
            "Cannot edit: the current state is 'draft'",
        ),
        (
            provisioned,
            lambda i: i.request_cancellation(reason="no longer needed", actor=PARTNER, now=NOW),
            "Cannot request cancellation: the current state is 'provisioned'",
        ),
        (
            provisioned,
            lambda i: i.clear_session(serial=None, actor=STAFF, now=NOW),
            "Cannot clear the session: the current state is 'provisioned'",
        ),
        (
            provisioned,
            lambda i: i.add_licenses([seat(1)], ids=["lic-1"], actor=PARTNER, now=NOW),
            "Cannot add licenses: the current state is 'provisioned'",
        ),
    ],
    ids=[
        "provision-twice",
        "edit-draft-after-provision",
        "generate-a-draft",
        "generate-without-contract",
        "cancel-a-generated-provisioning",
        "edit-a-draft-as-instance",
        "request-cancellation-before-generation",
        "clear-session-before-generation",
        "add-licenses-before-generation",
    ],
)
def test_steps_out_of_order_are_refused_and_change_nothing(
    make: Callable[[], Instance], act: Callable[[Instance], Any], message: str
) -> None:
    instance = make()
    before = frozen(instance)

    with pytest.raises(IllegalTransition, match=message):
        act(instance)

    assert_unchanged(instance, before)


@pytest.mark.parametrize("factory", [draft, provisioned], ids=["draft", "provisioned"])
def test_a_provisioning_can_be_cancelled_before_it_is_generated(factory: Callable[[], Instance]) -> None:
    instance = factory()
    stage_before = instance.stage.value

    change = instance.cancel_provisioning(now=NOW)

    assert instance.stage == Stage.CANCELLED
    assert instance.updated_at == NOW
    assert change.action == "provisioning.cancel"
    assert change.before is not None and change.after is not None
    assert (change.before["stage"], change.after["stage"]) == (stage_before, "cancelled")
    with pytest.raises(IllegalTransition, match="current state is 'cancelled'"):
        instance.generate(idempotency_key="key-1", actor=PARTNER, today=TODAY, now=NOW)


def test_generating_activates_the_instance_and_publishes_instance_provisioned() -> None:
    instance = provisioned(wds(15, "enterprise"), term_months=24)

    change = instance.generate(idempotency_key="key-1", actor=STAFF, today=date(2026, 1, 31), now=NOW)

    assert change is not None
    assert instance.stage == Stage.GENERATED
    assert instance.status == InstanceStatus.ACTIVE
    assert instance.generate_key == "key-1"
    assert instance.activation_date == date(2026, 1, 31)
    assert instance.expiry_date == date(2028, 1, 31)
    assert instance.updated_at == NOW
    assert change.action == "instance.generate"
    assert change.before is not None and change.after is not None
    assert (change.before["stage"], change.before["status"]) == ("provisioned", None)
    assert (change.after["stage"], change.after["status"], change.after["expiry_date"]) == (
        "generated",
        "active",
        "2028-01-31",
    )
    assert change.event == InstanceProvisioned(
        instance_id="ins-1",
        partner_id="ptn-a",
        company_id="cmp-1",
        provisioning_id="ins-1",
        contract_number="CTR-2026-0001",
        name="Acme field team",
        type=InstanceType.WDS,
        profile="enterprise",
        activation_date=date(2026, 1, 31),
        expiry_date=date(2028, 1, 31),
        configuration=instance.snapshot()["configuration"],
        provisioned_by=STAFF,
    )
    assert change.event.configuration["terminal_quota"] == 15


def test_generate_is_idempotent_by_key_only() -> None:
    instance = generated()
    before = frozen(instance)

    assert instance.generate(idempotency_key="key-1", actor=PARTNER, today=date(2027, 1, 1), now=LATER) is None
    assert_unchanged(instance, before)
    assert instance.updated_at == CREATED

    with pytest.raises(IllegalTransition, match="Cannot generate: the current state is 'generated'") as caught:
        instance.generate(idempotency_key="key-2", actor=PARTNER, today=TODAY, now=LATER)
    assert caught.value.current_state == "generated"
    assert_unchanged(instance, before)


# ---------------------------------------------------------------------------------------- effective status


@pytest.mark.parametrize(
    ("status", "today", "expected"),
    [
        (InstanceStatus.ACTIVE, date(2027, 3, 9), InstanceStatus.ACTIVE),
        (InstanceStatus.ACTIVE, date(2027, 3, 10), InstanceStatus.ACTIVE),  # the expiry day itself still counts
        (InstanceStatus.ACTIVE, date(2027, 3, 11), InstanceStatus.EXPIRED),
        (InstanceStatus.CANCELLATION_REQUESTED, date(2027, 3, 11), InstanceStatus.CANCELLATION_REQUESTED),
        (InstanceStatus.CANCELLED, date(2030, 1, 1), InstanceStatus.CANCELLED),
    ],
)
def test_effective_status_is_expired_only_for_active_instances_past_their_expiry(
    status: InstanceStatus, today: date, expected: InstanceStatus
) -> None:
    instance = generated()  # expires 2027-03-10
    instance.status = status

    assert instance.effective_status(today) == expected
    assert instance.status == status  # derived, never stored


# ---------------------------------------------------------------------------------------- edit


def test_editing_publishes_only_what_changed() -> None:
    instance = generated(wds(10, "professional"))

    renamed = instance.edit(name="Renamed", configuration=wds(10, "professional"), actor=STAFF, now=NOW)

    assert renamed is not None
    assert instance.name == "Renamed"
    assert instance.updated_at == NOW
    assert renamed.action == "instance.edit"
    assert renamed.before is not None and renamed.after is not None
    assert (renamed.before["name"], renamed.after["name"]) == ("Acme field team", "Renamed")
    assert renamed.event == InstanceUpdated(
        instance_id="ins-1",
        partner_id="ptn-a",
        company_id="cmp-1",
        type=InstanceType.WDS,
        changes={"name": "Renamed"},
        updated_by=STAFF,
    )

    new = wds(12, "enterprise")
    reconfigured = instance.edit(name=None, configuration=new, actor=PARTNER, now=LATER)

    assert reconfigured is not None
    assert instance.configuration == new
    assert isinstance(reconfigured.event, InstanceUpdated)
    assert reconfigured.event.updated_by == PARTNER
    assert reconfigured.event.changes == {"configuration": new.model_dump(mode="json"), "profile": "enterprise"}
    assert reconfigured.after is not None
    assert reconfigured.after["configuration"]["terminal_quota"] == 12


def test_an_edit_that_changes_nothing_returns_none_and_touches_nothing() -> None:
    instance = generated(wds(10))
    before = frozen(instance)

    assert instance.edit(name="Acme field team", configuration=wds(10), actor=PARTNER, now=NOW) is None
    assert instance.edit(name=None, configuration=None, actor=PARTNER, now=NOW) is None

    assert_unchanged(instance, before)
    assert instance.updated_at == CREATED


def test_the_quota_cannot_drop_below_the_seats_in_use_released_counted_revoked_not() -> None:
    instance = with_licenses(seat(1), seat(2), seat(3, serial="SER-C"), quota=5)
    instance.release_license("lic-3", reason=None, actor=PARTNER, now=CREATED)  # a released seat is still used
    before = frozen(instance)

    with pytest.raises(QuotaExceeded, match=r"allows 2 licenses; 3 are in use\.$") as caught:
        instance.edit(name=None, configuration=wds(2), actor=PARTNER, now=NOW)

    assert caught.value.extensions == {"quota": 2, "in_use": 3, "requested": 0}
    assert caught.value.status == 409
    assert_unchanged(instance, before)

    instance.revoke_license("lic-1", reason="left the company", actor=PARTNER, now=NOW)
    assert instance.edit(name=None, configuration=wds(2), actor=PARTNER, now=NOW) is not None
    assert instance.configuration.quota == 2 == instance.seats_in_use()


def test_a_refused_edit_changes_nothing_even_when_it_also_renames() -> None:
    instance = with_licenses(seat(1), seat(2), seat(3), quota=5)
    before = frozen(instance)

    with pytest.raises(QuotaExceeded):
        instance.edit(name="Renamed", configuration=wds(2), actor=PARTNER, now=NOW)

    assert_unchanged(instance, before)


# ---------------------------------------------------------------------------------------- extend


def test_extending_moves_the_expiry_and_publishes_both_dates() -> None:
    instance = generated()  # expires 2027-03-10

    change = instance.extend(new_expiry_date=date(2028, 3, 10), actor=STAFF, today=TODAY, now=NOW)

    assert instance.expiry_date == date(2028, 3, 10)
    assert instance.updated_at == NOW
    assert change.action == "instance.extend"
    assert change.before is not None and change.after is not None
    assert (change.before["expiry_date"], change.after["expiry_date"]) == ("2027-03-10", "2028-03-10")
    assert change.event == InstanceExtended(
        instance_id="ins-1",
        partner_id="ptn-a",
        company_id="cmp-1",
        previous_expiry_date=date(2027, 3, 10),
        new_expiry_date=date(2028, 3, 10),
        extended_by=STAFF,
    )


def test_an_expired_instance_is_extended_from_its_old_expiry() -> None:
    instance = generated()  # expires 2027-03-10
    today = date(2027, 6, 1)
    assert instance.effective_status(today) == InstanceStatus.EXPIRED

    change = instance.extend(new_expiry_date=date(2028, 6, 1), actor=STAFF, today=today, now=NOW)

    assert isinstance(change.event, InstanceExtended)
    assert change.event.previous_expiry_date == date(2027, 3, 10)
    assert instance.effective_status(today) == InstanceStatus.ACTIVE


@pytest.mark.parametrize("new_expiry", [date(2027, 3, 10), date(2027, 3, 9), date(2026, 1, 1)])
def test_the_new_expiry_must_be_later_than_the_current_one(new_expiry: date) -> None:
    instance = generated()
    before = frozen(instance)

    with pytest.raises(Conflict, match="must be after 2027-03-10") as caught:
        instance.extend(new_expiry_date=new_expiry, actor=STAFF, today=TODAY, now=NOW)

    assert caught.value.slug == "expiry-not-later"
    assert_unchanged(instance, before)


def test_the_expiry_can_be_at_most_120_months_ahead() -> None:
    instance = generated()
    limit = add_months(TODAY, MAX_TERM_MONTHS)
    before = frozen(instance)

    with pytest.raises(Conflict, match="at most 120 months ahead") as caught:
        instance.extend(new_expiry_date=limit + timedelta(days=1), actor=STAFF, today=TODAY, now=NOW)
    assert caught.value.slug == "expiry-too-far"
    assert_unchanged(instance, before)

    instance.extend(new_expiry_date=limit, actor=STAFF, today=TODAY, now=NOW)
    assert instance.expiry_date == date(2036, 3, 10)


# ---------------------------------------------------------------------------------------- cancellation request


def test_requesting_cancellation_records_the_trimmed_reason_and_publishes_it() -> None:
    instance = generated()

    change = instance.request_cancellation(reason="  closing the branch \n", actor=PARTNER, now=NOW)

    assert instance.status == InstanceStatus.CANCELLATION_REQUESTED
    assert instance.cancellation is not None
    assert instance.cancellation.reason == "closing the branch"
    assert instance.cancellation.requested_by == PARTNER
    assert instance.cancellation.requested_at == NOW
    assert instance.updated_at == NOW
    assert change.action == "instance.request_cancellation"
    assert change.before is not None and change.after is not None
    assert (change.before["status"], change.after["status"]) == ("active", "cancellation_requested")
    assert change.event == InstanceCancellationRequested(
        instance_id="ins-1", partner_id="ptn-a", company_id="cmp-1", reason="closing the branch", requested_by=PARTNER
    )


@pytest.mark.parametrize("reason", ["", "   ", "\n\t"])
def test_a_cancellation_request_needs_a_reason(reason: str) -> None:
    instance = generated()
    before = frozen(instance)

    with pytest.raises(Conflict, match="A reason is required") as caught:
        instance.request_cancellation(reason=reason, actor=PARTNER, now=NOW)

    assert caught.value.slug == "reason-required"
    assert_unchanged(instance, before)


@pytest.mark.parametrize(
    ("status", "current"),
    [(InstanceStatus.CANCELLATION_REQUESTED, "cancellation_requested"), (InstanceStatus.CANCELLED, "cancelled")],
)
def test_cancellation_can_only_be_requested_for_an_active_instance(status: InstanceStatus, current: str) -> None:
    instance = generated()
    instance.status = status
    before = frozen(instance)

    with pytest.raises(IllegalTransition, match=f"Cannot request cancellation: the current state is '{current}'"):
        instance.request_cancellation(reason="no longer needed", actor=PARTNER, now=NOW)

    assert_unchanged(instance, before)


# ---------------------------------------------------------------------------------------- sessions


def test_clearing_every_session_bumps_the_instance_epoch() -> None:
    instance = generated()

    first = instance.clear_session(serial=None, actor=STAFF, now=NOW)
    second = instance.clear_session(serial=None, actor=STAFF, now=LATER)

    assert instance.session_epoch == 2
    assert instance.terminal_epoch("SER-ANY") == 2
    assert instance.updated_at == LATER
    assert first.action == "instance.clear_session"
    assert first.detail == {"serial": None}
    assert first.before == {"session_epoch": 0, "terminal_sessions": []}
    assert first.after == {"session_epoch": 1, "terminal_sessions": []}
    assert first.event == SessionCleared(
        instance_id="ins-1", partner_id="ptn-a", serial=None, session_epoch=1, cleared_by=STAFF
    )
    assert isinstance(second.event, SessionCleared)
    assert second.event.session_epoch == 2


def test_clearing_one_terminal_raises_only_its_epoch_above_the_instance_epoch() -> None:
    instance = generated()
    instance.clear_session(serial=None, actor=STAFF, now=NOW)  # instance epoch 1

    change = instance.clear_session(serial="SER-A", actor=STAFF, now=LATER)

    assert instance.session_epoch == 1
    assert instance.terminal_epoch("SER-A") == 2
    assert instance.terminal_epoch("SER-B") == 1
    assert instance.terminal_sessions == [TerminalSession("SER-A", 2)]
    assert change.detail == {"serial": "SER-A"}
    assert change.before == {"session_epoch": 1, "terminal_sessions": []}
    assert change.after == {"session_epoch": 1, "terminal_sessions": [{"serial": "SER-A", "epoch": 2}]}
    assert change.event == SessionCleared(
        instance_id="ins-1", partner_id="ptn-a", serial="SER-A", session_epoch=2, cleared_by=STAFF
    )

    instance.clear_session(serial="SER-B", actor=STAFF, now=LATER)
    instance.clear_session(serial="SER-A", actor=STAFF, now=LATER)
    assert sorted(instance.terminal_sessions, key=lambda s: s.serial) == [
        TerminalSession("SER-A", 3),
        TerminalSession("SER-B", 2),
    ]


def test_a_terminal_whose_own_epoch_fell_behind_is_bumped_above_the_instance_epoch() -> None:
    instance = generated()
    instance.terminal_sessions = [TerminalSession("SER-A", 1)]
    instance.session_epoch = 4

    assert instance.terminal_epoch("SER-A") == 4
    change = instance.clear_session(serial="SER-A", actor=STAFF, now=NOW)

    assert instance.terminal_epoch("SER-A") == 5
    assert isinstance(change.event, SessionCleared)
    assert change.event.session_epoch == 5


def test_clearing_every_session_also_logs_out_a_terminal_cleared_on_its_own_before() -> None:
    instance = generated()
    instance.clear_session(serial="SER-A", actor=STAFF, now=NOW)
    seen_by_terminal = instance.terminal_epoch("SER-A")  # the terminal logs in again and has seen this epoch

    instance.clear_session(serial=None, actor=STAFF, now=LATER)

    assert instance.terminal_epoch("SER-A") > seen_by_terminal


# ---------------------------------------------------------------------------------------- licenses: add


def test_adding_licenses_creates_active_seats_and_one_event_each() -> None:
    instance = generated(wds(5))

    changes = instance.add_licenses([seat(1, serial="SER-A"), seat(2)], ids=["lic-1", "lic-2"], actor=PARTNER, now=NOW)

    assert [lic.id for lic in instance.licenses] == ["lic-1", "lic-2"]
    assert all(lic.status == LicenseStatus.ACTIVE for lic in instance.licenses)
    assert all((lic.created_at, lic.updated_at, lic.created_by) == (NOW, NOW, PARTNER) for lic in instance.licenses)
    assert instance.seats_in_use() == 2
    assert instance.updated_at == NOW
    assert [(c.action, c.target_type, c.target_id, c.before) for c in changes] == [
        ("license.add", "license", "lic-1", None),
        ("license.add", "license", "lic-2", None),
    ]
    assert changes[0].after == {"status": "active", "serial": "SER-A", "pin": "1001", "user_name": "User 1"}
    assert changes[0].event == LicenseAdded(
        license_id="lic-1",
        instance_id="ins-1",
        partner_id="ptn-a",
        company_id="cmp-1",
        user_name="User 1",
        email="user1@acme.example",
        pin="1001",
        serial="SER-A",
        added_by=PARTNER,
    )
    assert isinstance(changes[1].event, LicenseAdded)
    assert changes[1].event.serial is None


def test_licenses_beyond_the_quota_are_refused_all_together_until_a_seat_is_revoked() -> None:
    instance = with_licenses(seat(1), seat(2), quota=3)
    before = frozen(instance)

    with pytest.raises(QuotaExceeded, match="allows 3 licenses; 2 are in use and 2 more were asked for") as caught:
        instance.add_licenses([seat(3), seat(4)], ids=["lic-3", "lic-4"], actor=PARTNER, now=NOW)

    assert caught.value.extensions == {"quota": 3, "in_use": 2, "requested": 2}
    assert_unchanged(instance, before)

    instance.revoke_license("lic-1", reason="left", actor=PARTNER, now=NOW)
    changes = instance.add_licenses([seat(3), seat(4)], ids=["lic-3", "lic-4"], actor=PARTNER, now=NOW)
    assert [c.target_id for c in changes] == ["lic-3", "lic-4"]
    assert instance.seats_in_use() == 3 == instance.configuration.quota


@pytest.mark.parametrize(
    ("existing", "batch", "repeated"),
    [
        ([], [seat(1, pin="1111"), seat(2, pin="1111")], "1111"),
        ([seat(1, pin="2222")], [seat(2, pin="3333"), seat(3, pin="2222")], "2222"),
        ([seat(1, pin="9000")], [seat(2, pin="9000"), seat(3, pin="1234"), seat(4, pin="1234")], "1234, 9000"),
    ],
    ids=["within-the-batch", "among-live-licenses", "several-sorted"],
)
def test_a_pin_already_in_use_refuses_the_whole_batch(
    existing: list[NewLicense], batch: list[NewLicense], repeated: str
) -> None:
    instance = with_licenses(*existing)
    before = frozen(instance)

    with pytest.raises(Conflict, match=f"PIN already in use in this instance: {repeated}\\.") as caught:
        instance.add_licenses(batch, ids=[f"new-{i}" for i in range(len(batch))], actor=PARTNER, now=NOW)

    assert caught.value.slug == "pin-in-use"
    assert caught.value.extensions == {"pins": repeated.split(", ")}
    assert_unchanged(instance, before)


def test_the_pin_of_a_revoked_license_can_be_reused_but_not_that_of_a_released_one() -> None:
    instance = with_licenses(seat(1, pin="1111"), seat(2, pin="2222", serial="SER-B"))
    instance.revoke_license("lic-1", reason="left", actor=PARTNER, now=NOW)
    instance.release_license("lic-2", reason=None, actor=PARTNER, now=NOW)

    instance.add_licenses([seat(3, pin="1111")], ids=["lic-3"], actor=PARTNER, now=NOW)
    with pytest.raises(Conflict, match="PIN already in use in this instance: 2222"):
        instance.add_licenses([seat(4, pin="2222")], ids=["lic-4"], actor=PARTNER, now=NOW)

    assert [lic.id for lic in instance.licenses] == ["lic-1", "lic-2", "lic-3"]


@pytest.mark.parametrize(
    ("existing", "batch", "taken"),
    [
        ([seat(1, serial="SER-A")], [seat(2, serial="SER-A")], "SER-A"),
        ([], [seat(1, serial="SER-B"), seat(2, serial="SER-B")], "SER-B"),
    ],
    ids=["bound-to-an-active-license", "twice-in-the-batch"],
)
def test_a_terminal_can_be_bound_to_one_license_only(
    existing: list[NewLicense], batch: list[NewLicense], taken: str
) -> None:
    instance = with_licenses(*existing)
    before = frozen(instance)

    with pytest.raises(Conflict, match=f"Terminal already bound to a license: {taken}\\.") as caught:
        instance.add_licenses(batch, ids=[f"new-{i}" for i in range(len(batch))], actor=PARTNER, now=NOW)

    assert caught.value.slug == "serial-bound"
    assert caught.value.extensions == {"serials": [taken]}
    assert_unchanged(instance, before)


@pytest.mark.parametrize("free_it", ["release", "revoke"])
def test_a_terminal_freed_from_its_license_can_be_bound_again(free_it: str) -> None:
    instance = with_licenses(seat(1, serial="SER-A"))
    if free_it == "release":
        instance.release_license("lic-1", reason=None, actor=PARTNER, now=NOW)
    else:
        instance.revoke_license("lic-1", reason="stolen phone", actor=PARTNER, now=NOW)

    changes = instance.add_licenses([seat(2, serial="SER-A")], ids=["lic-2"], actor=PARTNER, now=NOW)

    assert isinstance(changes[0].event, LicenseAdded)
    assert changes[0].event.serial == "SER-A"


def test_a_batch_with_too_few_ids_adds_nothing() -> None:
    instance = generated(wds(5))
    before = frozen(instance)

    with pytest.raises(ValueError, match="one id per new license"):
        instance.add_licenses([seat(1), seat(2)], ids=["lic-1"], actor=PARTNER, now=NOW)

    assert_unchanged(instance, before)


# ---------------------------------------------------------------------------------------- licenses: revoke


def test_revoking_a_license_is_final_records_the_reason_and_frees_the_seat() -> None:
    instance = with_licenses(seat(1, serial="SER-A"), seat(2))

    change = instance.revoke_license("lic-1", reason="  left the company ", actor=STAFF, now=NOW)

    lic = instance.license("lic-1")
    assert (lic.status, lic.revoked_reason, lic.updated_at) == (LicenseStatus.REVOKED, "left the company", NOW)
    assert lic.serial == "SER-A"  # kept for the record
    assert instance.seats_in_use() == 1
    assert instance.updated_at == NOW
    assert (change.action, change.target_type, change.target_id) == ("license.revoke", "license", "lic-1")
    assert change.before == {"status": "active", "serial": "SER-A", "pin": "1001", "user_name": "User 1"}
    assert change.after == {"status": "revoked", "serial": "SER-A", "pin": "1001", "user_name": "User 1"}
    assert change.detail == {"reason": "left the company"}
    assert change.event == LicenseRevoked(
        license_id="lic-1",
        instance_id="ins-1",
        partner_id="ptn-a",
        company_id="cmp-1",
        pin="1001",
        serial="SER-A",
        reason="left the company",
        revoked_by=STAFF,
    )
    with pytest.raises(IllegalTransition, match="Cannot revoke: the current state is 'revoked'"):
        instance.revoke_license("lic-1", reason="again", actor=STAFF, now=LATER)
    assert lic.revoked_reason == "left the company"


def test_a_released_license_can_still_be_revoked() -> None:
    instance = with_licenses(seat(1, serial="SER-A"))
    instance.release_license("lic-1", reason=None, actor=PARTNER, now=NOW)

    change = instance.revoke_license("lic-1", reason="not needed", actor=PARTNER, now=LATER)

    assert isinstance(change.event, LicenseRevoked)
    assert change.event.serial is None
    assert change.before is not None
    assert change.before["status"] == "released"


@pytest.mark.parametrize("reason", ["", "  "])
def test_revoking_needs_a_reason(reason: str) -> None:
    instance = with_licenses(seat(1))
    before = frozen(instance)

    with pytest.raises(Conflict, match="A reason is required") as caught:
        instance.revoke_license("lic-1", reason=reason, actor=PARTNER, now=NOW)

    assert caught.value.slug == "reason-required"
    assert_unchanged(instance, before)


@pytest.mark.parametrize(
    "act",
    [
        lambda i: i.revoke_license("lic-404", reason="x", actor=PARTNER, now=NOW),
        lambda i: i.release_license("lic-404", reason=None, actor=PARTNER, now=NOW),
        lambda i: i.impersonation("lic-404", reason="x", expires_at=LATER, actor=STAFF, grant_id="imp-1"),
    ],
    ids=["revoke", "release", "impersonate"],
)
def test_acting_on_an_unknown_license_is_not_found(act: Callable[[Instance], Any]) -> None:
    instance = with_licenses(seat(1))
    before = frozen(instance)

    with pytest.raises(NotFound, match="No license lic-404") as caught:
        act(instance)

    assert caught.value.status == 404
    assert_unchanged(instance, before)


# ---------------------------------------------------------------------------------------- licenses: release


@pytest.mark.parametrize(("reason", "published"), [(None, None), ("", None), ("   ", None), (" broken ", "broken")])
def test_releasing_unbinds_the_terminal_but_keeps_the_seat(reason: str | None, published: str | None) -> None:
    instance = with_licenses(seat(1, serial="SER-A"))

    change = instance.release_license("lic-1", reason=reason, actor=PARTNER, now=NOW)

    lic = instance.license("lic-1")
    assert (lic.status, lic.serial, lic.updated_at) == (LicenseStatus.RELEASED, None, NOW)
    assert instance.seats_in_use() == 1
    assert instance.updated_at == NOW
    assert (change.action, change.target_id, change.detail) == ("license.release", "lic-1", {"serial": "SER-A"})
    assert change.before == {"status": "active", "serial": "SER-A", "pin": "1001", "user_name": "User 1"}
    assert change.after == {"status": "released", "serial": None, "pin": "1001", "user_name": "User 1"}
    assert change.event == LicenseReleased(
        license_id="lic-1",
        instance_id="ins-1",
        partner_id="ptn-a",
        company_id="cmp-1",
        pin="1001",
        serial="SER-A",
        reason=published,
        released_by=PARTNER,
    )


def test_a_license_without_terminal_cannot_be_released() -> None:
    instance = with_licenses(seat(1))
    before = frozen(instance)

    with pytest.raises(Conflict, match="not bound to any terminal") as caught:
        instance.release_license("lic-1", reason=None, actor=PARTNER, now=NOW)

    assert caught.value.slug == "not-bound"
    assert_unchanged(instance, before)


@pytest.mark.parametrize(("first", "state"), [("release", "released"), ("revoke", "revoked")])
def test_only_an_active_license_can_be_released(first: str, state: str) -> None:
    instance = with_licenses(seat(1, serial="SER-A"))
    if first == "release":
        instance.release_license("lic-1", reason=None, actor=PARTNER, now=NOW)
    else:
        instance.revoke_license("lic-1", reason="left", actor=PARTNER, now=NOW)
    before = frozen(instance)

    with pytest.raises(IllegalTransition, match=f"Cannot release: the current state is '{state}'"):
        instance.release_license("lic-1", reason=None, actor=PARTNER, now=LATER)

    assert_unchanged(instance, before)


# ---------------------------------------------------------------------------------------- impersonation


@pytest.mark.parametrize("release_first", [False, True], ids=["active", "released"])
def test_impersonation_changes_nothing_and_tells_its_grant(release_first: bool) -> None:
    instance = with_licenses(seat(1, serial="SER-A"))
    if release_first:
        instance.release_license("lic-1", reason=None, actor=PARTNER, now=NOW)
    before = frozen(instance)
    expires_at = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)

    change = instance.impersonation(
        "lic-1", reason=" support ticket 42 ", expires_at=expires_at, actor=STAFF, grant_id="imp-42"
    )

    assert (change.action, change.target_type, change.target_id) == ("license.impersonate", "license", "lic-1")
    assert (change.before, change.after) == (None, None)
    assert change.detail == {
        "reason": "support ticket 42",
        "expires_at": "2026-03-10T10:00:00+00:00",
        "user": "user1@acme.example",
        "grant_id": "imp-42",
    }
    assert isinstance(change.event, LicenseImpersonated)
    assert change.event.model_dump(exclude={"impersonated_by"}) == {
        "grant_id": "imp-42",
        "license_id": "lic-1",
        "instance_id": instance.id,
        "partner_id": instance.partner_id,
        "company_id": instance.company_id,
        "pin": "1001",
        "user": "user1@acme.example",
        "serial": None if release_first else "SER-A",
        "reason": "support ticket 42",
        "expires_at": expires_at,
    }
    assert change.event.impersonated_by == STAFF
    assert_unchanged(instance, before)


@pytest.mark.parametrize(
    ("revoke_first", "reason", "error", "message"),
    [
        (True, "support", IllegalTransition, "Cannot impersonate: the current state is 'revoked'"),
        (False, "  ", Conflict, "A reason is required"),
    ],
    ids=["revoked-license", "blank-reason"],
)
def test_impersonation_is_refused_for_revoked_licenses_and_without_reason(
    revoke_first: bool, reason: str, error: type[Exception], message: str
) -> None:
    instance = with_licenses(seat(1))
    if revoke_first:
        instance.revoke_license("lic-1", reason="left", actor=PARTNER, now=NOW)
    before = frozen(instance)

    with pytest.raises(error, match=message):
        instance.impersonation("lic-1", reason=reason, expires_at=LATER, actor=STAFF, grant_id="imp-1")

    assert_unchanged(instance, before)


# ---------------------------------------------------------------------------------------- a cancelled instance


@pytest.mark.parametrize(
    ("act", "action"),
    [
        (lambda i: i.edit(name="Renamed", configuration=None, actor=STAFF, now=NOW), "edit"),
        (lambda i: i.extend(new_expiry_date=date(2028, 1, 1), actor=STAFF, today=TODAY, now=NOW), "extend"),
        (lambda i: i.clear_session(serial=None, actor=STAFF, now=NOW), "clear the session"),
        (lambda i: i.add_licenses([seat(9)], ids=["lic-9"], actor=STAFF, now=NOW), "add licenses"),
        (lambda i: i.revoke_license("lic-1", reason="x", actor=STAFF, now=NOW), "revoke a license"),
        (lambda i: i.release_license("lic-1", reason=None, actor=STAFF, now=NOW), "release a license"),
        (
            lambda i: i.impersonation("lic-1", reason="x", expires_at=LATER, actor=STAFF, grant_id="imp-1"),
            "impersonate",
        ),
    ],
    ids=["edit", "extend", "clear_session", "add_licenses", "revoke", "release", "impersonate"],
)
def test_a_cancelled_instance_refuses_every_change(act: Callable[[Instance], Any], action: str) -> None:
    instance = with_licenses(seat(1, serial="SER-A"))
    instance.status = InstanceStatus.CANCELLED
    before = frozen(instance)

    with pytest.raises(IllegalTransition, match=f"Cannot {action}: the current state is 'cancelled'") as caught:
        act(instance)

    assert caught.value.current_state == "cancelled"
    assert_unchanged(instance, before)
