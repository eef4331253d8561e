"""Headless Chromium (Debian's, not a downloaded one) driven by Playwright, for the web app's tests."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, ViewportSize, async_playwright

WEB = Path(__file__).resolve().parents[2] / "web"
SCREENSHOTS = WEB / "test-results" / "screenshots"
# axe-core from web/node_modules (a pinned devDependency; `npm ci` in web/ installs it): never a CDN.
AXE = WEB / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING_IMPACTS = ("serious", "critical")
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
PHONE: ViewportSize = {"width": 412, "height": 915}  # mobile first: the original product is a phone app
DESKTOP: ViewportSize = {"width": 1280, "height": 800}


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
async def new_page(
    browser: Browser, base_url: str, *, viewport: ViewportSize = PHONE, **options: Any
) -> AsyncIterator[Page]:
    """A page in its own context: a phone in Spanish unless told (`options` go to `new_context`)."""
    options.setdefault("locale", "es-ES")
    context = await browser.new_context(base_url=base_url, viewport=viewport, **options)
    if not AXE.is_file():
        raise RuntimeError(f"axe-core not found at {AXE}: run `npm ci` in web/")
    # An init script is evaluated by the browser itself, so the app's CSP (script-src 'self') does not block it.
    await context.add_init_script(path=AXE)
    page = await context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        await context.close()


LOGIN_TEXTS = {"es": ("Correo electrónico", "Contraseña", "Entrar"), "en": ("E-mail", "Password", "Sign in")}


async def login(page: Page, email: str, password: str, *, language: str = "es") -> None:
    """`language` is the login page's (the browser's); after signing in, the user's profile language applies."""
    email_label, password_label, submit = LOGIN_TEXTS[language]
    await page.goto("/")
    await page.get_by_label(email_label).fill(email)
    await page.get_by_label(password_label).fill(password)
    await page.get_by_role("button", name=submit).click()
    # The nav's name is in the UI's language: the user's profile chooses it at sign-in.
    await page.get_by_role("navigation", name=re.compile("^(Secciones|Sections)$")).wait_for()


async def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def assert_no_serious_a11y(page: Page, where: str) -> None:
    """axe-core on the whole page as it is now (a section, an open dialog, an error state): no serious or
    critical violation; the failure lists each one's rule, impact, element and what is wrong."""
    results: dict[str, Any] = await page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    found = [
        f"{rule['id']} ({rule['impact']}, {rule['help']}) at {node['target']}: {node['failureSummary']}".replace(
            "\n", " "
        )
        for rule in results["violations"]
        if rule["impact"] in BLOCKING_IMPACTS
        for node in rule["nodes"]
    ]
    assert not found, f"accessibility violations on {where}:\n" + "\n".join(found)
