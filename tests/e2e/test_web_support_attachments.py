"""Support threads that carry the problem (issue #21) in headless Chromium: a photo sent from the
composer (the file chooser, its progress, the thumbnail and the full image), files refused before
and by the upload, the read mark, a canned reply previewed with the thread's values and inserted,
the staff's library of canned replies, and a search result opened in its thread at its message."""

from __future__ import annotations

import base64
import io
import re
import struct
import uuid
import zlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Locator, Page, expect
from pypdf import PdfWriter

from gateway.domain.model import Language
from servicekit.testing import eventually

from .browser import assert_no_serious_a11y, chromium, login, new_page, screenshot
from .conftest import PASSWORD, Stack, add_user, new_company, provisioned_instance, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

MAX_BYTES = 10 * 1024 * 1024


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


def png(width: int, height: int) -> bytes:
    """A real PNG (RGB, a gradient) written by hand: no imaging library needed to make one."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 255 // width, y * 255 // height, 128)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# A file handed to the page as the browser would from a drop or a paste (a DataTransfer holding a File).
FILE_TRANSFER = """([name, type, data]) => {
    const transfer = new DataTransfer();
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    transfer.items.add(new File([bytes], name, { type }));
    return transfer;
}"""


async def drop(page: Page, target: Locator, name: str, kind: str, data: bytes) -> None:
    transfer = await page.evaluate_handle(FILE_TRANSFER, [name, kind, base64.b64encode(data).decode()])
    await target.dispatch_event("dragover", {"dataTransfer": transfer})
    await target.dispatch_event("drop", {"dataTransfer": transfer})


async def paste(page: Page, target: Locator, name: str, kind: str, data: bytes) -> None:
    transfer = await page.evaluate_handle(FILE_TRANSFER, [name, kind, base64.b64encode(data).decode()])
    await target.evaluate(
        "(element, transfer) => element.dispatchEvent(new ClipboardEvent('paste', "
        "{ clipboardData: transfer, bubbles: true, cancelable: true }))",
        transfer,
    )


async def company_thread(stack: Stack, token: str, name: str) -> dict[str, str]:
    """A company with a generated instance, and its support thread (opened on company.created)."""
    async with stack.client(token) as api:
        company_id = await new_company(api, name)
        instance_id = await provisioned_instance(api, company_id)

        async def thread() -> str | None:
            found = await api.get(f"/api/v1/threads/thr-{company_id}")
            return (
                str(found.json()["id"]) if found.status_code == 200 and found.json()["company_name"] == name else None
            )

        thread_id = await eventually(thread)
    return {"company_id": company_id, "instance_id": instance_id, "thread_id": thread_id}


async def post(stack: Stack, token: str, thread_id: str, body: str) -> dict[str, Any]:
    async with stack.client(token) as api:
        posted = await api.post(
            f"/api/v1/threads/{thread_id}/messages", json={"body": body}, headers={"Idempotency-Key": uuid.uuid4().hex}
        )
    assert posted.status_code in (200, 201), posted.text
    message: dict[str, Any] = posted.json()
    return message


async def open_thread(page: Page, thread_id: str) -> None:
    await page.goto(f"/support/threads/{thread_id}")
    await expect(page.get_by_label("Mensaje", exact=True)).to_be_visible()
    await expect(page.locator(".state-loading")).to_have_count(0)


async def test_a_photo_sent_from_the_composer(web: Stack, browser: Browser) -> None:
    partner_id = unique("ptn")
    partner_email = await add_user(web, unique("usr"), "partner", (partner_id,))
    staff_email = await add_user(web, unique("stf"), "staff", (partner_id,))
    company = f"Talleres Foto {uuid.uuid4().hex[:4]}"
    world = await company_thread(web, await web.token(partner_email), company)
    thread_id = world["thread_id"]
    photo = png(640, 480)

    async with new_page(browser, web.url) as page:
        await login(page, partner_email, PASSWORD)
        await open_thread(page, thread_id)
        composer = page.locator("form.support-composer")
        uploads: list[str] = []
        page.on("request", lambda r: uploads.append(r.url) if r.method == "POST" and "/attachments" in r.url else None)

        # Too big for the service's limit: refused in the browser, nothing is uploaded.
        async with page.expect_file_chooser() as chosen:
            await composer.get_by_role("button", name="Adjuntar").click()
        await (await chosen.value).set_files(
            {"name": "grande.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n" + b"0" * MAX_BYTES}
        )
        too_big = composer.get_by_test_id("pending-file").filter(has_text="grande.pdf")
        await expect(too_big).to_contain_text("Supera el máximo de 10 MB")
        assert uploads == [], "a file over the limit never leaves the browser"
        await too_big.get_by_role("button", name="Quitar grande.pdf").click()
        await expect(composer.get_by_test_id("pending-file")).to_have_count(0)

        # Not what it claims (text named .png): the service refuses it, its problem shows on the file.
        async with page.expect_file_chooser() as chosen:
            await composer.get_by_role("button", name="Adjuntar").click()
        await (await chosen.value).set_files(
            {"name": "falsa.png", "mimeType": "image/png", "buffer": b"MZ\x90\x00 not an image at all"}
        )
        fake = composer.get_by_test_id("pending-file").filter(has_text="falsa.png")
        await expect(fake.locator(".field-error")).not_to_be_empty()
        await expect(page.get_by_role("status").filter(has_text="No se pudo subir falsa.png")).to_have_count(1)
        await fake.get_by_role("button", name="Quitar falsa.png").click()

        # The photo: chosen with the file chooser, uploaded (progress), ready, sent with the text.
        text = "Así se ve la pantalla del terminal."
        await page.get_by_label("Mensaje", exact=True).fill(text)
        async with page.expect_file_chooser() as chosen:
            await composer.get_by_role("button", name="Adjuntar").click()
        chooser = await chosen.value
        assert chooser.is_multiple()
        await chooser.set_files({"name": "pantalla.png", "mimeType": "image/png", "buffer": photo})
        pending = composer.get_by_test_id("pending-file").filter(has_text="pantalla.png")
        await expect(pending).to_contain_text("Listo para enviar")
        await expect(page.get_by_role("status").filter(has_text="pantalla.png subido")).to_have_count(1)
        await screenshot(page, "support-photo-composer")
        await assert_no_serious_a11y(page, "the composer with a photo ready to send")
        await composer.get_by_role("button", name="Enviar").click()

        sent = page.locator("li.message.sent", has_text=text)
        await expect(sent).to_be_visible()
        await expect(composer.get_by_test_id("pending-file")).to_have_count(0)
        thumbnail = sent.get_by_role("button", name="Ver la imagen pantalla.png")
        await expect(thumbnail.locator("img")).to_be_visible()
        assert await thumbnail.locator("img").evaluate(
            "img => img.complete && img.naturalWidth > 0 && img.naturalWidth <= 320"
        )
        assert (await thumbnail.locator("img").get_attribute("src") or "").startswith("blob:"), "fetched with the token"
        await expect(sent.get_by_test_id("read-mark")).to_have_attribute("data-read", "false")
        await expect(sent.get_by_test_id("read-mark")).to_contain_text("Enviado")
        await screenshot(page, "support-photo-sent")
        await assert_no_serious_a11y(page, "a thread with a sent photo")

        # The full image in a dialog, closed with Escape.
        await thumbnail.click()
        dialog = page.get_by_role("dialog", name="pantalla.png")
        await expect(dialog.get_by_role("img", name="pantalla.png")).to_be_visible()
        assert await dialog.get_by_role("img").evaluate("img => img.naturalWidth") == 640
        await screenshot(page, "support-photo-full")
        await assert_no_serious_a11y(page, "the full image dialog")
        await page.keyboard.press("Escape")
        await expect(page.get_by_role("dialog")).to_have_count(0)

        # Files only: a PDF dropped on the composer and a screenshot pasted into the text.
        await drop(page, composer, "informe.pdf", "application/pdf", pdf())
        await paste(
            page, page.get_by_role("textbox", name="Mensaje", exact=True), "captura.png", "image/png", png(200, 100)
        )
        for name in ("informe.pdf", "captura.png"):
            await expect(composer.get_by_test_id("pending-file").filter(has_text=name)).to_contain_text(
                "Listo para enviar"
            )
        await expect(page.get_by_role("textbox", name="Mensaje", exact=True)).to_have_value(
            ""
        )  # the paste added no text
        await composer.get_by_role("button", name="Enviar").click()
        files_only = page.locator("li.message.sent").filter(
            has=page.get_by_role("button", name=re.compile("informe.pdf"))
        )
        await expect(files_only.get_by_role("button", name="Ver la imagen captura.png")).to_be_visible()
        chip = files_only.get_by_role("button", name=re.compile(r"^Descargar informe\.pdf \d"))
        async with page.expect_download() as downloaded:
            await chip.click()
        assert (await downloaded.value).suggested_filename == "informe.pdf"
        await assert_no_serious_a11y(page, "a thread with a PDF and a pasted image")

        # Support reads the thread: the partner's message now says read, with when.
        async with web.client(await web.token(staff_email, partner_id=partner_id)) as api:
            assert (await api.post(f"/api/v1/threads/{thread_id}/read")).status_code == 200
        await page.reload()
        mark = page.locator("li.message.sent", has_text=text).get_by_test_id("read-mark")
        await expect(mark).to_have_attribute("data-read", "true")
        await expect(mark).to_contain_text("Leído")
        await expect(mark).to_have_attribute("title", re.compile("^Leído por el servicio técnico: "))

    async with web.client(await web.token(partner_email)) as api:
        messages = (await api.get(f"/api/v1/threads/{thread_id}/messages")).json()["items"]
    assert [m["body"] for m in messages] == ["", text], "each posted once"
    assert sorted(a["filename"] for a in messages[0]["attachments"]) == ["captura.png", "informe.pdf"]
    [attachment] = messages[1]["attachments"]
    assert attachment["filename"] == "pantalla.png" and attachment["has_thumbnail"] is True
    assert messages[1]["read_by_other_side_at"] is not None


async def test_a_canned_reply_previewed_and_inserted(web: Stack, browser: Browser) -> None:
    partner_id = unique("ptn")
    partner_user = unique("usr")
    partner_email = await add_user(web, partner_user, "partner", (partner_id,), language=Language.EN)
    staff_email = await add_user(web, unique("stf"), "staff", (partner_id,))
    company = f"Ferretería Núñez {uuid.uuid4().hex[:4]}"
    world = await company_thread(web, await web.token(partner_email), company)
    thread_id = world["thread_id"]
    # The partner's user writes in English: the reply is previewed in English by default.
    await post(web, await web.token(partner_email), thread_id, "Our terminal lost its session.")
    tag = uuid.uuid4().hex[:6]
    async with web.client(await web.token(staff_email, partner_id=partner_id)) as api:
        created = await api.post(
            "/api/v1/support/canned-replies",
            json={
                "title": {"es": f"Sincronización {tag}", "en": f"Synchronisation {tag}"},
                "text": {
                    "es": "Hola, {{company.name}}: borre la sesión del terminal. {{license.user}}",
                    "en": "Hello, {{company.name}}: clear the terminal's session. {{license.user}}",
                },
            },
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert created.status_code == 201, created.text

    async with new_page(browser, web.url) as page:
        await login(page, staff_email, PASSWORD)
        await open_thread(page, thread_id)
        await page.get_by_role("button", name="Respuestas guardadas").click()
        search = page.get_by_role("combobox", name="Buscar respuesta")
        await expect(search).to_be_focused()
        await search.fill(tag)
        options = page.get_by_role("listbox", name="Respuestas guardadas").get_by_role("option")
        await expect(options).to_have_count(1)
        await expect(options.first).to_have_attribute("aria-selected", "true")
        await search.press("Enter")  # chooses the active option; never sends the composer

        preview = page.get_by_test_id("canned-preview")
        await expect(page.get_by_role("radio", name="Inglés")).to_be_checked()
        await expect(page.get_by_test_id("canned-preview-language")).to_have_text(
            "Inglés: el idioma de quien escribió por última vez por el partner."
        )
        await expect(preview).to_contain_text(f"Hello, {company}: clear the terminal's session.")
        await expect(page.locator("li.message.received")).to_contain_text(f"{partner_user.title()} (Partner)")
        await page.get_by_role("radio", name="Español").check()
        await expect(page.get_by_test_id("canned-preview-language")).to_have_text("Español: el idioma elegido.")
        await expect(preview).to_contain_text(f"Hola, {company}: borre la sesión del terminal.")
        await expect(preview).to_contain_text(
            "Sin valor en este hilo (revíselo antes de enviar): {{license.user}}"
        )  # the instance has no licensed user yet
        await page.get_by_role("radio", name="Inglés").check()
        await expect(preview).to_contain_text(f"Hello, {company}: clear the terminal's session.")
        await expect(preview).to_contain_text(f"Synchronisation {tag}")
        await screenshot(page, "support-canned-preview")
        await assert_no_serious_a11y(page, "the canned reply picker with its preview")
        assert await page.locator("li.message").count() == 1, "choosing a reply sent nothing"

        await page.get_by_role("radio", name="Español").check()
        await expect(preview).to_contain_text("Hola,")
        await preview.get_by_role("button", name="Insertar").click()
        # The textbox by its role: React keeps a textarea's text content equal to its value, which a
        # label's text (get_by_label) would then include.
        field = page.get_by_role("textbox", name="Mensaje", exact=True)
        await expect(field).to_have_value(f"Hola, {company}: borre la sesión del terminal. {{{{license.user}}}}")
        await expect(field).to_be_focused()
        await field.fill(f"Hola, {company}: borre la sesión del terminal.")  # edited before sending
        await page.get_by_role("button", name="Enviar").click()
        await expect(page.locator("li.message.sent", has_text=f"Hola, {company}: borre la sesión")).to_be_visible()

        # The library: listed, created with the form, deleted after confirming.
        await page.goto("/support")
        await page.get_by_role("link", name="Respuestas guardadas").click()
        await expect(page.get_by_role("heading", name="Respuestas guardadas", level=1)).to_be_visible()
        await expect(page.get_by_role("list", name="Respuestas guardadas")).to_contain_text(f"Sincronización {tag}")
        await assert_no_serious_a11y(page, "the canned replies (staff)")
        await page.get_by_role("link", name="Nueva respuesta").click()
        form = page.get_by_role("form", name="Respuesta guardada")
        await form.get_by_role("group", name="Español").get_by_label("Título").fill(f"Caducidad {tag}")
        await (
            form.get_by_role("group", name="Español")
            .get_by_label("Texto")
            .fill("Su instancia caduca el {{instance.expiry_date}}.")
        )
        await form.get_by_role("group", name="Inglés").get_by_label("Título").fill(f"Expiry {tag}")
        await (
            form.get_by_role("group", name="Inglés")
            .get_by_label("Texto")
            .fill("Your instance expires on {{instance.expiry_date}}.")
        )
        await assert_no_serious_a11y(page, "the canned reply form")
        await form.get_by_role("button", name="Guardar").click()
        listed = page.get_by_role("list", name="Respuestas guardadas")
        await expect(listed).to_contain_text(f"Caducidad {tag}")
        await page.get_by_role("button", name=f"Eliminar Caducidad {tag}").click()
        dialog = page.get_by_role("dialog")
        await expect(dialog).to_contain_text(f"¿Eliminar «Caducidad {tag}»?")
        await assert_no_serious_a11y(page, "the delete canned reply dialog")
        await dialog.get_by_role("button", name="Eliminar").click()
        await expect(listed).not_to_contain_text(f"Caducidad {tag}")

    async with web.client(await web.token(partner_email)) as api:
        messages = (await api.get(f"/api/v1/threads/{thread_id}/messages")).json()["items"]
        assert [m["body"] for m in messages] == [
            f"Hola, {company}: borre la sesión del terminal.",
            "Our terminal lost its session.",
        ]
        assert messages[1]["author_name"] == partner_user.title()
        assert (await api.get("/api/v1/support/canned-replies")).status_code == 403, "partner users have none"


async def test_a_search_result_opened_in_its_thread(web: Stack, browser: Browser) -> None:
    partner_id = unique("ptn")
    partner_email = await add_user(web, unique("usr"), "partner", (partner_id,))
    other_email = await add_user(web, unique("usr"), "partner", (unique("ptn"),))
    token = await web.token(partner_email)
    company = f"Talleres Búsqueda {uuid.uuid4().hex[:4]}"
    world = await company_thread(web, token, company)
    other = await company_thread(web, await web.token(other_email), f"Ajena {uuid.uuid4().hex[:4]}")
    thread_id = world["thread_id"]
    tag = uuid.uuid4().hex[:6]
    wanted = await post(web, token, thread_id, f"La sincronización del terminal {tag} falla desde el lunes.")
    await post(web, await web.token(other_email), other["thread_id"], f"Otra sincronización {tag} de otro partner.")
    # Enough newer messages that the match is not on the thread's first page (the jump loads older ones).
    for n in range(25):
        await post(web, token, thread_id, f"Mensaje posterior {n}")

    async def indexed() -> bool:
        async with web.client(token) as api:
            found = await api.get("/api/v1/support/search", params={"q": f"sincronizacion {tag}"})
        return found.status_code == 200 and len(found.json()["items"]) == 1

    await eventually(indexed)

    async with new_page(browser, web.url) as page:
        await login(page, partner_email, PASSWORD)
        await page.get_by_role("link", name="Buscar en los mensajes").click()
        await expect(page.get_by_role("heading", name="Buscar en los mensajes", level=1)).to_be_visible()
        await assert_no_serious_a11y(page, "the message search, nothing asked yet")
        words = page.get_by_label("Palabras")

        await words.fill("s")
        await page.get_by_role("button", name="Buscar", exact=True).click()
        await expect(page.get_by_role("alert")).to_have_text("Escriba al menos 2 caracteres.")
        await expect(words).to_have_attribute("aria-invalid", "true")
        await assert_no_serious_a11y(page, "the message search, too short")

        await words.fill(f"nada-{tag}")
        await page.get_by_role("button", name="Buscar", exact=True).click()
        await expect(page.get_by_text("Ningún mensaje coincide con la búsqueda.")).to_be_visible()

        await words.fill(f"SINCRONIZACION {tag}")  # no accent, other case
        await page.get_by_role("button", name="Buscar", exact=True).click()
        hits = page.get_by_test_id("search-hit")
        await expect(hits).to_have_count(1)  # the other partner's message is not found
        hit = hits.first
        await expect(hit).to_contain_text(company)
        marks = hit.locator("mark")
        await expect(marks.first).to_have_text(re.compile("^sincronización$", re.IGNORECASE))
        assert tag in await marks.all_inner_texts()
        assert await hit.locator(".support-hit-snippet").evaluate("p => p.querySelectorAll('*:not(mark)').length") == 0
        await expect(page).to_have_url(re.compile(r"/support/search\?q=SINCRONIZACION"))
        await screenshot(page, "support-search-results")
        await assert_no_serious_a11y(page, "the message search with a result")

        await hit.get_by_role("link", name=f"Abrir en el hilo de {company}").click()
        await expect(page).to_have_url(re.compile(f"/support/threads/{thread_id}\\?message={wanted['id']}$"))
        target = page.locator(f"#message-{wanted['id']}")
        await expect(target).to_have_class(re.compile(r"\bhighlighted\b"))
        await expect(target).to_be_in_viewport()
        await expect(target).to_be_focused()
        await expect(page.locator("li.message")).to_have_count(26)  # the older page was loaded to reach it
        await screenshot(page, "support-search-opened")
        await assert_no_serious_a11y(page, "a thread opened at a search result")

        await page.go_back()
        await expect(page.get_by_label("Palabras")).to_have_value(f"SINCRONIZACION {tag}")
        await expect(page.get_by_test_id("search-hit")).to_have_count(1)
