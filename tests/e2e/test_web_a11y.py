"""axe-core on every section and dialog of the web app, on a desktop in Spanish and English and on a
phone in English (the other browser tests check a phone in Spanish as they go): no serious or critical
violation (the support section's search, attachments and, for staff, canned replies included). Also the
composer's keyboard hint: shown with a fine pointer (⌘ on macOS), not on a phone."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, Route, ViewportSize, expect

from servicekit.testing import eventually

from .browser import DESKTOP, PHONE, assert_no_serious_a11y, chromium, login, new_page
from .conftest import PASSWORD, Stack, add_user, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

COMPANY = {
    "address": {"street": "Calle 1", "city": "Soria", "postal_code": "42001", "province": "Soria"},
    "contact_person": "Luis Gómez",
    "email": "luis@example.com",
    "phone": "+34 975 000 000",
}
# The texts the tour clicks, per language (web/src/**/texts.ts).
TEXTS: dict[str, dict[str, str]] = {
    "es": {
        "actions": "Acciones",
        "extend": "Ampliar caducidad",
        "clear": "Borrar sesión",
        "cancel_instance": "Solicitar baja de la instancia",
        "continue": "Continuar",
        "cancel": "Cancelar",
        "revoke": "Dar de baja la licencia",
        "impersonate": "Acceder al panel web como este usuario",
        "release": "Liberar licencia",
        "new_company": "Nueva empresa",
        "next": "Siguiente",
        "generate": "Generar",
        "cancel_provisioning": "Cancelar aprovisionamiento",
        "search": "Buscar",
        "licenses": "Licencias",
        "new_subscription": "Nueva suscripción",
        "hint": "Ctrl+Intro para enviar",
        "mac_hint": "⌘+Intro para enviar",
    },
    "en": {
        "actions": "Actions",
        "extend": "Extend expiry",
        "clear": "Clear session",
        "cancel_instance": "Request the instance's cancellation",
        "continue": "Continue",
        "cancel": "Cancel",
        "revoke": "Cancel the license",
        "impersonate": "Open the web panel as this user",
        "release": "Release license",
        "new_company": "New company",
        "next": "Next",
        "generate": "Generate",
        "cancel_provisioning": "Cancel provisioning",
        "search": "Search",
        "licenses": "Licenses",
        "new_subscription": "New subscription",
        "hint": "Ctrl+Enter to send",
        "mac_hint": "⌘+Enter to send",
    },
}
MAC_SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"
)


@dataclass
class World:
    email: str
    company_id: str
    instances: dict[str, str]
    """type -> id (generated: WDS, MCRM; provisioned, not generated: S360)"""
    license_id: str
    thread_id: str
    day: str
    """the day (UTC) of the terminal SR-1's clock-in, GPS fixes and clock-out"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def web(topic_prefix: str, key_pair: tuple[str, str]) -> AsyncIterator[Stack]:
    async with running_stack(topic_prefix, key_pair, web=True) as started:
        yield started


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as started:
        yield started


async def world(web: Stack, language: str) -> World:
    """A partner user (in `language`) with a company, instances of three types, a license and a message
    in the company's support thread, all through the gateway; ready once the reports count them."""
    email = await add_user(web, f"usr-{uuid.uuid4().hex[:8]}", "partner", (f"ptn-{uuid.uuid4().hex[:8]}",))
    token = await web.token(email)
    instances: dict[str, str] = {}
    async with web.client(token) as api:
        assert (await api.patch("/api/v1/profile", json={"language": language})).status_code == 200
        company = await api.post(
            "/api/v1/companies",
            json={**COMPANY, "name": f"Talleres {uuid.uuid4().hex[:6]}", "tax_id": f"B{uuid.uuid4().int % 10**8:08d}"},
        )
        assert company.status_code == 201, company.text
        company_id = company.json()["id"]
        for kind, generate in (("WDS", True), ("MCRM", True), ("S360", False)):
            draft = await api.post(
                "/api/v1/provisionings", json={"company_id": company_id, "type": kind, "name": f"Equipo {kind}"}
            )
            assert draft.status_code == 201, draft.text
            instance_id = draft.json()["id"]
            assert (await api.post(f"/api/v1/provisionings/{instance_id}/provision")).status_code == 200
            if generate:
                generated = await api.post(
                    f"/api/v1/provisionings/{instance_id}/generate", headers={"Idempotency-Key": uuid.uuid4().hex}
                )
                assert generated.status_code in (200, 201), generated.text
            instances[kind] = instance_id
        added = await api.post(
            f"/api/v1/instances/{instances['MCRM']}/licenses",
            json={
                "licenses": [{"user_name": "Ana Pérez", "email": "ana@example.com", "pin": "4821", "serial": "SR-1"}]
            },
        )
        assert added.status_code == 201, added.text
        license_id = added.json()["license_ids"][0]

        async def thread() -> str | None:  # the support service opens it on company.created
            found = await api.get(f"/api/v1/threads/thr-{company_id}")
            return str(found.json()["id"]) if found.status_code == 200 else None

        thread_id = await eventually(thread)
        posted = await api.post(
            f"/api/v1/threads/{thread_id}/messages",
            json={"body": "Hola, el terminal no sincroniza."},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert posted.status_code in (200, 201), posted.text

        async def counted() -> bool:
            summary = (await api.get("/api/v1/reports/summary")).json()
            return bool(summary["instances"]["total"] >= 2 and summary["licenses"]["total"] == 1)

        await eventually(counted)

        # The license's terminal works for an hour (clock-in, GPS fixes, a break, clock-out): a track on
        # the map and a day of working time (issue #20).
        key = (await api.post(f"/api/v1/instances/{instances['MCRM']}/ingest-key")).json()["ingest_key"]
        start = datetime.now(UTC) - timedelta(minutes=70)
        plan = ["clock_in", "gps_fix", "break_start", "break_end", "gps_fix", "gps_fix", "clock_out"]
        events = [
            {
                "event_id": str(uuid.uuid4()),
                "serial": "SR-1",
                "pin": "4821",
                "action": action,
                "occurred_at": (start + timedelta(minutes=10 * n)).isoformat(),
                "location": {"lat": 41.7636 + n * 0.0005, "lon": -2.4649 + n * 0.0004, "accuracy_m": 10.0 + n},
            }
            for n, action in enumerate(plan)
        ]
        async with web.client() as terminal:

            async def admitted() -> bool:  # the key reaches the activity service through Kafka
                sent = await terminal.post(
                    "/api/v1/ingest/events", json={"events": events}, headers={"X-Ingest-Key": key}
                )
                return sent.status_code == 202

            await eventually(admitted)

        async def tracked() -> bool:
            found = await api.get(
                "/api/v1/activity/terminals/SR-1/positions", params={"date": start.date().isoformat(), "tz": "UTC"}
            )
            return found.status_code == 200 and len(found.json()["items"]) == len(plan)

        await eventually(tracked)
    return World(email, company_id, instances, license_id, thread_id, start.date().isoformat())


async def settled(page: Page, where: str) -> None:
    """The page's data has arrived (no loading state, a level-1 heading), then axe checks it."""
    await expect(page.locator(".state-loading")).to_have_count(0)
    await expect(page.get_by_role("heading", level=1).first).to_be_visible()
    await assert_no_serious_a11y(page, where)


async def dialog_checked(page: Page, where: str) -> None:
    await expect(page.get_by_role("dialog")).to_be_visible()
    await assert_no_serious_a11y(page, where)


async def tour(page: Page, w: World, language: str, label: str) -> None:
    t = TEXTS[language]
    dialog = page.get_by_role("dialog")

    async def close_dialog() -> None:
        await dialog.get_by_role("button", name=t["cancel"], exact=True).click()
        await expect(dialog).to_have_count(0)

    # The login page, and its error.
    await page.goto("/")
    await assert_no_serious_a11y(page, f"the login page ({label})")
    await page.locator("input[type=email]").fill(w.email)
    await page.locator("input[type=password]").fill("not the password")
    await page.locator("button[type=submit]").click()
    await expect(page.get_by_role("alert")).to_be_visible()
    await assert_no_serious_a11y(page, f"the login page with its error ({label})")
    await login(page, w.email, PASSWORD, language=language)

    # Support: the thread list and a thread with a message.
    await expect(page.locator(".support-thread-list > li")).to_have_count(1)
    await settled(page, f"the support thread list ({label})")
    await page.goto(f"/support/threads/{w.thread_id}")
    await expect(page.locator("li.message")).to_have_count(1)
    await settled(page, f"a support thread ({label})")
    await expect(page.get_by_test_id("read-mark")).to_have_count(1)
    # The composer with a file that is too big (refused in the browser, its error on the file).
    await page.get_by_test_id("attach-input").set_input_files(
        {"name": "big.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024)}
    )
    await expect(page.locator(".pending-file.failed")).to_have_count(1)
    await assert_no_serious_a11y(page, f"the composer with a refused file ({label})")

    # Support: the search across messages (empty, a result, too short a query).
    await page.goto("/support/search")
    await settled(page, f"the message search ({label})")
    await page.goto("/support/search?q=sincroniza")
    await expect(page.get_by_test_id("search-hit")).to_have_count(1)
    await expect(page.get_by_test_id("search-hit").locator("mark")).not_to_have_count(0)
    await settled(page, f"the message search with a result ({label})")
    await page.goto("/support/search?q=s")
    await expect(page.locator(".field-error")).to_be_visible()
    await settled(page, f"the message search, too short ({label})")

    # Instances: the list (every type's badge), the provisionings in progress, companies.
    await page.goto("/instances")
    await expect(page.locator(".badge.type")).not_to_have_count(0)
    await page.locator("details.pending summary").click()
    await settled(page, f"the instance list with the provisionings open ({label})")
    await page.goto("/instances/companies")
    await settled(page, f"the companies ({label})")
    await page.goto(f"/instances/companies/{w.company_id}")
    await settled(page, f"a company ({label})")

    # An instance's detail, its actions sheet and each action's dialog.
    await page.goto(f"/instances/{w.instances['MCRM']}")
    await settled(page, f"an instance's detail ({label})")
    actions = page.get_by_role("group", name=t["actions"])
    for action, where in (("extend", "the extend dialog"), ("clear", "the clear session dialog")):
        await page.get_by_role("button", name=t["actions"], exact=True).click()
        await assert_no_serious_a11y(page, f"the actions sheet ({label})")
        await actions.get_by_role("button", name=t[action]).click()
        await dialog_checked(page, f"{where} ({label})")
        await close_dialog()
    await page.get_by_role("button", name=t["actions"], exact=True).click()
    await actions.get_by_role("button", name=t["cancel_instance"]).click()
    await dialog_checked(page, f"the instance cancellation dialog: confirm ({label})")
    await dialog.get_by_role("button", name=t["continue"]).click()
    await expect(dialog.locator("textarea")).to_be_visible()
    await assert_no_serious_a11y(page, f"the instance cancellation dialog: the reason ({label})")
    await close_dialog()
    await page.goto(f"/instances/{w.instances['MCRM']}/edit")
    await settled(page, f"the configuration form ({label})")

    # Licenses: the list, the add form, a license and its revoke dialogs.
    await page.goto(f"/instances/{w.instances['MCRM']}/licenses")
    await expect(page.get_by_role("list", name=t["licenses"]).get_by_role("listitem")).to_have_count(1)
    await settled(page, f"the licenses of an instance ({label})")
    await page.goto(f"/instances/{w.instances['WDS']}/licenses")
    await settled(page, f"the licenses of an instance, empty ({label})")
    await page.goto(f"/instances/{w.instances['MCRM']}/licenses/new")
    await settled(page, f"the add licenses form ({label})")
    await page.goto(f"/instances/{w.instances['MCRM']}/licenses/{w.license_id}")
    await settled(page, f"a license ({label})")
    await page.get_by_role("button", name=t["impersonate"]).click()
    await dialog_checked(page, f"the impersonation dialog ({label})")
    await close_dialog()
    if await page.get_by_role("button", name=t["release"]).count():  # only while a terminal holds it
        await page.get_by_role("button", name=t["release"]).click()
        await dialog_checked(page, f"the release dialog ({label})")
        await close_dialog()
    await page.get_by_role("button", name=t["revoke"]).click()
    await dialog_checked(page, f"the revoke dialog: confirm ({label})")
    await dialog.get_by_role("button", name=t["continue"]).click()
    await expect(dialog.locator("textarea")).to_be_visible()
    await assert_no_serious_a11y(page, f"the revoke dialog: the reason ({label})")
    await close_dialog()

    # The wizard's steps, and a provisioned contract with its generate and cancel dialogs.
    await page.goto("/instances/new")
    await settled(page, f"the wizard: choose a company ({label})")
    await page.get_by_role("button", name=t["new_company"]).click()
    await assert_no_serious_a11y(page, f"the wizard: the new company form ({label})")
    await page.goto("/instances/new")
    await page.locator("button.row").first.click()
    await page.locator(".type-option input").first.check()
    await assert_no_serious_a11y(page, f"the wizard: choose the type ({label})")
    await page.get_by_role("button", name=t["next"]).click()
    await expect(page.locator("form input").first).to_be_visible()
    await assert_no_serious_a11y(page, f"the wizard: the instance's data ({label})")
    await page.goto(f"/instances/provisionings/{w.instances['S360']}")
    await expect(page.locator("article.contract")).to_be_visible()
    await settled(page, f"the wizard: the contract ({label})")
    await page.get_by_role("button", name=t["generate"], exact=True).click()
    await dialog_checked(page, f"the generate dialog ({label})")
    await close_dialog()
    await page.get_by_role("button", name=t["cancel_provisioning"]).click()
    await dialog_checked(page, f"the cancel provisioning dialog ({label})")
    await close_dialog()

    # Reports: charts, the license list, the details, the active services, the operations.
    await page.goto("/reports")
    await expect(page.locator(".chart-box canvas").first).to_be_visible()
    await settled(page, f"the report charts ({label})")
    await page.get_by_role("button", name=t["licenses"], exact=True).click()
    await expect(page.get_by_role("list", name=t["licenses"]).get_by_role("listitem")).to_have_count(1)
    await assert_no_serious_a11y(page, f"the report license list ({label})")
    await page.goto(f"/reports/instances/{w.instances['MCRM']}")
    await settled(page, f"an instance's report ({label})")
    await page.goto(f"/reports/licenses/{w.license_id}")
    await settled(page, f"a license's report ({label})")
    await page.goto("/reports/active-services")
    await settled(page, f"the active services ({label})")
    await page.goto("/reports/operations")
    await settled(page, f"the operations, none ({label})")
    await page.goto("/reports/silent-seats")
    await expect(page.locator(".silent-seats, .state-empty").first).to_be_visible()
    await settled(page, f"the silent seats ({label})")

    # Activity: the search, its validation error, an empty result, the terminals.
    await page.goto("/activity")
    await settled(page, f"the activity section ({label})")
    await page.locator("form").get_by_role("button", name=t["search"], exact=True).click()
    await expect(page.locator(".field-error").first).to_be_visible()
    await assert_no_serious_a11y(page, f"the activity search with an error ({label})")
    await page.goto("/activity?serial=NO-SUCH-TERMINAL")
    await settled(page, f"the activity search, no results ({label})")
    await page.goto("/activity/terminals")
    await settled(page, f"the terminals ({label})")

    # Field operations: a terminal's day on the map (tiles unreachable: the track on a plain background),
    # the working-time record (the choice, a month, a day, the correction form).
    await page.goto(f"/activity/terminals/SR-1?date={w.day}")
    await expect(page.locator("path.track-point")).to_have_count(7)
    await settled(page, f"a terminal's map and track ({label})")
    await page.goto("/activity/working-time")
    await settled(page, f"the working-time record, nothing chosen ({label})")
    month = w.day[:7]
    await page.goto(f"/activity/working-time?instance_id={w.instances['MCRM']}&pin=4821&month={month}")
    await expect(page.locator("table.wt-month")).to_be_visible()
    await settled(page, f"a worker's month of working time ({label})")
    await page.goto(f"/activity/working-time/day?instance_id={w.instances['MCRM']}&pin=4821&date={w.day}")
    await expect(page.get_by_test_id("wt-version").first).to_be_visible()
    await settled(page, f"a day of working time ({label})")
    await page.locator(".card .actions button.primary").first.click()
    await expect(page.locator("form.wt-correction")).to_be_visible()
    await page.locator("form.wt-correction button[type=submit]").click()
    await expect(page.locator("form.wt-correction .field-error").first).to_be_visible()
    await assert_no_serious_a11y(page, f"the working-time correction form with an error ({label})")

    # Profile and the hardware list.
    await page.goto("/profile")
    await settled(page, f"the profile ({label})")
    await page.goto("/profile/hardware")
    await expect(page.locator(".profile-hardware > li").first).to_be_visible()
    await settled(page, f"the hardware list ({label})")
    # Integrations (webhooks): the subscriptions (none yet) and the new subscription form.
    await page.goto("/profile/integrations")
    await settled(page, f"the integrations ({label})")
    await page.get_by_role("button", name=t["new_subscription"]).click()
    await expect(page.locator("form.webhook-form")).to_be_visible()
    await assert_no_serious_a11y(page, f"the new subscription form ({label})")

    # Error states: a section whose API cannot be reached, and a page that does not exist.
    async def unreachable(route: Route) -> None:
        await route.abort()

    await page.route(re.compile(r"/api/v1/(reports|instances)"), unreachable)
    await page.goto("/reports")
    await expect(page.locator(".state-error").first).to_be_visible()
    await assert_no_serious_a11y(page, f"the reports, unreachable ({label})")
    await page.goto("/instances")
    await expect(page.locator(".state-error").first).to_be_visible()
    await assert_no_serious_a11y(page, f"the instances, unreachable ({label})")
    await page.unroute(re.compile(r"/api/v1/(reports|instances)"))
    await page.goto("/no/such/page")
    await expect(page.locator(".state:not(.state-loading)")).to_be_visible()
    await assert_no_serious_a11y(page, f"the not-found page ({label})")


@pytest.mark.parametrize(
    ("viewport", "language"),
    [(DESKTOP, "es"), (DESKTOP, "en"), (PHONE, "en")],
    ids=["desktop-es", "desktop-en", "phone-en"],
)
async def test_every_section_and_dialog_passes_axe(
    web: Stack, browser: Browser, viewport: ViewportSize, language: str
) -> None:
    w = await world(web, language)
    locale = {"es": "es-ES", "en": "en-US"}[language]
    label = f"{'desktop' if viewport == DESKTOP else 'phone'}, {language}"
    # UTC, as the world's day is (the map and the working-time record ask for the browser's days).
    async with new_page(browser, web.url, viewport=viewport, locale=locale, timezone_id="UTC") as page:
        await tour(page, w, language, label)


async def test_what_staff_see_passes_axe(web: Stack, browser: Browser) -> None:
    """Staff have the partner selector (in the top bar, or in the thread list's toolbar) and more in their profile."""
    w = await world(web, "es")
    partner_id = (await web.login(w.email))["partner_id"]
    staff = await add_user(web, f"stf-{uuid.uuid4().hex[:8]}", "staff", (partner_id, f"ptn-{uuid.uuid4().hex[:8]}"))
    async with new_page(browser, web.url, viewport=DESKTOP) as page:
        await login(page, staff, PASSWORD)
        await expect(page.get_by_role("combobox", name="Actuando para")).to_have_count(1)
        await expect(page.locator(".support-thread-list > li")).to_have_count(1)
        await settled(page, "the support thread list (staff)")
        async with web.client(await web.token(staff, partner_id=partner_id)) as api:
            created = await api.post(
                "/api/v1/support/canned-replies",
                json={
                    "title": {"es": "Saludo", "en": "Greeting"},
                    "text": {"es": "Hola, {{company.name}}.", "en": "Hello, {{company.name}}."},
                },
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
            assert created.status_code == 201, created.text
        # The canned reply picker with its preview, in a thread.
        await page.goto(f"/support/threads/{w.thread_id}")
        await expect(page.locator("li.message")).to_have_count(1)
        await page.get_by_role("button", name="Respuestas guardadas").click()
        replies = page.get_by_role("listbox", name="Respuestas guardadas").get_by_role("option")
        await expect(replies).to_have_count(1)
        await assert_no_serious_a11y(page, "the canned reply picker (staff)")
        await replies.click()
        await expect(page.get_by_test_id("canned-preview")).to_contain_text("Hola,")
        await assert_no_serious_a11y(page, "the canned reply preview (staff)")
        for path, where in (
            (f"/support/threads/{w.thread_id}", "a support thread (staff)"),
            ("/support/search?q=sincroniza", "the message search with a result (staff)"),
            ("/support/canned-replies", "the canned replies (staff)"),
            ("/support/canned-replies/new", "the new canned reply form (staff)"),
            ("/instances", "the instance list (staff)"),
            (f"/instances/{w.instances['MCRM']}/licenses/{w.license_id}", "a license (staff)"),
            ("/reports", "the report charts (staff)"),
            ("/profile", "the profile (staff)"),
            ("/profile/integrations", "the integrations (staff)"),
        ):
            await page.goto(path)
            await expect(page.get_by_role("combobox", name="Actuando para")).to_be_visible()
            await settled(page, where)


async def test_the_help_pages_pass_axe(web: Stack, browser: Browser) -> None:
    for viewport in (PHONE, DESKTOP):
        async with new_page(browser, web.url, viewport=viewport) as page:
            for section in ("support", "instances", "reports", "activity", "profile"):
                for language in ("es", "en"):
                    response = await page.goto(f"/help/{section}.{language}.html")
                    assert response is not None and response.ok, section
                    await expect(page.locator("html")).to_have_attribute("lang", language)
                    await assert_no_serious_a11y(page, f"the {section} help page ({language}, {viewport['width']} px)")


async def test_the_check_fails_on_what_axe_calls_serious(browser: Browser) -> None:
    """The check itself: the old MCRM badge (white on #16a34a, 12 px) and an unnamed button fail it, by rule."""
    async with new_page(browser, "http://127.0.0.1:9") as page:
        await page.set_content(
            '<html lang="es"><head><title>partnerapp</title></head><body><main><h1>Instancias</h1>'
            '<span style="color:#fff;background:#16a34a;font-size:12px">MCRM</span>'
            "<button></button></main></body></html>"
        )
        with pytest.raises(AssertionError) as failed:
            await assert_no_serious_a11y(page, "a page with the old badge")
        assert "color-contrast (serious" in str(failed.value)
        assert "button-name (critical" in str(failed.value)
        assert "a page with the old badge" in str(failed.value)
        await page.set_content(
            '<html lang="es"><head><title>partnerapp</title></head><body><main><h1>Instancias</h1>'
            '<span style="color:#fff;background:#15803d;font-size:12px">MCRM</span>'
            "<button>Acciones</button></main></body></html>"
        )
        await assert_no_serious_a11y(page, "the same page, fixed")


async def composer_hint(page: Page, w: World) -> Any:
    await login(page, w.email, PASSWORD)
    await page.goto(f"/support/threads/{w.thread_id}")
    await expect(page.locator("textarea")).to_be_visible()
    return page.locator("#support-composer-hint")


async def test_the_composer_hint_shows_with_a_fine_pointer_only(web: Stack, browser: Browser) -> None:
    w = await world(web, "es")
    t = TEXTS["es"]
    # A phone: touch, a coarse pointer, no hover; there is no Ctrl key to press.
    async with new_page(browser, web.url, has_touch=True, is_mobile=True) as phone:
        assert await phone.evaluate("matchMedia('(pointer: coarse)').matches"), "the phone emulation is a touch screen"
        hint = await composer_hint(phone, w)
        await expect(phone.locator("textarea")).not_to_have_attribute("aria-describedby", re.compile("."))
        await expect(hint).to_be_hidden()
        await expect(phone.get_by_text(t["hint"])).to_be_hidden()
    # A desktop with a mouse: shown, and it describes the message field.
    async with new_page(browser, web.url, viewport=DESKTOP) as desktop:
        hint = await composer_hint(desktop, w)
        await expect(hint).to_be_visible()
        await expect(hint).to_have_text(t["hint"])
        await expect(desktop.get_by_label("Mensaje", exact=True)).to_have_accessible_description(t["hint"])
    # macOS: the key is ⌘, and ⌘+Enter sends.
    async with new_page(browser, web.url, viewport=DESKTOP, user_agent=MAC_SAFARI) as mac:
        hint = await composer_hint(mac, w)
        await expect(hint).to_have_text(t["mac_hint"])
        await mac.locator("textarea").fill("Enviado con ⌘+Intro")
        await mac.locator("textarea").press("Meta+Enter")
        await expect(mac.locator("li.message", has_text="Enviado con ⌘+Intro")).to_be_visible()
