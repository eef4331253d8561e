"""The web app in headless Chromium against the whole back end (served by the gateway)."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect

from .browser import chromium, login, new_page, screenshot
from .conftest import PASSWORD, Stack, add_user, running_stack

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
        await page.get_by_label("Correo electrónico").fill(email)
        await page.get_by_label("Contraseña").fill("not the password")
        await page.get_by_role("button", name="Entrar").click()
        await expect(page.get_by_role("alert")).to_contain_text("incorrectos")
        await login(page, email, PASSWORD)
        await expect(page.get_by_role("link", name="Soporte")).to_be_visible()
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
