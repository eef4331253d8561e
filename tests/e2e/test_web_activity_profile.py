"""The Activity and Profile sections in headless Chromium against the whole back end: a terminal's
activity searched by serial and by PIN in a date-time window, a record's detail, the terminal's
information and timeline, releasing its license (and a refusal shown); the profile's language
switching the UI at once, password errors at the field, the hardware list's filters; and the PWA
files (manifest, icons, service worker) served by the gateway."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from servicekit.testing import eventually

from .browser import assert_no_serious_a11y, chromium, login, new_page, screenshot
from .conftest import PASSWORD, Stack, add_user, new_company, provisioned_instance, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

PIN = "4821"
OTHER_PIN = "9999"  # its license is bound to another terminal


@dataclass
class Terminal:
    email: str
    serial: str
    other_serial: str
    license_id: str


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def web(topic_prefix: str, key_pair: tuple[str, str]) -> AsyncIterator[Stack]:
    async with running_stack(topic_prefix, key_pair, web=True) as started:
        yield started


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as started:
        yield started


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def terminal(web: Stack) -> Terminal:
    """A WDS instance with a license bound to a terminal that has sent telemetry, all through the gateway."""
    email = await add_user(web, unique("usr"), "partner", (unique("ptn"),))
    token = await web.token(email)
    serial, other_serial = unique("SR").upper(), unique("SR").upper()
    async with web.client(token) as api:
        instance_id = await provisioned_instance(api, await new_company(api))
        added = await api.post(
            f"/api/v1/instances/{instance_id}/licenses",
            json={
                "licenses": [
                    {"user_name": "Ana", "email": "ana@example.com", "pin": PIN, "serial": serial},
                    {"user_name": "Luis", "email": "luis@example.com", "pin": OTHER_PIN, "serial": other_serial},
                ]
            },
        )
        assert added.status_code == 201, added.text
        license_id = added.json()["license_ids"][0]
        key = (await api.post(f"/api/v1/instances/{instance_id}/ingest-key")).json()["ingest_key"]

    now = datetime.now(UTC)
    device = {"maker": "Zebra", "model": "TC53", "os": "android", "os_version": "14", "app_version": "7.2.0"}
    events: list[dict[str, Any]] = [
        {
            "event_id": str(uuid.uuid4()),
            "serial": serial,
            "pin": PIN,
            "action": "clock_in",
            "occurred_at": (now - timedelta(minutes=30)).isoformat(),
            "device": device,
            "battery_pct": 81,
            "location": {"lat": 40.4168, "lon": -3.7038, "accuracy_m": 12},
            "details": {"shift": "morning"},
        },
        {  # someone else's PIN typed on this terminal: its license is bound elsewhere
            "event_id": str(uuid.uuid4()),
            "serial": serial,
            "pin": OTHER_PIN,
            "action": "login",
            "occurred_at": (now - timedelta(minutes=20)).isoformat(),
            "device": device,
            "battery_pct": 78,
        },
        {
            "event_id": str(uuid.uuid4()),
            "serial": serial,
            "pin": PIN,
            "action": "clock_out",
            "occurred_at": (now - timedelta(minutes=10)).isoformat(),
            "device": device,
            "battery_pct": 74,
        },
    ]
    async with web.client() as device_client:

        async def admitted() -> bool:  # the key reaches the activity service through Kafka
            sent = await device_client.post(
                "/api/v1/ingest/events", json={"events": events}, headers={"X-Ingest-Key": key}
            )
            return sent.status_code == 202

        await eventually(admitted)
    async with web.client(token) as api:

        async def recorded() -> bool:
            items = (await api.get("/api/v1/activity/records", params={"serial": serial})).json()["items"]
            return {item["action"] for item in items} >= {"clock_in", "login", "clock_out", "license.added"}

        async def bound() -> bool:
            found = await api.get(f"/api/v1/activity/terminals/{serial}")
            return found.status_code == 200 and found.json()["license_id"] == license_id

        await eventually(recorded)
        await eventually(bound)
    return Terminal(email, serial, other_serial, license_id)


def local_input(moment: datetime) -> str:
    """A datetime-local value in this machine's time zone (the browser's too)."""
    return moment.astimezone().strftime("%Y-%m-%dT%H:%M")


async def search(page: Page, *, serial: str = "", pin: str = "", since: timedelta | None = None) -> None:
    await page.get_by_label("Número de serie").fill(serial)
    await page.get_by_label("PIN", exact=True).fill(pin)
    if since is not None:
        now = datetime.now(UTC)
        await page.get_by_label("Desde").fill(local_input(now - since))
        await page.get_by_label("Hasta").fill(local_input(now + timedelta(minutes=2)))
    await page.get_by_role("button", name="Buscar").click()


async def test_search_a_terminal_open_a_record_and_release_its_license(
    web: Stack, browser: Browser, terminal: Terminal
) -> None:
    async with new_page(browser, web.url) as page:
        await login(page, terminal.email, PASSWORD)
        await page.get_by_role("link", name="Actividad").click()
        await expect(page.get_by_role("heading", name="Actividad", exact=True)).to_be_visible()
        # The terminals list is the entry point when nothing is searched yet.
        await expect(page.get_by_role("list", name="Terminales")).to_contain_text(terminal.serial)
        await assert_no_serious_a11y(page, "the activity section with its terminals")

        # Validation before asking: one of serial or PIN, and "from" before "to".
        await page.get_by_role("button", name="Buscar").click()
        await expect(page.get_by_text("Indique el número de serie o el PIN.")).to_be_visible()
        await assert_no_serious_a11y(page, "the activity search with an error")
        now = datetime.now(UTC)
        await page.get_by_label("Número de serie").fill(terminal.serial)
        await page.get_by_label("Desde").fill(local_input(now))
        await page.get_by_label("Hasta").fill(local_input(now - timedelta(hours=1)))
        await page.get_by_role("button", name="Buscar").click()
        await expect(page.get_by_text("«Desde» debe ser anterior a «Hasta».")).to_be_visible()
        # The API's 422 shows at the field it names (a serial is at least 3 characters).
        await search(page, serial="AB", since=timedelta(hours=2))
        serial_input = page.get_by_label("Número de serie")
        await expect(serial_input).to_have_attribute("aria-invalid", "true")
        await expect(page.locator("#activity-serial-error")).to_contain_text(re.compile(r"\S"))
        await assert_no_serious_a11y(page, "the activity search with the API's error")

        # By serial, in a date-time window: the latest actions, newest first.
        await search(page, serial=terminal.serial, since=timedelta(hours=2))
        results = page.get_by_role("list", name="Resultados")
        await expect(results.get_by_role("listitem")).to_have_count(4)  # 3 telemetry + the license bound
        await expect(results.get_by_role("listitem").first).to_contain_text("Licencia asignada")  # newest
        await expect(results.get_by_role("listitem").nth(1)).to_contain_text("Salida")
        await expect(results).to_contain_text("Entrada")
        await expect(page).to_have_url(re.compile(rf"serial={terminal.serial}"))
        await page.evaluate("window.scrollTo(0, 0)")
        await screenshot(page, "activity-search")
        await assert_no_serious_a11y(page, "the activity search results")

        # By PIN: only that PIN's records.
        await search(page, pin=PIN, since=timedelta(hours=2))
        await expect(results.get_by_role("listitem")).to_have_count(3)  # clock in/out + the license bound
        await expect(results).not_to_contain_text("Inicio de sesión")

        # A record's detail: every field.
        await results.get_by_role("link", name=re.compile("Entrada")).click()
        await expect(page.get_by_role("heading", name="Detalle del registro")).to_be_visible()
        record = page.get_by_role("article", name="Detalle del registro")
        for text in (terminal.serial, PIN, "81 %", "40.41680, -3.70380", "Zebra", "TC53", "7.2.0", "shift", "morning"):
            await expect(record).to_contain_text(text)
        await expect(record.get_by_role("button", name="Liberar licencia")).to_be_visible()
        await screenshot(page, "activity-record")
        await assert_no_serious_a11y(page, "an activity record")

        # A record whose PIN's license is bound to another terminal: the API's 409 reason is shown.
        await page.goto(f"/activity?pin={OTHER_PIN}")
        await results.get_by_role("link", name=re.compile("Inicio de sesión")).click()
        await page.get_by_role("button", name="Liberar licencia").click()
        dialog = page.get_by_role("dialog")
        await expect(dialog).to_be_visible()
        await assert_no_serious_a11y(page, "the release dialog")
        await dialog.get_by_role("button", name="Liberar").click()
        await expect(page.get_by_role("alert")).to_contain_text("asignada a otro terminal")
        await assert_no_serious_a11y(page, "the release dialog with the API's refusal")

        # The terminal's information, then release its license from there.
        await page.get_by_role("link", name="Información del terminal").first.click()
        await expect(page.get_by_role("heading", name=f"Terminal {terminal.serial}")).to_be_visible()
        await expect(page.get_by_test_id("terminal-license")).to_have_text(terminal.license_id)
        info = page.get_by_role("article", name="Información")
        for text in ("Zebra TC53", "android 14", "7.2.0", "74 %", "Salida"):
            await expect(info).to_contain_text(text)
        timeline = page.get_by_role("list", name="Historial (últimos 30 días)")
        await expect(timeline).to_contain_text("Licencia asignada")
        await assert_no_serious_a11y(page, "a terminal's information")
        await page.get_by_role("button", name="Liberar licencia").click()
        await expect(dialog).to_contain_text(PIN)
        await dialog.get_by_role("button", name="Cancelar").click()
        await expect(dialog).to_be_hidden()
        await page.get_by_role("button", name="Liberar licencia").click()
        await dialog.get_by_label("Motivo (opcional)").fill("Terminal averiado")
        await dialog.get_by_role("button", name="Liberar").click()
        await expect(page.get_by_role("status").filter(has_text="Licencia liberada")).to_be_visible()
        # The release arrives through Kafka: the timeline shows it, the terminal has no license.
        await expect(timeline.get_by_role("listitem").first).to_contain_text("Licencia liberada", timeout=30_000)
        await expect(page.get_by_test_id("terminal-license")).to_have_text("Ninguna")
        await expect(page.get_by_role("button", name="Liberar licencia")).to_have_count(0)
        await page.evaluate("window.scrollTo(0, 0)")
        await screenshot(page, "activity-terminal")
        await assert_no_serious_a11y(page, "a terminal without a license")


async def test_profile_language_password_and_hardware_list(web: Stack, browser: Browser) -> None:
    email = await add_user(web, unique("usr"), "partner", (unique("ptn"),))
    async with new_page(browser, web.url) as page:
        await login(page, email, PASSWORD)
        await page.get_by_role("link", name="Perfil").click()
        await expect(page.get_by_role("heading", name="Perfil", exact=True)).to_be_visible()
        await expect(page.get_by_text(email)).to_be_visible()
        await assert_no_serious_a11y(page, "the profile")

        # Personal data: saved through the API, the API's 422 at the field.
        await page.get_by_label("Teléfono").fill("not a phone")
        await page.get_by_role("button", name="Guardar cambios").click()
        await expect(page.locator("#profile-phone-error")).to_be_visible()
        await page.get_by_label("Teléfono").fill("+34 600 000 000")
        await page.get_by_label("Nombre").fill("Ana Ruiz")
        await page.get_by_role("button", name="Guardar cambios").click()
        await expect(page.get_by_text("Datos guardados.")).to_be_visible()

        # Password: a wrong current one and the policy's message, each at its field.
        await page.get_by_label("Contraseña actual", exact=True).fill("not my password")
        await page.get_by_label("Nueva contraseña", exact=True).fill("short")
        await page.get_by_label("Repita la nueva contraseña").fill("short")
        await page.get_by_role("button", name="Cambiar contraseña").click()
        await expect(page.locator("#password-current-error")).to_have_text("La contraseña actual no es correcta.")
        await page.get_by_label("Contraseña actual", exact=True).fill(PASSWORD)
        await page.get_by_role("button", name="Cambiar contraseña").click()
        await expect(page.locator("#password-new-error")).to_contain_text("al menos 12 caracteres")
        await assert_no_serious_a11y(page, "the profile with password errors")

        # Notifications: a switch, or the reason this browser cannot have them (never a failure).
        await expect(page.get_by_role("switch")).to_be_attached()
        await expect(page.get_by_test_id("push-status")).not_to_have_text("Comprobando…", timeout=10_000)

        # The language switches the whole UI at once, and is kept in the profile.
        await page.get_by_label("Idioma").select_option("en")
        await expect(page.get_by_role("heading", name="Profile", exact=True)).to_be_visible()
        await expect(
            page.get_by_role("navigation", name="Sections").get_by_role("link", name="Activity")
        ).to_be_visible()
        await expect(page.get_by_label("Phone")).to_have_value("+34 600 000 000")
        await page.evaluate("window.scrollTo(0, 0)")
        await screenshot(page, "profile")
        await assert_no_serious_a11y(page, "the profile in English")
        async with web.client(await web.token(email)) as api:
            assert (await api.get("/api/v1/profile")).json()["language"] == "en"
        await page.reload()
        await expect(page.get_by_role("heading", name="Profile", exact=True)).to_be_visible()

        # The hardware compatibility list, filtered, with the API's labels in the current language.
        await page.get_by_role("link", name="Hardware compatibility").click()
        cards = page.get_by_role("list", name="Hardware compatibility").get_by_role("listitem")
        await expect(cards.first).to_be_visible()
        total = await cards.count()
        assert total > 3
        await page.get_by_label("Maker").select_option("Zebra")
        await expect(cards.first).to_contain_text("Zebra")
        await expect(cards).not_to_have_count(total)
        for heading in await cards.get_by_role("heading").all_inner_texts():
            assert heading.startswith("Zebra"), heading
        await expect(cards.first).to_contain_text(re.compile(r"Yes|Partial|No"))
        await page.get_by_label("Fully supports").select_option("nfc")
        await expect(page.get_by_role("status").filter(has_text="Edition")).to_be_visible()
        await expect(cards.first.get_by_text("NFC")).to_be_visible()
        await screenshot(page, "profile-hardware")
        await assert_no_serious_a11y(page, "the hardware list, filtered (en)")
        await page.get_by_label("Search model or version").fill("no such terminal")
        await page.get_by_role("button", name="Filter", exact=True).click()
        await expect(page.get_by_text("No terminal matches these filters.")).to_be_visible()
        await assert_no_serious_a11y(page, "the hardware list, no match (en)")
        await page.get_by_role("button", name="Clear filters").click()
        await expect(cards).to_have_count(total)
        async with page.expect_download() as downloading:
            await page.get_by_role("button", name="Download PDF").click()
        download = await downloading.value
        assert download.suggested_filename.endswith(".pdf")


async def test_the_pwa_files_are_served(web: Stack) -> None:
    async with web.client() as client:
        response = await client.get("/manifest.webmanifest")
        assert response.status_code == 200
        manifest = response.json()
        assert manifest["name"] == "partnerapp"
        assert manifest["start_url"] == "/"
        assert manifest["display"] == "standalone"
        assert manifest["theme_color"] == "#1d4ed8"
        assert manifest["background_color"] == "#f8fafc"
        sizes = {icon["sizes"]: icon for icon in manifest["icons"]}
        assert {"192x192", "512x512"} <= set(sizes)
        for icon in manifest["icons"]:
            image = await client.get(icon["src"])
            assert image.status_code == 200, icon["src"]
            assert image.headers["content-type"].startswith(icon["type"])
            if icon["type"] == "image/png":
                assert image.content.startswith(b"\x89PNG\r\n\x1a\n")
                width, height = int.from_bytes(image.content[16:20]), int.from_bytes(image.content[20:24])
                assert f"{width}x{height}" == icon["sizes"]
        worker = await client.get("/sw.js")
        assert worker.status_code == 200
        assert "javascript" in worker.headers["content-type"]
        assert 'addEventListener("push"' in worker.text
        assert 'addEventListener("notificationclick"' in worker.text
        for page in ("activity", "profile"):
            for language in ("es", "en"):
                help_page = await client.get(f"/help/{page}.{language}.html")
                assert help_page.status_code == 200
                assert f'href="/{page}"' in help_page.text
