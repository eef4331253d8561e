"""The Instances section in headless Chromium against the whole back end (R-20..R-26): the new-instance
wizard through the contract step, licenses added and revoked, and a cancelled provisioning."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

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


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def web(topic_prefix: str, key_pair: tuple[str, str]) -> AsyncIterator[Stack]:
    async with running_stack(topic_prefix, key_pair, web=True) as started:
        yield started


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as started:
        yield started


def tax_id() -> str:
    return f"B{uuid.uuid4().int % 10**8:08d}"


async def partner_user(web: Stack) -> tuple[str, str]:
    """A partner user of a new partner; returns (e-mail, access token)."""
    email = await add_user(web, f"usr-{uuid.uuid4().hex[:8]}", "partner", (f"ptn-{uuid.uuid4().hex[:8]}",))
    return email, await web.token(email)


async def provisioned(web: Stack, token: str, name: str, *, generate: bool) -> str:
    """A company and an instance through the API: provisioned, and generated when asked."""
    async with web.client(token) as api:
        company = await api.post("/api/v1/companies", json={**COMPANY, "tax_id": tax_id()})
        assert company.status_code == 201, company.text
        draft = await api.post(
            "/api/v1/provisionings", json={"company_id": company.json()["id"], "type": "MCRM", "name": name}
        )
        assert draft.status_code == 201, draft.text
        instance_id = str(draft.json()["id"])
        assert (await api.post(f"/api/v1/provisionings/{instance_id}/provision")).status_code == 200
        if generate:
            generated = await api.post(
                f"/api/v1/provisionings/{instance_id}/generate", headers={"Idempotency-Key": f"k-{uuid.uuid4().hex}"}
            )
            assert generated.status_code in (200, 201), generated.text
    return instance_id


async def fill(page: Page, values: dict[str, str]) -> None:
    for label, value in values.items():
        await page.get_by_label(label, exact=True).fill(value)


async def test_provision_an_instance_then_add_and_revoke_a_license(web: Stack, browser: Browser) -> None:
    email, token = await partner_user(web)
    await provisioned(web, token, "Comerciales norte", generate=True)  # the list is not empty
    async with new_page(browser, web.url) as page:
        await login(page, email, PASSWORD)
        await page.get_by_role("navigation", name="Secciones").get_by_role("link", name="Instancias").click()
        instances = page.get_by_role("list", name="Instancias")
        await expect(instances.get_by_role("link", name="Comerciales norte")).to_be_visible()
        await expect(page.get_by_role("link", name="Ayuda")).to_be_visible()
        await screenshot(page, "instances-list")
        await assert_no_serious_a11y(page, "the instance list")

        # The wizard: company (created here) → type → data → Provision.
        await page.get_by_role("link", name="Agregar nueva instancia").click()
        await expect(page.get_by_role("heading", name="Nueva instancia")).to_be_visible()
        await assert_no_serious_a11y(page, "the wizard: choose a company")
        await page.get_by_role("button", name="Nueva empresa").click()
        await assert_no_serious_a11y(page, "the wizard: the new company form")
        await fill(
            page,
            {
                "Razón social": "Limpiezas Soria S.L.",
                "CIF/NIF": tax_id(),
                "Dirección": "Calle Mayor 3",
                "Ciudad": "Soria",
                "Código postal": "42002",
                "Provincia": "Soria",
                "Persona de contacto": "Marta Ruiz",
                "Correo electrónico de contacto": "marta@example.com",
                "Teléfono": "+34 975 111 222",
            },
        )
        await page.get_by_role("button", name="Crear empresa").click()
        await page.get_by_label("Working Day Suite").check()
        await assert_no_serious_a11y(page, "the wizard: choose the type")
        await page.get_by_role("button", name="Siguiente").click()
        await page.get_by_label("Nombre de la instancia").wait_for()
        await assert_no_serious_a11y(page, "the wizard: the instance's data")
        await page.get_by_label("Nombre de la instancia").fill("Cuadrilla de limpieza")
        await page.get_by_label("Terminales contratados").fill("3")
        await page.get_by_role("button", name="Aprovisionar").click()

        # The contract to read; still cancellable; Generate (with its confirmation) creates the instance.
        contract = page.get_by_role("article", name="Contrato")
        await expect(contract).to_contain_text("Limpiezas Soria S.L.")
        await expect(contract).to_contain_text("Working Day Suite")
        await expect(page.get_by_role("button", name="Cancelar aprovisionamiento")).to_be_enabled()
        await expect(page.get_by_role("button", name="Descargar PDF")).to_be_visible()
        await screenshot(page, "instances-wizard-contract")
        await assert_no_serious_a11y(page, "the wizard: the contract")
        await page.get_by_role("button", name="Generar", exact=True).click()
        await expect(page.get_by_role("dialog")).to_be_visible()
        await assert_no_serious_a11y(page, "the wizard: the generate dialog")
        await page.get_by_role("dialog").get_by_role("button", name="Generar", exact=True).click()

        await expect(page.get_by_role("heading", name="Cuadrilla de limpieza")).to_be_visible()
        await expect(page.get_by_text("Activa", exact=True)).to_be_visible()
        await expect(page.get_by_text("Licencias: 0 de 3")).to_be_visible()
        await page.get_by_role("button", name="Acciones").click()
        actions = page.get_by_role("group", name="Acciones")
        await expect(actions.get_by_role("button", name="Solicitar baja de la instancia")).to_be_visible()
        await expect(actions.get_by_role("button", name="Borrar sesión")).to_be_visible()
        await screenshot(page, "instances-detail")
        await assert_no_serious_a11y(page, "an instance's detail with its actions")

        # Licenses: add one, open its details, revoke it with a reason.
        await actions.get_by_role("button", name="Ver licencias").click()
        await expect(page.get_by_text("Esta instancia aún no tiene licencias.")).to_be_visible()
        await assert_no_serious_a11y(page, "the licenses of an instance, empty")
        await page.get_by_role("link", name="Añadir licencias").click()
        await page.get_by_label("Nombre del usuario", exact=True).wait_for()
        await assert_no_serious_a11y(page, "the add licenses form")
        await fill(
            page,
            {
                "Nombre del usuario": "Ana Pérez",
                "Correo electrónico del usuario": "ana@example.com",
                "PIN (4 a 8 cifras)": "4821",
            },
        )
        await page.get_by_role("button", name="Añadir 1 licencia").click()
        licenses = page.get_by_role("list", name="Licencias")
        row = licenses.get_by_role("link", name="Ana Pérez")
        await expect(row).to_contain_text("Activa")
        await expect(page.get_by_text("Licencias: 1 de 3")).to_be_visible()
        await row.click()

        await expect(page.get_by_role("heading", name="Ana Pérez")).to_be_visible()
        await expect(page.get_by_role("button", name="Liberar licencia")).to_have_count(0)  # no terminal bound
        await assert_no_serious_a11y(page, "a license's detail")
        await page.get_by_role("button", name="Dar de baja la licencia").click()
        dialog = page.get_by_role("dialog")
        await expect(dialog).to_contain_text("No se puede deshacer")
        await assert_no_serious_a11y(page, "the revoke dialog: confirm")
        await dialog.get_by_role("button", name="Continuar").click()
        await expect(dialog.get_by_role("button", name="Enviar")).to_be_disabled()  # the reason is mandatory
        await assert_no_serious_a11y(page, "the revoke dialog: the reason")
        await dialog.get_by_label("Motivo de la baja").fill("El empleado ya no trabaja aquí")
        await dialog.get_by_role("button", name="Enviar").click()
        await expect(page.get_by_role("status")).to_contain_text("Licencia dada de baja")
        await expect(page.get_by_text("Revocada", exact=True)).to_be_visible()
        await expect(page.get_by_text("El empleado ya no trabaja aquí")).to_be_visible()
        await expect(page.get_by_role("button", name="Dar de baja la licencia")).to_have_count(0)
        await assert_no_serious_a11y(page, "a revoked license")

        await page.get_by_role("link", name="Volver").click()
        await expect(licenses.get_by_role("link", name="Ana Pérez")).to_contain_text("Revocada")
        await expect(page.get_by_text("Licencias: 0 de 3")).to_be_visible()
        await screenshot(page, "instances-licenses")
        await assert_no_serious_a11y(page, "the licenses of an instance")


async def test_a_cancelled_provisioning_offers_no_generate(web: Stack, browser: Browser) -> None:
    email, token = await partner_user(web)
    instance_id = await provisioned(web, token, "Ruta sur", generate=False)
    async with new_page(browser, web.url) as page:
        await login(page, email, PASSWORD)
        await page.goto("/instances")
        await page.get_by_text("Aprovisionamientos en curso (1)").click()
        await assert_no_serious_a11y(page, "the instance list with a provisioning open")
        await page.get_by_role("link", name="Ruta sur").click()
        await expect(page.get_by_role("article", name="Contrato")).to_contain_text("Mobile CRM")
        await page.get_by_role("button", name="Cancelar aprovisionamiento").click()
        await expect(page.get_by_role("dialog")).to_be_visible()
        await assert_no_serious_a11y(page, "the cancel provisioning dialog")
        await page.get_by_role("dialog").get_by_role("button", name="Cancelar aprovisionamiento").click()
        await expect(page.get_by_role("status")).to_contain_text("ya no se puede generar")
        await assert_no_serious_a11y(page, "a cancelled provisioning")
        await expect(page.get_by_role("button", name="Generar")).to_have_count(0)
        await expect(page.get_by_role("button", name="Cancelar aprovisionamiento")).to_have_count(0)
        await page.reload()
        await expect(page.get_by_text("Cancelada", exact=True)).to_be_visible()
        await expect(page.get_by_role("button", name="Generar")).to_have_count(0)
    async with web.client(token) as api:
        generate = await api.post(
            f"/api/v1/provisionings/{instance_id}/generate", headers={"Idempotency-Key": f"k-{uuid.uuid4().hex}"}
        )
        assert generate.status_code == 409, "the service agrees: a cancelled provisioning cannot be generated"


async def test_editing_the_configuration_shows_errors_next_to_the_field(web: Stack, browser: Browser) -> None:
    email, token = await partner_user(web)
    instance_id = await provisioned(web, token, "Comerciales sur", generate=True)
    async with new_page(browser, web.url) as page:
        await login(page, email, PASSWORD)
        await page.goto(f"/instances/{instance_id}")
        await page.get_by_role("button", name="Acciones").click()
        await (
            page.get_by_role("group", name="Acciones")
            .get_by_role("button", name="Editar datos y configuración")
            .click()
        )
        quota = page.get_by_label("Usuarios contratados")
        await expect(quota).to_have_value("5")
        await assert_no_serious_a11y(page, "the configuration form")
        await quota.fill("0")
        await page.get_by_role("button", name="Guardar").click()
        await expect(quota).to_have_attribute("aria-invalid", "true")
        await expect(page.locator("label", has=quota).locator(".field-error")).to_contain_text("1")
        await assert_no_serious_a11y(page, "the configuration form with an error")
        await quota.fill("8")
        await page.get_by_label("Pedidos").check()
        await page.get_by_role("button", name="Guardar").click()
        await expect(page.get_by_role("heading", name="Comerciales sur")).to_be_visible()
        await expect(page.get_by_text("Licencias: 0 de 8")).to_be_visible()
        await expect(page.get_by_text("Contactos, Pedidos, Visitas")).to_be_visible()
        help_page = await page.context.request.get("/help/instances.es.html")
        assert help_page.ok and "Nueva instancia" in await help_page.text()


async def test_the_edit_form_sends_only_what_was_changed(web: Stack, browser: Browser) -> None:
    """A change made elsewhere while the form is open (another user, another tab) stays: the form's
    PATCH carries the fields edited in it, not the whole configuration as it was when opened."""
    email, token = await partner_user(web)
    instance_id = await provisioned(web, token, "Comerciales este", generate=True)
    async with new_page(browser, web.url) as page:
        await login(page, email, PASSWORD)
        await page.goto(f"/instances/{instance_id}/edit")
        quota = page.get_by_label("Usuarios contratados")
        await expect(quota).to_have_value("5")
        async with web.client(token) as api:
            elsewhere = await api.patch(f"/api/v1/instances/{instance_id}", json={"configuration": {"currency": "USD"}})
            assert elsewhere.status_code == 200, elsewhere.text
        await quota.fill("8")
        await page.get_by_role("button", name="Guardar").click()
        await expect(page.get_by_text("Licencias: 0 de 8")).to_be_visible()
    async with web.client(token) as api:
        configuration = (await api.get(f"/api/v1/instances/{instance_id}")).json()["configuration"]
    assert (configuration["seat_quota"], configuration["currency"]) == (8, "USD")
