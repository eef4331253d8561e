"""Headless Chromium (Debian's, not a downloaded one) driven by Playwright, for the web app's tests."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

from playwright.async_api import Browser, Page, async_playwright

SCREENSHOTS = Path(__file__).resolve().parents[2] / "web" / "test-results" / "screenshots"
# Without these, Chromium keeps calling Google's services, which a closed network refuses.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 412, "height": 915}  # mobile first: the original product is a phone app


def chromium_path() -> str:
    found = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise RuntimeError("Chromium not found: install Debian's `chromium` (.ci/run does) or set CHROMIUM_PATH")
    return found


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@contextlib.asynccontextmanager
async def new_page(browser: Browser, base_url: str) -> AsyncIterator[Page]:
    context = await browser.new_context(base_url=base_url, viewport=PHONE, locale="es-ES")
    page = await context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        await context.close()


async def login(page: Page, email: str, password: str) -> None:
    await page.goto("/")
    await page.get_by_label("Correo electrónico").fill(email)
    await page.get_by_label("Contraseña").fill(password)
    await page.get_by_role("button", name="Entrar").click()
    # The nav's name is in the UI's language: the user's profile chooses it at sign-in.
    await page.get_by_role("navigation", name=re.compile("^(Secciones|Sections)$")).wait_for()


async def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
