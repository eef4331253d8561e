"""The API's response bodies are read from the domain objects' attributes (`model_validate`), with
the few derived fields computed from them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contracts.events.common import InstanceType
from instances.domain.company import Address
from instances.domain.model import NewLicense
from instances.entrypoints.schemas import CompanyOut, ContractOut, InstanceOut, LicenseOut
from instances.service_layer.commands import CompanyData
from instances.service_layer.ports import CompanyQuery
from instances.service_layer.testing import TestApp, bootstrap_test_app
from servicekit.api import PageOut
from servicekit.principal import Principal

pytestmark = pytest.mark.unit

PARTNER = Principal("usr-ana", "partner", "ptn-1", frozenset({"ptn-1"}))


@pytest.fixture
def app() -> TestApp:
    return bootstrap_test_app()


async def _instance_with_license(app: TestApp) -> tuple[str, str]:
    company = await app.commands.create_company(
        PARTNER,
        CompanyData(
            name="Transportes López S.L.",
            tax_id="B12345678",
            address=Address("Calle Mayor 1", "Madrid", "28013", "Madrid", "ES"),
            contact_person="Lucía López",
            email="lucia@transporteslopez.example",
            phone="+34 910 000 000",
        ),
    )
    draft = await app.commands.create_draft(
        PARTNER,
        company_id=company.id,
        instance_type=InstanceType.WDS,
        name="Warehouse crew",
        configuration={"terminal_quota": 4, "profile": "enterprise"},
        term_months=12,
    )
    await app.commands.provision(PARTNER, draft.id)
    await app.commands.generate(PARTNER, draft.id, "generate-key-1")
    (license_id,) = await app.commands.add_licenses(
        PARTNER, draft.id, [NewLicense("Ana", "ana@example.com", "1234", "ser-9")]
    )
    return draft.id, license_id


async def test_an_instance_body_carries_its_derived_fields(app: TestApp) -> None:
    instance_id, _ = await _instance_with_license(app)
    instance = await app.queries.instance(PARTNER, instance_id)
    assert instance.expiry_date is not None

    body = InstanceOut.model_validate(instance, context={"today": instance.expiry_date - timedelta(days=1)})
    expired = InstanceOut.model_validate(instance, context={"today": instance.expiry_date + timedelta(days=1)})

    assert (body.stage, body.status, expired.status) == ("generated", "active", "expired")
    assert body.profile == "enterprise"
    assert body.contract_number == "C-2026-000001"
    assert body.licenses.model_dump() == {"quota": 4, "in_use": 1, "active": 1, "released": 0, "revoked": 0}
    assert body.has_ingest_key is False
    assert body.cancellation is None


async def test_a_cancellation_shows_who_asked(app: TestApp) -> None:
    instance_id, _ = await _instance_with_license(app)

    body = InstanceOut.model_validate(await app.commands.request_cancellation(PARTNER, instance_id, "Closing"))

    assert body.cancellation is not None
    assert (body.cancellation.reason, body.cancellation.requested_by) == ("Closing", "usr-ana")


async def test_a_license_body_names_its_instance(app: TestApp) -> None:
    instance_id, license_id = await _instance_with_license(app)

    body = LicenseOut.model_validate(await app.queries.license(PARTNER, instance_id, license_id))

    assert (body.id, body.instance_id, body.serial, body.status) == (license_id, instance_id, "SER-9", "active")


async def test_a_contract_body_reads_its_terms_in_the_readers_language(app: TestApp) -> None:
    instance_id, _ = await _instance_with_license(app)
    contract = await app.queries.contract(PARTNER, instance_id)

    english = ContractOut.model_validate(contract, context={"language": "en"})
    spanish = ContractOut.model_validate(contract)

    assert english.terms.startswith("1. Object.")
    assert spanish.terms.startswith("1. Objeto.")
    assert english.vendor["tax_id"] == "B00000000"
    assert english.customer["tax_id"] == "B12345678"
    assert (english.seats, english.unit_price) == (4, str(contract.pricing.unit_price))


async def test_a_page_of_companies_is_read_from_the_query_page(app: TestApp) -> None:
    await _instance_with_license(app)

    page = PageOut[CompanyOut].model_validate(await app.queries.search_companies(PARTNER, CompanyQuery(limit=1)))

    assert [c.address["city"] for c in page.items] == ["Madrid"]
    assert page.next_cursor is None
