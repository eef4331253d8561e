"""The Support section in headless Chromium (R-10..R-14): a partner user and a staff user of the
same partner in two browser sessions talk in the company's thread, live, without reloading."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from servicekit.testing import eventually

from .browser import assert_no_serious_a11y, chromium, login, new_page, screenshot
from .conftest import PASSWORD, Stack, add_user, new_company, provisioned_instance, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

LIVE_WITHIN_MS = 5_000


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def web(topic_prefix: str, key_pair: tuple[str, str]) -> AsyncIterator[Stack]:
    async with running_stack(topic_prefix, key_pair, web=True) as started:
        yield started


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as started:
        yield started


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def company_with_an_instance(stack: Stack, token: str, name: str) -> dict[str, Any]:
    """A company, a generated WDS instance with one license, and the company's thread (from company.created)."""
    async with stack.client(token) as api:
        company_id = await new_company(api, name)
        instance_id = await provisioned_instance(api, company_id)
        added = await api.post(
            f"/api/v1/instances/{instance_id}/licenses",
            json={
                "licenses": [{"user_name": "Ana", "email": "ana@example.com", "pin": "4821", "serial": unique("SR")}]
            },
        )
        assert added.status_code == 201, added.text

        async def thread() -> str | None:  # the support service opens it on company.created
            found = await api.get(f"/api/v1/threads/thr-{company_id}")
            return found.json()["id"] if found.status_code == 200 and found.json()["company_name"] == name else None

        thread_id = await eventually(thread)
    return {"company_id": company_id, "instance_id": instance_id, "thread_id": thread_id}


def thread_row(page: Page, company: str):  # type: ignore[no-untyped-def]
    return page.get_by_role("link", name=re.compile(re.escape(company)))


async def test_partner_and_support_talk_live_in_the_company_thread(web: Stack, browser: Browser) -> None:
    partner_id, other_partner = unique("ptn"), unique("ptn")
    partner_email = await add_user(web, unique("usr"), "partner", (partner_id,))
    staff_email = await add_user(web, unique("stf"), "staff", (partner_id, other_partner))
    company = f"Talleres Gómez {uuid.uuid4().hex[:4]}"
    world = await company_with_an_instance(web, await web.token(partner_email), company)
    thread_id, instance_id = world["thread_id"], world["instance_id"]

    async with new_page(browser, web.url) as partner, new_page(browser, web.url) as staff:
        # Support staff: the list's toolbar has the partner selector, search and refresh.
        await login(staff, staff_email, PASSWORD)
        await expect(staff.get_by_role("heading", name="Soporte")).to_be_visible()
        toolbar = staff.get_by_role("toolbar")
        await expect(toolbar.get_by_label("Actuando para")).to_have_value(partner_id)
        await expect(staff.get_by_role("combobox", name="Actuando para")).to_have_count(1)  # not twice on screen
        await expect(toolbar.get_by_label("Buscar empresa")).to_be_visible()
        await expect(toolbar.get_by_role("button", name="Actualizar")).to_be_enabled()
        await expect(thread_row(staff, company)).to_contain_text("Sin mensajes todavía")
        await screenshot(staff, "support-threads-staff")
        await assert_no_serious_a11y(staff, "the support thread list (staff)")
        await staff.get_by_label("Buscar empresa").fill("no such company")
        await expect(staff.get_by_text("Ninguna empresa coincide")).to_be_visible()
        await assert_no_serious_a11y(staff, "the support thread list, no match")
        await staff.get_by_label("Buscar empresa").fill(company)
        await thread_row(staff, company).click()
        await expect(staff).to_have_url(re.compile(f"/support/threads/{thread_id}$"))
        await expect(staff.get_by_text("Aún no hay mensajes")).to_be_visible()
        await assert_no_serious_a11y(staff, "an empty support thread (staff)")

        # The partner opens the same thread from the list: header with company, instances and links.
        await login(partner, partner_email, PASSWORD)
        await expect(partner.get_by_role("combobox", name="Actuando para")).to_have_count(
            0
        )  # partner users have no selector
        await thread_row(partner, company).click()
        await expect(partner.get_by_role("heading", name=company)).to_be_visible()
        await expect(partner.get_by_role("link", name="Ver empresa")).to_have_attribute(
            "href", f"/instances/companies/{world['company_id']}"
        )
        instance = partner.get_by_role("list", name="Instancias").get_by_role("listitem")
        await expect(instance).to_contain_text("Taller")
        await expect(instance).to_contain_text("1 en uso")
        await expect(partner.get_by_role("link", name="Ver licencias de Taller")).to_have_attribute(
            "href", f"/instances/{instance_id}#licenses"
        )
        await expect(partner.get_by_role("link", name="Acciones de Taller")).to_have_attribute(
            "href", f"/instances/{instance_id}"
        )
        send = partner.get_by_role("button", name="Enviar")
        await expect(send).to_be_disabled()  # nothing to send yet
        await assert_no_serious_a11y(partner, "a support thread with its header (partner)")

        # The partner writes; the staff's open thread shows it without a reload (R-13: received vs sent).
        question = "Hola, el terminal de Ana no sincroniza desde ayer."
        await partner.get_by_label("Mensaje", exact=True).fill(question)
        started = time.monotonic()
        await send.click()
        await expect(partner.locator("li.message.sent", has_text=question)).to_be_visible()
        await expect(partner.get_by_label("Mensaje", exact=True)).to_have_value("")
        await expect(staff.locator("li.message.received", has_text=question)).to_be_visible(timeout=LIVE_WITHIN_MS)
        assert time.monotonic() - started < LIVE_WITHIN_MS / 1000, "posted and shown on the other side in time"
        await expect(staff.locator("li.message.sent")).to_have_count(0)

        # The partner goes back to the list; support's reply shows there live, with its unread badge.
        await partner.get_by_role("link", name="Consultas").click()
        await expect(thread_row(partner, company)).to_contain_text(f"Tú: {question}")
        await expect(thread_row(partner, company).get_by_test_id("unread")).to_have_count(0)
        answer = "Lo revisamos ahora mismo: borre la sesión del terminal y vuelva a entrar."
        await staff.get_by_label("Mensaje", exact=True).fill(answer)
        await staff.get_by_role("button", name="Enviar").click()
        await expect(staff.locator("li.message.sent", has_text=answer)).to_be_visible()
        await expect(staff.locator("li.message")).to_have_count(2)
        row = thread_row(partner, company)
        await expect(row.get_by_test_id("unread")).to_have_text("1", timeout=LIVE_WITHIN_MS)
        await expect(row).to_contain_text(answer[:30])
        await expect(row).to_contain_text("1 sin leer")
        await assert_no_serious_a11y(partner, "the support thread list with an unread thread")
        await assert_no_serious_a11y(staff, "a support thread with sent and received messages")
        await screenshot(partner, "support-threads")
        await screenshot(staff, "support-thread-live")

        # Opening the thread marks it read: the answer is a received message, and the badge goes.
        await row.click()
        await expect(partner.locator("li.message.received", has_text=answer)).to_be_visible()
        await expect(partner.locator("li.message.sent", has_text=question)).to_be_visible()
        await screenshot(partner, "support-thread-partner")
        await assert_no_serious_a11y(partner, "a support thread with messages (partner)")
        await partner.get_by_role("link", name="Consultas").click()
        await expect(thread_row(partner, company)).to_contain_text(answer[:30])
        await expect(thread_row(partner, company).get_by_test_id("unread")).to_have_count(0)

    async with web.client(await web.token(partner_email)) as api:
        messages = (await api.get(f"/api/v1/threads/{thread_id}/messages")).json()["items"]
        assert [m["body"] for m in messages] == [answer, question], "each message posted once"
