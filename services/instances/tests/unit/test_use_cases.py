"""The instances use cases on in-memory fakes: what each decides, stores and leaves in the outbox,
scoped to the caller's partner."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import pytest

from contracts.events.common import InstanceType
from contracts.ingest_keys import InvalidIngestKey
from instances.domain.company import Address, Company
from instances.domain.configuration import InvalidConfiguration, WdsConfiguration
from instances.domain.errors import Conflict, IllegalTransition, NoContract, QuotaExceeded
from instances.domain.model import Instance, InstanceStatus, LicenseStatus, NewLicense, Stage, add_months
from instances.service_layer.commands import CompanyData
from instances.service_layer.ports import InstanceQuery
from instances.service_layer.queries import LicenseQuery
from instances.service_layer.testing import TestApp, bootstrap_test_app
from servicekit.errors import InvalidInput, NotFound
from servicekit.pagination import InvalidCursor
from servicekit.principal import Principal

pytestmark = pytest.mark.unit

PARTNER = Principal("usr-ana", "partner", "ptn-1", frozenset({"ptn-1"}))
OTHER_PARTNER = Principal("usr-bo", "partner", "ptn-2", frozenset({"ptn-2"}))


def company_data(name: str = "Transportes López S.L.", tax_id: str = "B12345678") -> CompanyData:
    return CompanyData(
        name=name,
        tax_id=tax_id,
        address=Address("Calle Mayor 1", "Madrid", "28013", "Madrid", "ES"),
        contact_person="Lucía López",
        email="lucia@transporteslopez.example",
        phone="+34 910 000 000",
    )


@pytest.fixture
def app() -> TestApp:
    return bootstrap_test_app()


async def new_company(app: TestApp, principal: Principal = PARTNER) -> Company:
    return await app.commands.create_company(principal, company_data())


async def generated_instance(app: TestApp, *, quota: int = 3, principal: Principal = PARTNER) -> Instance:
    company = await new_company(app, principal)
    draft = await app.commands.create_draft(
        principal,
        company_id=company.id,
        instance_type=InstanceType.WDS,
        name="Warehouse crew",
        configuration={"terminal_quota": quota},
        term_months=12,
    )
    await app.commands.provision(principal, draft.id)
    return await app.commands.generate(principal, draft.id, "generate-key-1")


def licenses(*pins: str) -> list[NewLicense]:
    return [NewLicense(f"User {pin}", f"user{pin}@example.com", pin, f"SER-{pin}") for pin in pins]


# ---------------------------------------------------------------------------------------- companies


async def test_a_company_is_created_for_the_callers_partner_with_its_event_and_audit(app: TestApp) -> None:
    company = await new_company(app)

    assert company.partner_id == "ptn-1"
    assert (await app.queries.company(PARTNER, company.id)).name == "Transportes López S.L."
    (created,) = app.outbox.events("company.created")
    assert created.data.company_id == company.id
    assert created.data.created_by.user_id == "usr-ana"
    assert [entry.action for entry in app.outbox.audit()] == ["company.create"]


async def test_a_second_company_with_the_same_tax_id_is_refused(app: TestApp) -> None:
    await new_company(app)

    with pytest.raises(Conflict) as refused:
        await app.commands.create_company(PARTNER, company_data(name="Another", tax_id="B12345678"))
    assert refused.value.slug == "tax-id-in-use"


async def test_a_company_patch_changes_only_the_fields_sent_and_is_validated_whole(app: TestApp) -> None:
    company = await new_company(app)
    seen: list[dict[str, Any]] = []

    def parse(document: dict[str, Any]) -> CompanyData:
        seen.append(document)
        return CompanyData(**{**document, "address": Address(**document["address"])})

    updated = await app.commands.update_company(PARTNER, company.id, {"phone": "+34 600 000 000"}, parse)

    assert updated.phone == "+34 600 000 000"
    assert updated.name == company.name
    assert seen[0]["tax_id"] == "B12345678", "the parser sees the whole merged company"
    assert [e.type for e in app.outbox.events()] == ["company.created", "company.updated"]


async def test_a_company_patch_the_parser_refuses_changes_nothing(app: TestApp) -> None:
    company = await new_company(app)

    def refuse(document: dict[str, Any]) -> CompanyData:
        raise InvalidInput.of_field("email", "value_error", "not an email")

    with pytest.raises(InvalidInput):
        await app.commands.update_company(PARTNER, company.id, {"email": "nope"}, refuse)
    assert (await app.queries.company(PARTNER, company.id)).email == company.email
    assert app.outbox.events("company.updated") == []


# ---------------------------------------------------------------------------------------- provisioning


async def test_provisioning_goes_draft_contract_then_instance_and_generate_is_idempotent(app: TestApp) -> None:
    company = await new_company(app)
    draft = await app.commands.create_draft(
        PARTNER,
        company_id=company.id,
        instance_type=InstanceType.WDS,
        name="Warehouse crew",
        configuration={"terminal_quota": 5},
        term_months=12,
    )
    with pytest.raises(NoContract):
        await app.queries.contract(PARTNER, draft.id)
    with pytest.raises(NotFound):  # a draft is no instance yet
        await app.queries.instance(PARTNER, draft.id)

    provisioned = await app.commands.provision(PARTNER, draft.id)
    contract = await app.queries.contract(PARTNER, draft.id)
    pdf = await app.queries.contract_pdf(PARTNER, draft.id, "en")

    assert provisioned.stage == Stage.PROVISIONED
    assert contract.number == "C-2026-000001"
    assert contract.customer.tax_id == "B12345678"
    assert pdf.number == contract.number
    assert contract.number in await app.queries.contract_html(PARTNER, draft.id, "en")

    first = await app.commands.generate(PARTNER, draft.id, "generate-key-1")
    again = await app.commands.generate(PARTNER, draft.id, "generate-key-1")

    assert first.id == again.id == draft.id
    assert first.stage == Stage.GENERATED
    assert first.status == InstanceStatus.ACTIVE
    assert first.expiry_date == add_months(date(2026, 3, 2), 12)
    assert len(app.outbox.events("instance.provisioned")) == 1
    assert (await app.queries.instance(PARTNER, draft.id)).id == draft.id


async def test_a_draft_needs_one_of_the_partners_companies(app: TestApp) -> None:
    company = await new_company(app, OTHER_PARTNER)

    with pytest.raises(NotFound) as missing:
        await app.commands.create_draft(
            PARTNER,
            company_id=company.id,
            instance_type=InstanceType.MCRM,
            name="Sales",
            configuration=None,
            term_months=12,
        )
    assert missing.value.detail == f"No company {company.id}."


async def test_a_cancelled_provisioning_cannot_be_provisioned(app: TestApp) -> None:
    company = await new_company(app)
    draft = await app.commands.create_draft(
        PARTNER, company_id=company.id, instance_type=InstanceType.S360, name="Field", configuration=None, term_months=6
    )
    await app.commands.cancel_provisioning(PARTNER, draft.id)

    with pytest.raises(IllegalTransition) as refused:
        await app.commands.provision(PARTNER, draft.id)
    assert refused.value.current_state == "cancelled"


async def test_provisioning_lists_show_drafts_and_not_instances(app: TestApp) -> None:
    instance = await generated_instance(app)
    draft = await app.commands.create_draft(
        PARTNER,
        company_id=instance.company_id,
        instance_type=InstanceType.WTA,
        name="Kiosks",
        configuration=None,
        term_months=3,
    )

    drafts = await app.queries.search_instances(PARTNER, InstanceQuery(stages=(Stage.DRAFT, Stage.PROVISIONED)))
    generated = await app.queries.search_instances(PARTNER, InstanceQuery())

    assert [i.id for i in drafts.items] == [draft.id]
    assert [i.id for i in generated.items] == [instance.id]


# ---------------------------------------------------------------------------------------- configuration


async def test_a_configuration_patch_merges_into_the_stored_configuration(app: TestApp) -> None:
    instance = await generated_instance(app, quota=3)

    edited = await app.commands.edit_instance(
        PARTNER, instance.id, name=None, configuration={"terminal_quota": 8, "work_calendar": {"timezone": "UTC"}}
    )

    assert isinstance(edited.configuration, WdsConfiguration)
    assert edited.configuration.terminal_quota == 8
    assert edited.configuration.work_calendar.timezone == "UTC"
    assert edited.configuration.gps_tracking is True, "fields not sent keep their value"
    (updated,) = app.outbox.events("instance.updated")
    assert updated.data.changes["configuration"]["terminal_quota"] == 8


async def test_an_invalid_configuration_is_a_422_naming_the_field_in_the_body(app: TestApp) -> None:
    instance = await generated_instance(app)

    with pytest.raises(InvalidConfiguration) as refused:
        await app.commands.edit_instance(PARTNER, instance.id, name=None, configuration={"terminal_quota": 0})

    assert isinstance(refused.value, InvalidInput)
    assert refused.value.status == 422
    assert refused.value.detail == "Invalid value for: configuration.terminal_quota."
    assert [(e["field"], e["in"]) for e in refused.value.extensions["errors"]] == [
        ("configuration.terminal_quota", "body")
    ]


# ---------------------------------------------------------------------------------------- the instance's life


async def test_extend_moves_the_expiry_date_later_only(app: TestApp) -> None:
    instance = await generated_instance(app)
    assert instance.expiry_date is not None
    later = instance.expiry_date + timedelta(days=30)

    extended = await app.commands.extend(PARTNER, instance.id, later)
    with pytest.raises(Conflict) as refused:
        await app.commands.extend(PARTNER, instance.id, later - timedelta(days=1))

    assert extended.expiry_date == later
    assert refused.value.slug == "expiry-not-later"
    (event,) = app.outbox.events("instance.extended")
    assert (event.data.previous_expiry_date, event.data.new_expiry_date) == (instance.expiry_date, later)


async def test_an_instance_past_its_expiry_date_is_listed_as_expired(app: TestApp) -> None:
    instance = await generated_instance(app)
    assert instance.expiry_date is not None
    app.clock.at = app.clock.at + (instance.expiry_date - app.clock.at.date()) + timedelta(days=1)

    expired = await app.queries.search_instances(PARTNER, InstanceQuery(status=InstanceStatus.EXPIRED))
    active = await app.queries.search_instances(PARTNER, InstanceQuery(status=InstanceStatus.ACTIVE))

    assert [i.id for i in expired.items] == [instance.id]
    assert active.items == []


async def test_a_cancellation_request_keeps_its_reason_and_is_asked_once(app: TestApp) -> None:
    instance = await generated_instance(app)

    requested = await app.commands.request_cancellation(PARTNER, instance.id, "  Closing the warehouse ")
    with pytest.raises(IllegalTransition):
        await app.commands.request_cancellation(PARTNER, instance.id, "Again")

    assert requested.status == InstanceStatus.CANCELLATION_REQUESTED
    assert requested.cancellation is not None
    assert requested.cancellation.reason == "Closing the warehouse"
    (event,) = app.outbox.events("instance.cancellation_requested")
    assert event.data.reason == "Closing the warehouse"


async def test_a_terminal_reads_its_configuration_with_the_current_ingest_key_only(app: TestApp) -> None:
    instance = await generated_instance(app)
    _, old_key = await app.commands.rotate_ingest_key(PARTNER, instance.id)
    _, key = await app.commands.rotate_ingest_key(PARTNER, instance.id)
    await app.commands.clear_session(PARTNER, instance.id, "ser-1")

    view = await app.queries.device_view(key, "SER-1")

    assert (view.instance_id, view.status, view.session_epoch) == (instance.id, "active", 1)
    with pytest.raises(InvalidIngestKey):
        await app.queries.device_view(old_key, "SER-1")


# ---------------------------------------------------------------------------------------- licenses


async def test_licenses_are_added_within_the_quota_all_or_none(app: TestApp) -> None:
    instance = await generated_instance(app, quota=3)

    ids = await app.commands.add_licenses(PARTNER, instance.id, licenses("1001", "1002"))
    with pytest.raises(QuotaExceeded) as refused:
        await app.commands.add_licenses(PARTNER, instance.id, licenses("1003", "1004"))

    assert len(ids) == 2
    assert refused.value.extensions == {"quota": 3, "in_use": 2, "requested": 2}
    page = await app.queries.search_licenses(PARTNER, instance.id, LicenseQuery())
    assert [entry.license.pin for entry in page.items] == ["1001", "1002"]
    assert len(app.outbox.events("license.added")) == 2


async def test_a_revoked_license_frees_its_seat(app: TestApp) -> None:
    instance = await generated_instance(app, quota=1)
    (license_id,) = await app.commands.add_licenses(PARTNER, instance.id, licenses("1001"))

    revoked = await app.commands.revoke_license(PARTNER, instance.id, license_id, "Left the company")
    await app.commands.add_licenses(PARTNER, instance.id, licenses("1002"))

    assert revoked.instance_id == instance.id
    assert revoked.license.status == LicenseStatus.REVOKED
    assert revoked.license.revoked_reason == "Left the company"
    (event,) = app.outbox.events("license.revoked")
    assert event.data.reason == "Left the company"


async def test_a_released_license_keeps_its_seat_without_a_terminal(app: TestApp) -> None:
    instance = await generated_instance(app, quota=1)
    (license_id,) = await app.commands.add_licenses(PARTNER, instance.id, licenses("1001"))

    released = await app.commands.release_license(PARTNER, instance.id, license_id, "Terminal replaced")

    assert (released.license.status, released.license.serial) == (LicenseStatus.RELEASED, None)
    with pytest.raises(QuotaExceeded):
        await app.commands.add_licenses(PARTNER, instance.id, licenses("1002"))
    with pytest.raises(IllegalTransition):
        await app.commands.release_license(PARTNER, instance.id, license_id, None)


async def test_licenses_are_searched_and_paged_by_user_name(app: TestApp) -> None:
    instance = await generated_instance(app, quota=5)
    ids = await app.commands.add_licenses(PARTNER, instance.id, licenses("1003", "1001", "1002"))
    await app.commands.revoke_license(PARTNER, instance.id, ids[2], "Gone")

    first = await app.queries.search_licenses(PARTNER, instance.id, LicenseQuery(limit=2))
    rest = await app.queries.search_licenses(PARTNER, instance.id, LicenseQuery(limit=2, cursor=first.next_cursor))
    active = await app.queries.search_licenses(PARTNER, instance.id, LicenseQuery(status=LicenseStatus.ACTIVE))
    by_serial = await app.queries.search_licenses(PARTNER, instance.id, LicenseQuery(text="ser-1003"))

    assert [e.license.pin for e in first.items] == ["1001", "1002"]
    assert [e.license.pin for e in rest.items] == ["1003"]
    assert rest.next_cursor is None
    assert [e.license.pin for e in active.items] == ["1001", "1003"]
    assert [e.license.pin for e in by_serial.items] == ["1003"]
    with pytest.raises(InvalidCursor):
        await app.queries.search_licenses(PARTNER, instance.id, LicenseQuery(cursor="lic-unknown"))


async def test_impersonation_is_signed_for_the_license_and_audited(app: TestApp) -> None:
    instance = await generated_instance(app)
    (license_id,) = await app.commands.add_licenses(PARTNER, instance.id, licenses("1001"))

    grant = await app.commands.impersonate(PARTNER, instance.id, license_id, "Support call 42")

    assert grant.panel_url.endswith(f"#token={grant.token}")
    assert app.signer.signed[0]["email"] == "user1001@example.com"
    audit = app.outbox.audit()[-1]
    assert audit.action == "license.impersonate"
    # The token, the audit entry and the event name the same grant.
    grant_id = app.signer.signed[0]["grant_id"]
    assert audit.detail["grant_id"] == grant_id
    (event,) = app.outbox.events("license.impersonated")
    assert (event.data.grant_id, event.data.license_id, event.data.pin) == (grant_id, license_id, "1001")
    assert event.data.expires_at == grant.expires_at


async def test_impersonation_without_a_signing_key_is_refused() -> None:
    app = bootstrap_test_app(with_signer=False)
    instance = await generated_instance(app)
    (license_id,) = await app.commands.add_licenses(PARTNER, instance.id, licenses("1001"))

    with pytest.raises(Conflict) as refused:
        await app.commands.impersonate(PARTNER, instance.id, license_id, "Support call 42")
    assert refused.value.slug == "impersonation-not-configured"


# ---------------------------------------------------------------------------------------- partner scoping


async def test_another_partners_ids_are_not_found_by_any_use_case(app: TestApp) -> None:
    instance = await generated_instance(app)
    (license_id,) = await app.commands.add_licenses(PARTNER, instance.id, licenses("1001"))
    company_id = instance.company_id
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: app.queries.company(OTHER_PARTNER, company_id),
        lambda: app.queries.provisioning(OTHER_PARTNER, instance.id),
        lambda: app.queries.instance(OTHER_PARTNER, instance.id),
        lambda: app.queries.contract(OTHER_PARTNER, instance.id),
        lambda: app.queries.license(OTHER_PARTNER, instance.id, license_id),
        lambda: app.queries.search_licenses(OTHER_PARTNER, instance.id, LicenseQuery()),
        lambda: app.commands.extend(OTHER_PARTNER, instance.id, date(2030, 1, 1)),
        lambda: app.commands.request_cancellation(OTHER_PARTNER, instance.id, "Not mine"),
        lambda: app.commands.edit_instance(OTHER_PARTNER, instance.id, name="Mine now", configuration=None),
        lambda: app.commands.add_licenses(OTHER_PARTNER, instance.id, licenses("2001")),
        lambda: app.commands.revoke_license(OTHER_PARTNER, instance.id, license_id, "Not mine"),
        lambda: app.commands.release_license(OTHER_PARTNER, instance.id, license_id, None),
        lambda: app.commands.impersonate(OTHER_PARTNER, instance.id, license_id, "Not mine"),
    ]
    before = len(app.outbox.pending)

    for call in calls:
        with pytest.raises(NotFound) as missing:
            await call()
        assert missing.value.status == 404
    assert len(app.outbox.pending) == before, "nothing was written"
    assert (await app.queries.search_instances(OTHER_PARTNER, InstanceQuery())).items == []
