"""Profile → Integrations (webhooks, issue #19) in headless Chromium against the whole back end and a
real HTTP receiver on loopback: the form's own and the API's errors at their fields, a subscription
created with its signing secret shown once (copied, then gone after a reload), a test event sent and
seen in the delivery log (its attempt and the receiver's answer), correctly signed at the receiver;
pause and resume, the filters' empty state, rotating the secret (the new one shown once) and the
delete dialog."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import pytest_asyncio
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from playwright.async_api import Browser, expect

from .browser import assert_no_serious_a11y, chromium, login, new_page, screenshot
from .conftest import PASSWORD, Stack, _free_port, add_user, new_company, provisioned_instance, running_stack, serve

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

RECEIVER_ANSWER = "received-by-the-test-receiver"


@dataclass
class Receiver:
    url: str
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def web(topic_prefix: str, key_pair: tuple[str, str]) -> AsyncIterator[Stack]:
    # Development mode for the targets: the receiver below is http on loopback.
    with pytest.MonkeyPatch.context() as env:
        env.setenv("GATEWAY_WEBHOOKS_ALLOW_PRIVATE", "true")
        async with running_stack(topic_prefix, key_pair, web=True) as started:
            yield started


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as started:
        yield started


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    """A partner's system on loopback (http to loopback is allowed in development): records every
    delivery and answers 200 with a short text (the log shows it as the response excerpt)."""
    app = FastAPI()
    port = _free_port()
    found = Receiver(url=f"http://127.0.0.1:{port}/hooks/partnerapp")

    @app.post("/hooks/partnerapp")
    async def hook(request: Request) -> PlainTextResponse:
        found.requests.append(({k.lower(): v for k, v in request.headers.items()}, await request.body()))
        return PlainTextResponse(RECEIVER_ANSWER)

    async with serve(app, port):
        yield found


def signed_by(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Standard Webhooks: base64(HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")) among the
    space-separated "v1,<signature>" of webhook-signature; the key is the base64 after "whsec_"."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    given = [part.split(",", 1)[1] for part in headers["webhook-signature"].split() if part.startswith("v1,")]
    return any(hmac.compare_digest(expected, signature) for signature in given)


async def test_create_see_the_secret_once_send_a_test_event_and_see_the_log(
    web: Stack, browser: Browser, receiver: Receiver
) -> None:
    email = await add_user(web, f"usr-{uuid.uuid4().hex[:8]}", "partner", (f"ptn-{uuid.uuid4().hex[:8]}",))
    async with web.client(await web.token(email)) as api:
        instance_id = await provisioned_instance(api, await new_company(api), name="Taller Soria")

    async with new_page(browser, web.url, permissions=["clipboard-read", "clipboard-write"]) as page:
        await login(page, email, PASSWORD)
        await page.get_by_role("link", name="Perfil").click()
        await page.get_by_role("link", name="Integraciones").click()
        await expect(page.get_by_role("heading", name="Integraciones", exact=True)).to_be_visible()
        await expect(page).to_have_url(re.compile(r"/profile/integrations$"))
        await expect(page.get_by_text("Aún no tiene suscripciones.")).to_be_visible()
        await assert_no_serious_a11y(page, "the integrations, none yet")

        # The form: the event types from the catalogue, grouped by family; its own checks first.
        await page.get_by_role("button", name="Nueva suscripción").click()
        form = page.get_by_role("form", name="Nueva suscripción")
        await expect(form.get_by_role("group", name="Instancias")).to_be_visible()
        await expect(form.get_by_role("group", name="Licencias")).to_be_visible()
        await expect(form.get_by_role("checkbox", name=re.compile(r"webhook\.test"))).to_have_count(0)
        await expect(form.get_by_label("Solo de la instancia")).to_contain_text("Taller Soria")
        await assert_no_serious_a11y(page, "the new subscription form")
        await form.get_by_role("button", name="Crear suscripción").click()
        await expect(form.locator("#webhook-url-error")).to_have_text("Indique la URL de destino.")
        await expect(form.locator("#webhook-event_types-error")).to_have_text("Elija al menos un tipo de evento.")
        await expect(form.get_by_label("URL de destino")).to_have_attribute("aria-invalid", "true")

        # The API's 422 shows at the field it names (not a URL), and nothing is created.
        await form.get_by_label("URL de destino").fill("not a url")
        await form.get_by_role("checkbox", name=re.compile(r"instance\.provisioned")).check()
        await form.get_by_role("button", name="Crear suscripción").click()
        await expect(form.locator("#webhook-url-error")).to_contain_text(re.compile(r"\S"))
        await expect(form.locator("#webhook-event_types-error")).to_have_count(0)
        await assert_no_serious_a11y(page, "the new subscription form with the API's error")

        # Created: the secret is shown this once, focused, and copies.
        await form.get_by_label("URL de destino").fill(receiver.url)
        await form.get_by_role("group", name="Mensajes").get_by_role("checkbox", name="Todos los de este grupo").check()
        await expect(form.get_by_role("checkbox", name=re.compile(r"message\.posted"))).to_be_checked()
        await form.get_by_label("Solo de la instancia").select_option(instance_id)
        await form.get_by_label("Descripción (opcional)").fill("Facturación")
        await form.get_by_role("button", name="Crear suscripción").click()
        panel = page.get_by_test_id("webhook-secret")
        await expect(panel).to_contain_text("Se muestra una sola vez")
        await expect(panel.get_by_role("heading")).to_be_focused()
        secret = await panel.get_by_label("Secreto").input_value()
        assert secret.startswith("whsec_") and len(secret) > 20, secret
        await panel.get_by_role("button", name="Copiar").click()
        await expect(panel.get_by_role("status")).to_have_text("Secreto copiado.")
        assert await page.evaluate("navigator.clipboard.readText()") == secret
        await expect(form).to_have_count(0)
        subscriptions = page.get_by_role("list", name="Suscripciones")
        await expect(subscriptions.get_by_role("listitem")).to_have_count(1)
        await expect(subscriptions).to_contain_text(receiver.url)
        await expect(subscriptions).to_contain_text("Facturación")
        await expect(subscriptions.get_by_test_id("webhook-status")).to_have_text("Activa")
        await page.evaluate("window.scrollTo(0, 0)")
        await screenshot(page, "profile-integrations")
        await assert_no_serious_a11y(page, "the integrations with the new secret")

        # Never again: not after a reload, nor on the subscription's page (its first characters only).
        await page.reload()
        await expect(subscriptions.get_by_role("listitem")).to_have_count(1)
        await expect(page.get_by_test_id("webhook-secret")).to_have_count(0)
        assert secret not in await page.content()
        await subscriptions.get_by_role("link").click()
        await expect(page.get_by_role("heading", name="Suscripción", exact=True)).to_be_visible()
        await expect(page.get_by_role("article")).to_contain_text("whsec_")
        await expect(page.get_by_role("article")).to_contain_text("Taller Soria")
        assert secret not in await page.content()
        await expect(page.get_by_text("Aún no hay entregas.")).to_be_visible()
        await assert_no_serious_a11y(page, "a subscription without deliveries")

        # A test event: sent, delivered to the receiver (signed with the secret), shown in the log.
        await page.get_by_role("button", name="Enviar evento de prueba").click()
        await expect(page.get_by_test_id("webhook-said")).to_contain_text("Evento de prueba enviado")
        rows = page.get_by_test_id("webhook-delivery")
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text("webhook.test")
        await expect(rows.first).to_contain_text("Entregada", timeout=30_000)
        await expect(rows.first.get_by_test_id("webhook-status-code")).to_have_text("200")
        tests = [(headers, body) for headers, body in receiver.requests if json.loads(body)["type"] == "webhook.test"]
        assert len(tests) == 1, receiver.requests
        headers, body = tests[0]
        assert signed_by(secret, headers, body), headers
        event = json.loads(body)
        assert headers["webhook-id"] == event["id"]
        assert event["specversion"] == "1.0"
        await rows.first.get_by_role("button", name="Detalles").click()
        attempts = page.locator(".webhook-attempts")
        await expect(attempts).to_contain_text(RECEIVER_ANSWER)
        await expect(attempts).to_contain_text(event["id"])
        await page.evaluate("window.scrollTo(0, 0)")
        await screenshot(page, "profile-integrations-log")
        await assert_no_serious_a11y(page, "the delivery log with an attempt open")

        # The log's filters: none failed.
        await page.get_by_label("Resultado").select_option("failed")
        await expect(page.get_by_text("Ninguna entrega cumple estos filtros.")).to_be_visible()
        await page.get_by_label("Resultado").select_option("")
        await expect(rows).to_have_count(1)

        # Pause and resume.
        await page.get_by_role("button", name="Pausar").click()
        await expect(page.get_by_test_id("webhook-said")).to_have_text("Suscripción pausada.")
        await expect(page.get_by_role("article").get_by_test_id("webhook-status")).to_have_text("Pausada")
        await page.get_by_role("button", name="Reanudar").click()
        await expect(page.get_by_role("article").get_by_test_id("webhook-status")).to_have_text("Activa")

        # Rotating the secret: a dialog with the overlap, then the new secret once.
        await page.get_by_role("button", name="Renovar secreto").click()
        dialog = page.get_by_role("dialog")
        await expect(dialog).to_be_visible()
        await assert_no_serious_a11y(page, "the rotate secret dialog")
        await dialog.get_by_label("Horas de solapamiento").fill("200")
        await expect(dialog.get_by_role("button", name="Renovar")).to_be_disabled()
        await dialog.get_by_label("Horas de solapamiento").fill("2")
        await dialog.get_by_role("button", name="Renovar").click()
        await expect(dialog).to_be_hidden()
        rotated = page.get_by_test_id("webhook-secret")
        await expect(rotated).to_contain_text("El secreto anterior sigue firmando hasta")
        new_secret = await rotated.get_by_label("Secreto").input_value()
        assert new_secret.startswith("whsec_") and new_secret != secret
        await rotated.get_by_role("button", name="Ya lo he copiado").click()
        await expect(rotated).to_have_count(0)
        await expect(page.get_by_role("button", name="Renovar secreto")).to_be_focused()

        # Delete asks first; cancelling keeps it.
        await page.get_by_role("button", name="Eliminar").click()
        await expect(dialog).to_contain_text(receiver.url)
        await assert_no_serious_a11y(page, "the delete subscription dialog")
        await dialog.get_by_role("button", name="Cancelar").click()
        await expect(dialog).to_be_hidden()

        # In English too: the same page's texts.
        await page.goto("/profile")
        await page.get_by_label("Idioma").select_option("en")
        await page.get_by_role("link", name="Integrations").click()
        await expect(page.get_by_role("heading", name="Integrations", exact=True)).to_be_visible()
        await expect(page.get_by_role("list", name="Subscriptions").get_by_test_id("webhook-status")).to_have_text(
            "Active"
        )
        await assert_no_serious_a11y(page, "the integrations (en)")
