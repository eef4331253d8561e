"""Field operations (issue #20) in headless Chromium against the whole back end: a terminal's day on the
map with its points, gaps and accuracy while the tile server is out of reach (the track still drawn, on a
plain background), late records with both times, remote actions on the terminal's timeline
(requested → delivered), the overdue warning of the instance view, a worker's month of working time, a
day's versions and a correction that keeps the original, the exports, and the silent seats report."""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Route, expect

from servicekit.testing import eventually

from .browser import assert_no_serious_a11y, chromium, login, new_page, screenshot
from .conftest import PASSWORD, Stack, add_user, new_company, provisioned_instance, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

MADRID = ZoneInfo("Europe/Madrid")
PIN = "4821"
SILENT_PIN = "7300"  # its license's terminal never reports
TILES = re.compile(r"^https?://[^/]*tile\.openstreetmap\.org/")


@dataclass
class Field:
    email: str
    partner_id: str
    instance_id: str
    empty_instance_id: str
    serial: str
    silent_serial: str
    key: str
    day: date
    """the worked day (yesterday in Madrid): every event of it reaches the server late"""
    points: int
    """events of that day with a location"""
    gaps: int
    """holes between consecutive points longer than the API's gap threshold"""


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


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=MADRID)


def event(serial: str, action: str, moment: datetime, location: dict[str, float] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "serial": serial,
        "pin": PIN,
        "action": action,
        "occurred_at": moment.astimezone(UTC).isoformat(),
        "device": {"maker": "Zebra", "model": "TC53", "os": "android", "os_version": "14", "app_version": "7.2.0"},
        "battery_pct": 80,
    }
    if location:
        body["location"] = location
    return body


def place(n: int) -> dict[str, float]:
    """A zig-zag walk north-east from Soria's main square (so the map's line keeps its corners);
    accuracy between 5 and 40 m."""
    return {
        "lat": round(41.7636 + n * 0.0004, 6),
        "lon": round(-2.4649 + n * 0.0003 + (0.0008 if n % 2 else 0.0), 6),
        "accuracy_m": 5.0 + (n * 7) % 36,
    }


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def field(web: Stack) -> Field:
    """A WDS instance with two licenses: Ana's terminal worked yesterday (Madrid) 08:00–16:00 with a 20 min
    break and a three-hour hole in its GPS fixes, all sent now (so late), plus one fix sent as it happened;
    Luis's terminal never reports. A second instance has no licenses."""
    partner_id = unique("ptn")
    email = await add_user(web, unique("usr"), "partner", (partner_id,))
    token = await web.token(email)
    serial, silent_serial = unique("SR").upper(), unique("SR").upper()
    async with web.client(token) as api:
        company_id = await new_company(api)
        instance_id = await provisioned_instance(api, company_id, name="Obras Soria")
        empty_instance_id = await provisioned_instance(api, company_id, name="Almacén vacío")
        added = await api.post(
            f"/api/v1/instances/{instance_id}/licenses",
            json={
                "licenses": [
                    {"user_name": "Ana Ruiz", "email": "ana@example.com", "pin": PIN, "serial": serial},
                    {"user_name": "Luis Gil", "email": "luis@example.com", "pin": SILENT_PIN, "serial": silent_serial},
                ]
            },
        )
        assert added.status_code == 201, added.text
        key = (await api.post(f"/api/v1/instances/{instance_id}/ingest-key")).json()["ingest_key"]

    day = (datetime.now(MADRID) - timedelta(days=1)).date()
    # GPS fixes every 10 minutes, 08:10 … 10:00, then none for three hours, then 13:00 … 15:50.
    fixes = [at(day, 8, 10) + timedelta(minutes=10 * n) for n in range(12)]
    fixes += [at(day, 13) + timedelta(minutes=10 * n) for n in range(18)]
    events = [event(serial, "login", at(day, 7, 58))]
    events.append(event(serial, "clock_in", at(day, 8), place(0)))
    events += [event(serial, "gps_fix", moment, place(n + 1)) for n, moment in enumerate(fixes)]
    events += [event(serial, "break_start", at(day, 10, 5)), event(serial, "break_end", at(day, 10, 25))]
    events.append(event(serial, "clock_out", at(day, 16), place(len(fixes) + 1)))
    events.append(event(serial, "logout", at(day, 16, 2)))
    events.append(event(serial, "gps_fix", datetime.now(UTC) - timedelta(seconds=30), place(40)))  # on time
    track = [at(day, 8), *fixes, at(day, 16)]
    async with web.client() as terminal:

        async def admitted() -> bool:  # the key reaches the activity service through Kafka
            sent = await terminal.post("/api/v1/ingest/events", json={"events": events}, headers={"X-Ingest-Key": key})
            return sent.status_code == 202

        await eventually(admitted)
    async with web.client(token) as api:

        async def stored() -> dict[str, Any] | None:
            found = await api.get(
                f"/api/v1/activity/terminals/{serial}/positions",
                params={"date": day.isoformat(), "tz": "Europe/Madrid", "limit": 100},
            )
            body: dict[str, Any] = found.json()
            return body if found.status_code == 200 and len(body["items"]) == len(track) else None

        async def recorded() -> bool:
            found = await api.get(
                "/api/v1/activity/working-time",
                params={"instance_id": instance_id, "pin": PIN, "month": day.strftime("%Y-%m"), "tz": "Europe/Madrid"},
            )
            return found.status_code == 200 and found.json()["total_worked_s"] > 0

        threshold = (await eventually(stored, timeout=30))["gap_threshold_s"]
        await eventually(recorded, timeout=30)
    gaps = sum(1 for before, after in itertools.pairwise(track) if (after - before).total_seconds() > threshold)
    assert gaps >= 1, f"the three-hour hole is a gap whatever the threshold ({threshold} s)"
    return Field(email, partner_id, instance_id, empty_instance_id, serial, silent_serial, key, day, len(track), gaps)


async def tiles_unreachable(context: BrowserContext) -> None:
    """As in a closed network: every tile request fails (the page's CSP may already refuse them)."""

    async def refuse(route: Route) -> None:
        await route.abort()

    await context.route(TILES, refuse)


async def test_the_day_on_the_map_without_tiles_and_late_records(web: Stack, browser: Browser, field: Field) -> None:
    async with new_page(browser, web.url, timezone_id="Europe/Madrid") as page:
        await tiles_unreachable(page.context)
        await login(page, field.email, PASSWORD)
        await page.goto(f"/activity/terminals/{field.serial}?date={field.day.isoformat()}")
        await expect(page.get_by_role("heading", name=f"Terminal {field.serial}")).to_be_visible()
        # The last known position is the on-time fix of today.
        await expect(page.get_by_test_id("terminal-last-position")).to_contain_text(f"{place(40)['lat']:.5f}")

        # The map: no tiles, and the track drawn all the same, by the map library, on a plain background.
        card = page.get_by_role("region", name="Mapa y recorrido")
        await expect(card.get_by_test_id("tiles-failed")).to_be_visible()
        track_map = page.get_by_role("region", name=re.compile(f"^Mapa del recorrido del terminal {field.serial}"))
        await expect(track_map).to_be_visible()
        await expect(track_map.locator("path.track-point")).to_have_count(field.points)
        await expect(track_map.locator("path.track-line")).to_have_count(field.gaps + 1)  # one per stretch
        await expect(track_map.locator("path.track-gap")).to_have_count(field.gaps)
        await expect(track_map.locator("path.track-accuracy")).to_have_count(field.points)
        await expect(track_map.locator("path.track-last")).to_have_count(1)
        lines = [await path.get_attribute("d") or "" for path in await track_map.locator("path.track-line").all()]
        assert max(line.count("L") for line in lines) >= 5, lines  # lines through the zig-zag's corners
        assert await track_map.locator("img.leaflet-tile-loaded").count() == 0

        # The same points as a table, in time order, with both times, the accuracy and the gap marked.
        table = page.get_by_role("table", name="Puntos del recorrido, en orden de hora")
        rows = table.locator("tbody tr")
        await expect(rows).to_have_count(field.points)
        await expect(rows.first).to_contain_text("8:00:00")
        await expect(rows.last).to_contain_text("16:00:00")
        await expect(rows.first).to_contain_text(f"±{round(place(0)['accuracy_m'])} m")
        gap_rows = table.locator("tbody tr.gap-before")
        await expect(gap_rows).to_have_count(field.gaps)
        await expect(gap_rows.filter(has_text="13:00:00")).to_have_count(1)  # after the three-hour hole
        await expect(gap_rows.first).to_contain_text("sin datos")
        await expect(page.get_by_test_id("track-summary")).to_contain_text(f"{field.points} puntos")
        await page.evaluate("window.scrollTo(0, 0)")
        await screenshot(page, "field-map-track")
        await assert_no_serious_a11y(page, "the terminal's map with a track and no tiles")

        # Another day: no points, the last known position still marked.
        await page.get_by_label("Día", exact=True).fill((field.day - timedelta(days=3)).isoformat())
        await expect(page.get_by_test_id("track-summary")).to_have_text("No hay posiciones de este terminal ese día.")
        await expect(track_map.locator("path.track-point")).to_have_count(0)
        await expect(track_map.locator("path.track-last")).to_have_count(1)

        # The timeline: yesterday's records arrived late (badge, and the server's time beside the terminal's).
        timeline = page.get_by_role("list", name="Historial (últimos 30 días)")
        on_time = timeline.get_by_role("listitem").filter(has_text="Posición GPS").first
        await expect(on_time).to_be_visible()
        await expect(on_time.get_by_test_id("late-badge")).to_have_count(0)
        late = timeline.get_by_role("listitem").filter(has=page.get_by_test_id("late-badge"))
        await expect(late.first).to_contain_text("Recibido")
        await late.first.get_by_role("link").click()
        await expect(page.get_by_role("heading", name="Detalle del registro")).to_be_visible()
        record = page.get_by_role("article", name="Detalle del registro")
        await expect(record.get_by_test_id("late-badge")).to_have_text("Con retraso")
        await expect(record).to_contain_text("Hora del terminal")
        await expect(record).to_contain_text("Hora del servidor (recibido)")
        await assert_no_serious_a11y(page, "a late record")


async def test_a_remote_action_on_the_timeline_and_the_overdue_warning(
    web: Stack, browser: Browser, field: Field
) -> None:
    token = await web.token(field.email)
    async with web.client(token) as api:
        cleared = await api.post(f"/api/v1/instances/{field.instance_id}/clear-session", json={"serial": field.serial})
        assert cleared.status_code == 200, cleared.text

        async def requested() -> dict[str, Any] | None:
            found = await api.get(f"/api/v1/activity/terminals/{field.serial}/actions")
            if found.status_code != 200:
                return None
            items = [item for item in found.json()["items"] if item["kind"] == "session_clear"]
            return items[0] if items else None

        action = await eventually(requested, timeout=30)
    async with new_page(browser, web.url, timezone_id="Europe/Madrid") as page:
        await tiles_unreachable(page.context)
        await login(page, field.email, PASSWORD)
        await page.goto(f"/activity/terminals/{field.serial}")
        trail = page.get_by_test_id("remote-action").filter(has_text="Borrado de sesión (acción remota)").first
        await expect(trail).to_be_visible()
        steps = trail.get_by_role("list", name="Estado de la acción")
        await expect(steps.get_by_role("listitem").nth(0)).to_contain_text("Solicitada")
        await expect(steps.get_by_role("listitem").nth(0).locator("time")).to_have_attribute(
            "datetime", action["requested_at"]
        )

        # The terminal fetches its configuration: the action is delivered (and applied once it signs in again).
        async with web.client() as terminal:
            fetched = await terminal.get(
                "/api/v1/device/configuration", params={"serial": field.serial}, headers={"X-Ingest-Key": field.key}
            )
            assert fetched.status_code == 200, fetched.text
            now = datetime.now(UTC)
            relogin = [event(field.serial, "config_fetched", now), event(field.serial, "login", now)]
            sent = await terminal.post(
                "/api/v1/ingest/events", json={"events": relogin}, headers={"X-Ingest-Key": field.key}
            )
            assert sent.status_code == 202, sent.text
        async with web.client(token) as api:

            async def delivered() -> dict[str, Any] | None:
                found = await api.get(f"/api/v1/activity/terminals/{field.serial}/actions")
                item = next((item for item in found.json()["items"] if item["id"] == action["id"]), None)
                return item if item and item["delivered_at"] else None

            action = await eventually(delivered, timeout=30)
        await page.reload()
        trail = page.get_by_test_id("remote-action").filter(has_text="Borrado de sesión (acción remota)").first
        steps = trail.get_by_role("list", name="Estado de la acción")
        for index, step in enumerate(("requested", "delivered", "applied")):
            item = steps.get_by_role("listitem").nth(index)
            if action[f"{step}_at"]:
                await expect(item.locator("time")).to_have_attribute("datetime", action[f"{step}_at"])
            else:
                await expect(item).to_contain_text("pendiente")
        await expect(trail.locator(f".badge.state-{action['state']}")).to_be_visible()
        await screenshot(page, "field-remote-action")
        await assert_no_serious_a11y(page, "a terminal's timeline with a remote action")

        # The instance view: no warning while nothing is overdue …
        await page.goto(f"/instances/{field.instance_id}")
        await expect(page.get_by_role("heading", level=1)).to_contain_text("Obras Soria")
        await expect(page.get_by_test_id("overdue-actions")).to_have_count(0)

        # … and the warning when the trail answers overdue clear-session requests (the threshold is an hour).
        overdue = {
            "items": [
                {
                    **action,
                    "id": "act-overdue",
                    "requested_at": (datetime.now(UTC) - timedelta(hours=3)).isoformat(),
                    "delivered_at": None,
                    "applied_at": None,
                    "state": "requested",
                    "overdue": True,
                }
            ],
            "next_cursor": None,
        }

        async def answer(route: Route) -> None:
            await route.fulfill(json=overdue)

        await page.route(re.compile(r"/api/v1/activity/actions\?.*overdue=true"), answer)
        await page.reload()
        warning = page.get_by_test_id("overdue-actions")
        await expect(warning).to_contain_text("Acciones remotas sin recoger")
        await expect(warning).to_contain_text("Borrado de sesión (acción remota)")
        await expect(warning.get_by_role("link", name=field.serial)).to_be_visible()
        await assert_no_serious_a11y(page, "the instance view with an overdue clear session")


async def test_a_workers_month_a_day_and_its_correction(
    web: Stack, browser: Browser, field: Field, tmp_path: Path
) -> None:
    month = field.day.strftime("%Y-%m")
    row_date = field.day.isoformat()
    async with new_page(browser, web.url, timezone_id="Europe/Madrid") as page:
        await login(page, field.email, PASSWORD)
        await page.goto("/activity")
        await page.get_by_role("link", name="Registro de jornada").click()
        await expect(page.get_by_role("heading", name="Registro de jornada", level=1)).to_be_visible()
        await assert_no_serious_a11y(page, "the working-time record, nothing chosen")

        # Validation, then the choice: instance, worker, month.
        form = page.get_by_role("form", name="Trabajador y mes")
        await form.get_by_role("button", name="Ver registro").click()
        await expect(form.get_by_text("Elija una instancia.")).to_be_visible()
        await expect(form.get_by_text("Indique el PIN del trabajador.")).to_be_visible()
        await assert_no_serious_a11y(page, "the working-time choice with errors")
        await form.get_by_label("Instancia").select_option(label="Obras Soria (WDS)")
        await form.get_by_label("Trabajador (PIN)").fill(PIN)
        await form.get_by_label("Mes").fill(month)
        await form.get_by_role("button", name="Ver registro").click()
        await expect(page).to_have_url(re.compile(rf"pin={PIN}.*month={month}|month={month}.*pin={PIN}"))

        # The month at a glance: the day's start, end, break and 7:40 worked (8 h less 20 min), the total.
        table = page.get_by_role("table", name=re.compile("^Ana Ruiz, "))
        day_row = table.locator(f'tr[data-date="{row_date}"]')
        await expect(day_row).to_contain_text("8:00:00")
        await expect(day_row).to_contain_text("16:00:00")
        await expect(day_row).to_contain_text("10:05:00–10:25:00")
        await expect(day_row.locator("td").nth(3)).to_have_text("7:40")
        await expect(page.get_by_test_id("wt-total")).to_contain_text("7:40")
        await expect(table.locator("tfoot")).to_contain_text("7:40")
        # The day's flags as the API gives them, each explained in the legend.
        async with web.client(await web.token(field.email)) as api:
            record = (
                await api.get(
                    "/api/v1/activity/working-time",
                    params={"instance_id": field.instance_id, "pin": PIN, "month": month, "tz": "Europe/Madrid"},
                )
            ).json()
        flags = next(day["flags"] for day in record["days"] if day["date"] == row_date)
        await expect(day_row.locator(".badge.flag")).to_have_count(len(flags))
        for flag in flags:
            await expect(day_row.locator(f".badge.flag-{flag}")).to_be_visible()
            await expect(page.locator(f".wt-legend .flag-{flag}")).to_be_visible()
        days_in_month = len(await table.locator("tbody tr").all())
        assert days_in_month in (28, 29, 30, 31)
        await page.evaluate("window.scrollTo(0, 0)")
        await screenshot(page, "field-working-time-month")
        await assert_no_serious_a11y(page, "a worker's month of working time")

        # Exports: the CSV's and the PDF's, the PDF's hash shown is the file's.
        async with page.expect_download() as csv_download:
            await page.get_by_role("button", name="Exportar CSV").click()
        saved = tmp_path / "month.csv"
        await (await csv_download.value).save_as(saved)
        assert (await csv_download.value).suggested_filename.endswith(".csv")
        csv_bytes = saved.read_bytes()
        assert len(list(csv.reader(io.StringIO(csv_bytes.decode("utf-8-sig"))))) >= 2  # a header and the day
        async with page.expect_download() as pdf_download:
            await page.get_by_role("button", name="Exportar PDF").click()
        saved = tmp_path / "month.pdf"
        await (await pdf_download.value).save_as(saved)
        assert saved.read_bytes().startswith(b"%PDF")
        # The content hash the server sent (X-Content-SHA256, printed in the PDF) is shown: the SHA-256 of
        # the month's CSV in the same language, so the CSV downloaded above proves the PDF's content.
        shown = page.locator(".wt-hash code")
        await expect(shown).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
        assert await shown.inner_text() == hashlib.sha256(csv_bytes).hexdigest()

        # A day: version 1 as the terminal recorded it, the clock events with the terminal's and the server's time.
        await day_row.get_by_role("link").click()
        await expect(page.get_by_role("heading", level=1)).to_contain_text("Jornada del")
        versions = page.get_by_test_id("wt-version")
        await expect(versions).to_have_count(1)
        await expect(versions.first).to_contain_text("tal como lo registró el terminal")
        sources = page.get_by_role("table", name="Fichajes de origen")
        await expect(sources.get_by_role("row").filter(has_text="Entrada")).to_have_count(1)
        await expect(sources.get_by_role("row").filter(has_text="Salida")).to_have_count(1)
        await expect(sources.locator(".badge.late").first).to_be_visible()
        await assert_no_serious_a11y(page, "a day of working time")

        # A correction: the reason is required; saved as version 2, version 1 kept as it was.
        await page.get_by_role("button", name="Corregir este día").click()
        correction = page.get_by_role("form", name="Corregir la jornada")
        await correction.get_by_label("Fin (vacío si sigue abierta)").fill(f"{row_date}T16:30")
        await correction.get_by_role("button", name="Guardar la corrección").click()
        await expect(correction.get_by_text("Indique el motivo de la corrección.")).to_be_visible()
        await assert_no_serious_a11y(page, "the correction form with an error")
        await correction.get_by_label("Motivo de la corrección (obligatorio)").fill("Olvidó fichar la salida a su hora")
        await correction.get_by_role("button", name="Guardar la corrección").click()
        await expect(page.get_by_text("Corrección guardada como versión 2.")).to_be_visible()
        await expect(versions).to_have_count(2)
        await expect(versions.nth(0)).to_contain_text("7:40")
        await expect(versions.nth(1)).to_contain_text("8:10")
        await expect(versions.nth(1)).to_contain_text("Olvidó fichar la salida a su hora")
        await expect(versions.nth(1)).to_contain_text("corregida por")
        await screenshot(page, "field-working-time-day")
        await assert_no_serious_a11y(page, "a corrected day of working time")

        # The month shows the corrected day and total.
        await page.get_by_role("link", name="Volver al mes").click()
        await expect(day_row.locator(".badge.corrected")).to_have_text("Corregido")
        await expect(day_row.locator("td").nth(3)).to_have_text("8:10")
        await expect(page.get_by_test_id("wt-total")).to_contain_text("8:10")

        # Another instance's worker: not found.
        await page.goto(f"/activity/working-time?instance_id={field.empty_instance_id}&pin={PIN}&month={month}")
        await expect(page.locator(".state-error, .state-empty").first).to_be_visible()


async def test_the_silent_seats_report(web: Stack, browser: Browser, field: Field, tmp_path: Path) -> None:
    async with new_page(browser, web.url, timezone_id="Europe/Madrid") as page:
        await login(page, field.email, PASSWORD)
        await page.get_by_role("link", name="Informes").click()
        await (
            page.get_by_role("navigation", name="Vistas de informes")
            .get_by_role("link", name="Licencias sin uso")
            .click()
        )
        table = page.get_by_role("table", name="Licencias sin uso, por instancia")
        rows = table.get_by_test_id("silent-seat")

        async def listed() -> bool:  # the reports learn licenses and activity from Kafka
            await page.reload()
            await expect(page.locator(".state-loading")).to_have_count(0)
            return await rows.count() >= 1

        await eventually(listed, timeout=30)
        # Luis's terminal never reported: listed, "never"; Ana's reported today: not silent.
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text("Luis Gil")
        await expect(rows.first).to_contain_text(field.silent_serial)
        await expect(rows.first).to_contain_text("Nunca")
        await expect(table).not_to_contain_text("Ana Ruiz")
        await expect(page.get_by_text(re.compile(r"en \d+ días o más"))).to_be_visible()
        await page.evaluate("window.scrollTo(0, 0)")
        await screenshot(page, "field-silent-seats")
        await assert_no_serious_a11y(page, "the silent seats report")

        # The CSV export has the same rows.
        async with page.expect_download() as csv_download:
            await page.get_by_role("button", name="Exportar CSV").click()
        saved = tmp_path / "silent.csv"
        await (await csv_download.value).save_as(saved)
        text = saved.read_text(encoding="utf-8-sig")
        assert "Luis Gil" in text and field.silent_serial in text, text[:500]
        assert "Ana Ruiz" not in text

        # The days setting and the instance filter: an instance without licenses has none (the empty state).
        filters = page.get_by_role("form", name="Filtros")
        await filters.get_by_label("Días sin actividad (al menos)").fill("30")
        await filters.get_by_label("Instancia").select_option(field.empty_instance_id)
        await filters.get_by_role("button", name="Filtrar").click()
        await expect(page).to_have_url(re.compile("days=30"))
        await expect(page.get_by_text("No hay licencias sin uso en 30 días con estos filtros.")).to_be_visible()
        await assert_no_serious_a11y(page, "the silent seats report, empty")
        # The API's refusal of a bad setting shows at its field.
        await filters.get_by_label("Días sin actividad (al menos)").fill("0")
        await filters.get_by_role("button", name="Filtrar").click()
        await expect(page.locator("#filter-days-error")).to_be_visible()
