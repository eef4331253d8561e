"""The Reports section in headless Chromium against the whole back end: charts with their numbers,
the Filter button (R-31), the list behind the charts (R-32) with its CSV and XLSX exports, an
item's detail (R-34), the active services of a period (R-05) and the operations view (R-04)."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from servicekit.testing import eventually

from .browser import assert_no_serious_a11y, chromium, login, new_page, screenshot
from .conftest import PASSWORD, Stack, add_user, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

COMPANY = {
    "name": "Talleres Gómez S.L.",
    "address": {"street": "Calle 1", "city": "Soria", "postal_code": "42001", "province": "Soria"},
    "contact_person": "Luis Gómez",
    "email": "luis@example.com",
    "phone": "+34 975 000 000",
}


@dataclass
class Seeded:
    email: str
    partner_id: str
    instances: dict[str, str]
    """name -> id"""
    titles: dict[str, str]
    """name -> what the reports call it: its contract number (they learn a name only from a rename)"""
    license_id: str


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def web(topic_prefix: str, key_pair: tuple[str, str]) -> AsyncIterator[Stack]:
    async with running_stack(topic_prefix, key_pair, web=True) as started:
        yield started


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as started:
        yield started


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def seeded(web: Stack) -> Seeded:
    """A partner with two WDS instances (two profiles) and one MCRM, and a license on a WDS,
    created through the gateway; ready once the reports read model counts them."""
    partner_id = f"ptn-{uuid.uuid4().hex[:8]}"
    email = await add_user(web, f"usr-{uuid.uuid4().hex[:8]}", "partner", (partner_id,))
    token = await web.token(email)
    plan = [
        ("Fábrica Soria", "WDS", {"profile": "enterprise"}),
        ("Oficina Burgos", "WDS", {"profile": "professional"}),
        ("CRM comercial", "MCRM", None),
    ]
    instances: dict[str, str] = {}
    async with web.client(token) as api:
        company = await api.post("/api/v1/companies", json={**COMPANY, "tax_id": f"B{uuid.uuid4().int % 10**8:08d}"})
        assert company.status_code == 201, company.text
        for name, kind, configuration in plan:
            draft = await api.post(
                "/api/v1/provisionings",
                json={"company_id": company.json()["id"], "type": kind, "name": name, "configuration": configuration},
            )
            assert draft.status_code == 201, draft.text
            instance_id = draft.json()["id"]
            assert (await api.post(f"/api/v1/provisionings/{instance_id}/provision")).status_code == 200
            generated = await api.post(
                f"/api/v1/provisionings/{instance_id}/generate", headers={"Idempotency-Key": uuid.uuid4().hex}
            )
            assert generated.status_code in (200, 201), generated.text
            instances[name] = instance_id
        added = await api.post(
            f"/api/v1/instances/{instances['Fábrica Soria']}/licenses",
            json={
                "licenses": [{"user_name": "Ana Pérez", "email": "ana@example.com", "pin": "4821", "serial": "SR-1"}]
            },
        )
        assert added.status_code == 201, added.text
        license_id = added.json()["license_ids"][0]
        key = (await api.post(f"/api/v1/instances/{instances['Fábrica Soria']}/ingest-key")).json()["ingest_key"]

    # Two operations of the terminal today, through the public ingest route.
    now = datetime.now(UTC)
    events = [
        {
            "event_id": str(uuid.uuid4()),
            "serial": "SR-1",
            "pin": "4821",
            "action": action,
            "occurred_at": at.isoformat(),
        }
        for action, at in (("clock_in", now - timedelta(minutes=5)), ("clock_out", now))
    ]
    async with web.client() as terminal:

        async def admitted() -> bool:  # the key reaches the activity service through Kafka
            sent = await terminal.post("/api/v1/ingest/events", json={"events": events}, headers={"X-Ingest-Key": key})
            return sent.status_code == 202

        await eventually(admitted)
    async with web.client(token) as api:

        async def counted() -> bool:
            summary = (await api.get("/api/v1/reports/summary")).json()
            day = now.date().isoformat()
            operations = (await api.get("/api/v1/reports/operations", params={"from": day, "to": day})).json()
            return summary["instances"]["total"] == 3 and summary["licenses"]["total"] == 1 and operations["total"] == 2

        await eventually(counted)
        titles = {}
        for name, instance_id in instances.items():
            reported = (await api.get(f"/api/v1/reports/instances/{instance_id}")).json()
            titles[name] = reported["name"] or reported["contract_number"]
    return Seeded(email, partner_id, instances, titles, license_id)


async def open_reports(page: Page, email: str) -> None:
    await login(page, email, PASSWORD)
    await page.get_by_role("link", name="Informes").click()
    await expect(page.get_by_role("heading", name="Informes", level=1)).to_be_visible()


async def test_charts_filter_export_and_detail(web: Stack, browser: Browser, seeded: Seeded, tmp_path: Path) -> None:
    async with new_page(browser, web.url) as page:
        mcrm = seeded.titles["CRM comercial"]
        await open_reports(page, seeded.email)

        # The charts' numbers, also as text (R-30, R-33: WDS split by profile).
        await expect(page.get_by_text("Instancias: 3 · Licencias: 1")).to_be_visible()
        counts = page.get_by_role("region", name="Recuento")
        await expect(counts.get_by_role("img", name=re.compile("Instancias por tipo"))).to_be_visible()
        await expect(counts.get_by_role("row", name="WDS · Enterprise 1")).to_be_visible()
        await expect(counts.get_by_role("row", name="WDS · Professional 1")).to_be_visible()
        await expect(counts.get_by_role("row", name="MCRM 1")).to_be_visible()
        instances = page.get_by_role("list", name="Instancias")
        await expect(instances.get_by_role("listitem")).to_have_count(3)

        # The chart type is the user's choice.
        await counts.get_by_label("Tipo de gráfico").select_option("doughnut")
        await expect(counts.get_by_role("img", name=re.compile("Instancias por tipo"))).to_be_visible()

        filters = page.get_by_role("form", name="Filtros")
        type_filter = filters.get_by_label("Tipo")
        # Filter is disabled while the filters equal what the charts show.
        apply = page.get_by_role("button", name="Filtrar")
        await expect(apply).to_be_disabled()
        await screenshot(page, "reports-charts")
        await assert_no_serious_a11y(page, "the report charts")
        await type_filter.select_option("MCRM")
        await expect(apply).to_be_enabled()
        await type_filter.select_option("")
        await expect(apply).to_be_disabled()  # back to what is shown
        await type_filter.select_option("MCRM")
        await apply.click()
        await expect(page.get_by_text("Instancias: 1 · Licencias: 0")).to_be_visible()
        await expect(apply).to_be_disabled()
        await expect(instances.get_by_role("listitem")).to_have_count(1)
        await expect(instances.get_by_role("link", name=re.compile(re.escape(mcrm)))).to_be_visible()
        await expect(counts.get_by_role("row", name="WDS · Enterprise 0")).to_be_visible()
        await screenshot(page, "reports-filtered")
        await assert_no_serious_a11y(page, "the report charts, filtered")

        # Exports of the list with the same filters.
        async with page.expect_download() as csv_download:
            await page.get_by_role("button", name="Exportar CSV").click()
        saved = tmp_path / "instances.csv"
        await (await csv_download.value).save_as(saved)
        rows = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
        assert rows[0][:5] == ["Id", "Partner", "Id de empresa", "Empresa", "Tipo"], rows[0]  # the UI's language
        assert [row[0] for row in rows[1:]] == [seeded.instances["CRM comercial"]], rows
        assert rows[1][4] == "MCRM"
        assert rows[1][3] == COMPANY["name"]
        async with page.expect_download() as xlsx_download:
            await page.get_by_role("button", name="Exportar XLSX").click()
        download = await xlsx_download.value
        assert download.suggested_filename.endswith(".xlsx")
        saved = tmp_path / "instances.xlsx"
        await download.save_as(saved)
        assert saved.read_bytes().startswith(b"PK"), "an XLSX is a zip"

        # an item opens its detail; back returns to the filtered view.
        await instances.get_by_role("link", name=re.compile(re.escape(mcrm))).click()
        await expect(page).to_have_url(re.compile(f"/reports/instances/{seeded.instances['CRM comercial']}$"))
        await expect(page.get_by_role("heading", name=f"Instancia: {mcrm}")).to_be_visible()
        await expect(page.get_by_text(COMPANY["name"])).to_be_visible()
        await expect(page.get_by_role("link", name="Gestionar en Instancias")).to_be_visible()
        await screenshot(page, "reports-detail")
        await assert_no_serious_a11y(page, "an instance's report")
        await page.get_by_role("button", name="Volver a informes").click()
        await expect(type_filter).to_have_value("MCRM")
        await expect(page.get_by_text("Instancias: 1 · Licencias: 0")).to_be_visible()
        await expect(apply).to_be_disabled()


async def test_licenses_period_errors_active_services_and_operations(
    web: Stack, browser: Browser, seeded: Seeded
) -> None:
    async with new_page(browser, web.url) as page:
        await open_reports(page, seeded.email)

        # A half period is refused by the API; its message stands next to the field it names.
        await page.get_by_label("Activación desde").fill("2024-01-01")
        await page.get_by_role("button", name="Filtrar").click()
        await expect(page.locator("#filter-activated_to-error")).to_be_visible()
        await expect(page.get_by_label("Activación hasta")).to_have_attribute("aria-invalid", "true")
        await assert_no_serious_a11y(page, "the report filters with an error")
        await page.get_by_role("button", name="Limpiar").click()
        await page.get_by_role("button", name="Filtrar").click()
        await expect(page.get_by_text("Instancias: 3 · Licencias: 1")).to_be_visible()

        # The license list and a license's detail.
        await page.get_by_role("button", name="Licencias", exact=True).click()
        licenses = page.get_by_role("list", name="Licencias")
        await expect(licenses).to_be_visible()
        await assert_no_serious_a11y(page, "the license list of the reports")
        await licenses.get_by_role("link", name=re.compile("Ana Pérez")).click()
        await expect(page.get_by_role("heading", name="Licencia: Ana Pérez")).to_be_visible()
        await expect(page.get_by_text("SR-1")).to_be_visible()
        await assert_no_serious_a11y(page, "a license's report")
        await page.get_by_role("link", name="Ver la instancia en informes").click()
        await expect(page.get_by_role("heading", name=f"Instancia: {seeded.titles['Fábrica Soria']}")).to_be_visible()

        # the services active this month.
        await page.goto("/reports/active-services")
        active = page.get_by_role("list", name="Servicios activos")
        await expect(active.get_by_role("listitem")).to_have_count(3)
        await expect(active.get_by_text("1 licencia en el periodo")).to_be_visible()
        await expect(page.get_by_role("button", name="Filtrar")).to_be_disabled()
        await screenshot(page, "reports-active-services")
        await assert_no_serious_a11y(page, "the active services")

        # operations per day by type, and the rows per day and instance by action.
        await page.get_by_role("link", name="Operaciones").click()
        await expect(page.get_by_role("img", name=re.compile("Operaciones por día"))).to_be_visible()
        totals = page.locator("dl.type-totals")
        await expect(totals).to_contain_text("Total2")
        await expect(totals).to_contain_text("WDS2")
        rows = page.get_by_role("list", name="Detalle")
        await expect(rows.get_by_role("listitem")).to_have_count(1)
        await expect(rows).to_contain_text("2 operaciones")
        await expect(rows).to_contain_text("clock_in: 1")
        await screenshot(page, "reports-operations")
        await assert_no_serious_a11y(page, "the operations")
