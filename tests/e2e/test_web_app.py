"""The web app in headless Chromium against the whole back end (served by the gateway)."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect

from .browser import assert_no_serious_a11y, chromium, login, new_page, screenshot
from .conftest import PASSWORD, Stack, add_user, running_stack


class _AnyText(str):
    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and bool(other)

    __hash__ = str.__hash__


ANY_TEXT = _AnyText()

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def web(topic_prefix: str, key_pair: tuple[str, str]) -> AsyncIterator[Stack]:
    async with running_stack(topic_prefix, key_pair, web=True) as started:
        yield started


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as started:
        yield started


async def test_log_in_and_out(web: Stack, browser: Browser) -> None:
    partner = f"ptn-{uuid.uuid4().hex[:8]}"
    email = await add_user(web, f"usr-{uuid.uuid4().hex[:8]}", "partner", (partner,))
    async with new_page(browser, web.url) as page:
        await page.goto("/")
        await assert_no_serious_a11y(page, "the login page")
        await page.get_by_label("Correo electrónico").fill(email)
        await page.get_by_label("Contraseña").fill("not the password")
        await page.get_by_role("button", name="Entrar").click()
        await expect(page.get_by_role("alert")).to_contain_text("incorrectos")
        await assert_no_serious_a11y(page, "the login page with its error")
        await login(page, email, PASSWORD)
        await expect(page.get_by_role("link", name="Soporte")).to_be_visible()
        await assert_no_serious_a11y(page, "the support section, empty")
        await page.goto("/no/such/page")
        await expect(page.get_by_text("Esta página no existe.")).to_be_visible()
        await assert_no_serious_a11y(page, "the not-found page")
        await page.reload()  # the refresh token keeps the session across reloads
        await expect(page.get_by_role("navigation", name="Secciones")).to_be_visible()
        await screenshot(page, "login")


async def test_the_gateway_serves_the_app_for_its_routes_with_security_headers(web: Stack) -> None:
    async with web.client() as client:
        for path in ("/", "/instances/ins-1", "/support/threads/thr-1"):
            page = await client.get(path)
            assert page.status_code == 200, path
            assert '<div id="root">' in page.text
            assert page.headers["cache-control"] == "no-cache"
            assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        asset = re.search(r'src="(/assets/[^"]+\.js)"', (await client.get("/")).text)
        assert asset, "the entry page loads a hashed script"
        script = await client.get(asset.group(1))
        assert script.status_code == 200
        assert "immutable" in script.headers["cache-control"]
        assert (await client.get("/api/v1/nothing")).status_code == 404, "API paths never fall back to the app"
        assert (await client.get("/healthz")).json()["service"] == "gateway"


async def test_the_map_tiles_are_the_gateways_setting_and_the_only_other_image_origin(web: Stack) -> None:
    """`/config.json` tells the web app the tile server the gateway is configured with, and the
    app's Content-Security-Policy lets images come from that origin (and no other foreign one)."""
    async with web.client() as client:
        config = await client.get("/config.json")
        assert config.status_code == 200
        assert config.json()["map"] == {
            "tile_url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
            "attribution": ANY_TEXT,
            "max_zoom": 19,
        }
        policy = (await client.get("/activity")).headers["content-security-policy"]
        images = next(part for part in policy.split("; ") if part.startswith("img-src"))
        assert images.split() == ["img-src", "'self'", "data:", "blob:", "https://tile.openstreetmap.org"]
        assert "connect-src 'self';" in policy, "tiles are images: nothing else may call a foreign origin"


async def test_robots_txt_is_text_and_missing_files_are_not_the_app(web: Stack) -> None:
    async with web.client() as client:
        robots = await client.get("/robots.txt")
        assert robots.status_code == 200
        assert robots.headers["content-type"].startswith("text/plain"), robots.headers["content-type"]
        assert "<html" not in robots.text.lower()
        assert re.search(r"^User-agent: \*$", robots.text, re.MULTILINE), robots.text
        assert re.search(r"^Disallow: /$", robots.text, re.MULTILINE), "a private app: nothing but its entry page"
        for path in (
            "/favicon.ico",
            "/sitemap.xml",
            "/humans.txt",
            "/.env",
            "/assets/gone-1234.js",
            "/help/nope.es.html",
        ):
            missing = await client.get(path)
            assert missing.status_code == 404, path
            assert '<div id="root">' not in missing.text, f"{path} answered the app's HTML"
            assert missing.headers["content-type"].startswith("application/problem+json"), path
        # The app's own pages still fall back, even when their last part looks like a file name (a serial).
        for path in ("/activity/terminals/SR.1", "/instances/ins-1/licenses", "/no/such/page"):
            page = await client.get(path)
            assert page.status_code == 200, path
            assert '<div id="root">' in page.text, path


async def test_the_page_has_a_description_in_the_users_language(web: Stack, browser: Browser) -> None:
    async with web.client() as client:
        entry = await client.get("/")
    described = re.search(r'<meta name="description" content="([^"]+)"', entry.text)
    assert described and len(described.group(1)) > 40, "crawlers and link previews get a Spanish description"
    assert "instancias" in described.group(1)
    email = await add_user(web, f"usr-{uuid.uuid4().hex[:8]}", "partner", (f"ptn-{uuid.uuid4().hex[:8]}",))
    async with web.client(await web.token(email)) as api:
        assert (await api.patch("/api/v1/profile", json={"language": "en"})).status_code == 200
    async with new_page(browser, web.url, locale="en-US") as page:
        await page.goto("/")
        description = page.locator('meta[name="description"]')
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        await expect(description).to_have_attribute("content", re.compile("instances, licenses"))
        await login(page, email, PASSWORD, language="en")
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        await expect(description).to_have_attribute("content", re.compile("instances, licenses"))
