"""One language per reader, through the gateway: the system notes a license revocation and a
cancellation request leave in the company's thread read in Spanish for a Spanish reader and in
English for an English one (Accept-Language, else the user's profile language), and the web app
in Spanish shows them in Spanish, its navigation named in Spanish too."""

from __future__ import annotations

import html
import io
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect
from pypdf import PdfReader

from contracts.serials import canonical_serial
from servicekit.testing import eventually

from .browser import chromium, login, new_page
from .conftest import PASSWORD, Stack, add_user, new_company, provisioned_instance, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]


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


async def thread_with_notes(stack: Stack, token: str, company: str) -> dict[str, Any]:
    """A company with a generated instance and one license; the license revoked and the
    instance's cancellation requested: two system notes in the company's thread."""
    async with stack.client(token) as api:
        company_id = await new_company(api, company)
        instance_id = await provisioned_instance(api, company_id)
        serial = unique("sr")  # given in lower case: notes name the canonical form
        added = await api.post(
            f"/api/v1/instances/{instance_id}/licenses",
            json={"licenses": [{"user_name": "Ana", "email": "ana@example.com", "pin": "4821", "serial": serial}]},
        )
        assert added.status_code == 201, added.text
        (license_id,) = added.json()["license_ids"]
        revoked = await api.post(
            f"/api/v1/instances/{instance_id}/licenses/{license_id}/revoke", json={"reason": "Ha dejado la empresa"}
        )
        assert revoked.status_code == 200, revoked.text
        cancelled = await api.post(
            f"/api/v1/instances/{instance_id}/cancellation-request", json={"reason": "Fin de temporada"}
        )
        assert cancelled.status_code == 200, cancelled.text
        thread_id = f"thr-{company_id}"

        async def two_notes() -> bool:
            found = await api.get(f"/api/v1/threads/{thread_id}/messages")
            return found.status_code == 200 and len(found.json()["items"]) >= 2

        await eventually(two_notes)
    # Notes name the terminal by its canonical serial, whatever letter case the license was given.
    return {
        "thread_id": thread_id,
        "instance_id": instance_id,
        "license_id": license_id,
        "serial": canonical_serial(serial),
    }


def expected(world: dict[str, Any]) -> dict[str, list[str]]:
    instance_id, license_id, serial = world["instance_id"], world["license_id"], world["serial"]
    texts = {
        "es": [
            f"Se ha solicitado la cancelación de la instancia {instance_id}. Motivo: Fin de temporada",
            f"Se ha revocado la licencia {license_id} (PIN 4821, terminal {serial}). Motivo: Ha dejado la empresa",
        ],
        "en": [
            f"Cancellation requested for instance {instance_id}. Reason: Fin de temporada",
            f"License {license_id} (PIN 4821, terminal {serial}) was revoked. Reason: Ha dejado la empresa",
        ],
    }
    return {language: sorted(notes) for language, notes in texts.items()}


async def test_notes_read_in_the_readers_language_through_the_gateway(web: Stack) -> None:
    partner_id = unique("ptn")
    email = await add_user(web, unique("usr"), "partner", (partner_id,))
    token = await web.token(email)
    world = await thread_with_notes(web, token, f"Frutas {uuid.uuid4().hex[:4]}")
    texts = expected(world)
    messages = f"/api/v1/threads/{world['thread_id']}/messages"
    async with web.client(token) as api:
        for header, language in (("es-ES,es;q=0.9", "es"), ("en", "en"), ("en-GB,en;q=0.9,es;q=0.4", "en")):
            items = (await api.get(messages, headers={"Accept-Language": header})).json()["items"]
            # The two events come from two topics: the notes may be in either order.
            assert sorted(m["text"] for m in items) == texts[language], header
            assert sorted(m["body"] for m in items) == texts[language], header
            assert sorted(m["note"]["code"] for m in items) == ["cancellation_requested", "license_revoked_on_terminal"]
            thread = (
                await api.get(f"/api/v1/threads/{world['thread_id']}", headers={"Accept-Language": header})
            ).json()
            assert thread["last_message"]["preview"] in texts[language]
            composed = await api.get(f"/api/v1/views/threads/{world['thread_id']}", headers={"Accept-Language": header})
            assert composed.json()["thread"]["last_message"]["preview"] in texts[language], "the gateway's own view too"

        # No Accept-Language (an API client): the user's profile language, Spanish by default.
        assert sorted(m["text"] for m in (await api.get(messages)).json()["items"]) == texts["es"]
        assert (await api.patch("/api/v1/profile", json={"language": "en"})).status_code == 200
        assert sorted(m["text"] for m in (await api.get(messages)).json()["items"]) == texts["en"]
        spanish = await api.get(messages, headers={"Accept-Language": "es"})
        assert sorted(m["text"] for m in spanish.json()["items"]) == texts["es"], "the header wins over the profile"

        # Problem titles follow the reader's language as well.
        missing = await api.get("/api/v1/threads/thr-nowhere", headers={"Accept-Language": "es"})
        assert (missing.status_code, missing.json()["title"]) == (404, "No encontrado")
        missing = await api.get("/api/v1/threads/thr-nowhere", headers={"Accept-Language": "en"})
        assert (missing.status_code, missing.json()["title"]) == (404, "Not found")


async def test_the_spanish_web_app_shows_the_notes_in_spanish(web: Stack, browser: Browser) -> None:
    partner_id = unique("ptn")
    email = await add_user(web, unique("usr"), "partner", (partner_id,))
    company = f"Talleres {uuid.uuid4().hex[:4]}"
    world = await thread_with_notes(web, await web.token(email), company)
    texts = expected(world)

    async with new_page(browser, web.url) as page:
        requests: list[str | None] = []
        page.on(
            "request",
            lambda r: requests.append(r.headers.get("accept-language")) if "/api/v1/threads" in r.url else None,
        )
        await login(page, email, PASSWORD)
        nav = page.get_by_role("navigation", name="Secciones")
        await expect(nav).to_be_visible()
        row = page.get_by_role("link", name=re.compile(re.escape(company)))
        await expect(row).to_contain_text("Se ha ")  # the last note's preview: "Se ha revocado…" or "Se ha solicitado…"
        await row.click()
        notes = page.locator(".message.system .message-body")
        await expect(notes).to_have_count(2)
        for text in texts["es"]:
            await expect(page.get_by_text(text, exact=True)).to_be_visible()
        await expect(page.get_by_text("was revoked")).to_have_count(0)
        assert requests and all(header == "es" for header in requests), requests

        # Switching the UI to English rewords the notes at once, from their codes.
        await nav.get_by_role("link", name="Perfil").click()
        await page.get_by_label("Idioma").select_option("en")
        await expect(page.get_by_role("navigation", name="Sections")).to_be_visible()
        await page.go_back()
        for text in texts["en"]:
            await expect(page.get_by_text(text, exact=True)).to_be_visible()


def pdf_text(document: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(document)).pages)


async def provisioned(stack: Stack, token: str) -> str:
    """A company's provisioning with its contract issued: the id of the provisioning."""
    async with stack.client(token) as api:
        company_id = await new_company(api, f"Conservas {uuid.uuid4().hex[:4]}")
        instance_id = await provisioned_instance(api, company_id, generate=False)
    return instance_id


CONTRACT_READS = {
    "es": ("Contrato de servicio", "Producto, duración y precio", "Condiciones", "1. Objeto."),
    "en": ("Service contract", "Product, term and price", "Terms", "1. Object."),
}


def contract_language(kind: str, response: Any) -> str:
    """Which language the contract document reads in (and that it reads in one only)."""
    assert response.status_code == 200, response.text
    text = pdf_text(response.content) if kind == "pdf" else html.unescape(response.text)
    found = [language for language, reads in CONTRACT_READS.items() if all(r in text for r in reads)]
    assert len(found) == 1, text
    if kind == "html":
        assert f'<html lang="{found[0]}">' in text
    return found[0]


@pytest.mark.parametrize("kind", ["html", "pdf"])
async def test_the_contract_reads_in_the_readers_language_through_the_gateway(web: Stack, kind: str) -> None:
    email = await add_user(web, unique("usr"), "partner", (unique("ptn"),))
    token = await web.token(email)
    instance_id = await provisioned(web, token)
    url = f"/api/v1/provisionings/{instance_id}/contract.{kind}"
    async with web.client(token) as api:
        for headers, params, language in (
            ({"Accept-Language": "es-ES,es;q=0.9"}, {}, "es"),
            ({"Accept-Language": "en-GB,en;q=0.9"}, {}, "en"),
            ({"Accept-Language": "es"}, {"lang": "en"}, "en"),  # a shared link names its language
            ({"Accept-Language": "en"}, {"lang": "es"}, "es"),
            ({}, {}, "es"),  # no header: the profile's language, Spanish by default
        ):
            assert contract_language(kind, await api.get(url, headers=headers, params=params)) == language, headers
        assert (await api.patch("/api/v1/profile", json={"language": "en"})).status_code == 200
        assert contract_language(kind, await api.get(url)) == "en", "the profile's language"
        assert contract_language(kind, await api.get(url, params={"lang": "es"})) == "es", "?lang over the profile"
        data = (await api.get(f"/api/v1/provisionings/{instance_id}/contract")).json()
        assert data["terms"].startswith("1. Object."), "the contract as data too"


def hardware_language(response: Any) -> str:
    assert response.status_code == 200, response.text
    text = pdf_text(response.content)
    found = [language for language, heading in (("es", "Fabricante"), ("en", "Maker")) if heading in text]
    assert len(found) == 1, text
    return found[0]


async def test_the_hardware_pdf_follows_the_reader_through_the_gateway(web: Stack) -> None:
    email = await add_user(web, unique("usr"), "partner", (unique("ptn"),))
    token = await web.token(email)
    url = "/api/v1/hardware.pdf"
    params = {"maker": "Zebra"}
    async with web.client() as anonymous:
        assert hardware_language(await anonymous.get(url, params=params)) == "es"
        assert hardware_language(await anonymous.get(url, params=params, headers={"Accept-Language": "en"})) == "en"
        english = {**params, "lang": "en"}
        assert hardware_language(await anonymous.get(url, params=english, headers={"Accept-Language": "es"})) == "en"
        stale = {"Authorization": "Bearer not-a-token"}
        assert hardware_language(await anonymous.get(url, params=params, headers=stale)) == "es", "public: still 200"
    async with web.client(token) as api:
        assert (await api.patch("/api/v1/profile", json={"language": "en"})).status_code == 200
        assert hardware_language(await api.get(url, params=params)) == "en", "the profile's language"
        assert hardware_language(await api.get(url, params=params, headers={"Accept-Language": "es"})) == "es"
        assert hardware_language(await api.get(url, params={**params, "lang": "es"})) == "es"


# Field messages our own code writes, through the gateway, over the services' routes: (method,
# path, body, the field, its Spanish and English message; "…" ends a message that goes on with a list).
FIELD_MESSAGES = {
    "support: an empty message": (
        "POST",
        "/api/v1/threads/thr-nowhere/messages",
        {"body": "   "},
        "body",
        "el mensaje está vacío",
        "the message is empty",
    ),
    "support: a control character": (
        "POST",
        "/api/v1/threads/thr-nowhere/messages",
        {"body": "hola\u0007"},
        "body",
        "no se admiten caracteres de control",
        "control characters are not allowed",
    ),
    "every service: a NUL (U+0000), which no store keeps": (
        "POST",
        "/api/v1/threads/thr-nowhere/messages",
        {"body": "hola\u0000"},
        "body",
        "no puede contener el carácter NUL (U+0000)",
        "must not contain the NUL character (U+0000)",
    ),
    "activity: neither serial nor pin": (
        "GET",
        "/api/v1/activity/records",
        None,
        "serial",
        "indica el número de serie o el PIN, uno solo",
        "exactly one of serial or pin",
    ),
    "activity: an inverted window": (
        "GET",
        "/api/v1/activity/records?serial=SR-1&from=2026-02-02T00:00:00Z&to=2026-02-01T00:00:00Z",
        None,
        "from",
        "from debe ser anterior a to",
        "from must be before to",
    ),
    "instances: another type's configuration": (
        "POST",
        "/api/v1/provisionings",
        {"company_id": "{company}", "type": "WDS", "name": "Taller", "configuration": {"type": "MCRM"}},
        "configuration.type",
        "debe ser WDS",
        "must be WDS",
    ),
    "instances: an unknown time zone": (
        "POST",
        "/api/v1/provisionings",
        {
            "company_id": "{company}",
            "type": "WDS",
            "name": "Taller",
            "configuration": {"work_calendar": {"timezone": "Mars/Olympus"}},
        },
        "configuration.work_calendar.timezone",
        "zona horaria desconocida: 'Mars/Olympus'",
        "unknown time zone 'Mars/Olympus'",
    ),
    "instances: an unknown sort": (
        "GET",
        "/api/v1/instances?sort=price",
        None,
        "sort",
        "no se puede ordenar por 'price'; elige entre …",
        "cannot sort by 'price'; choose from …",
    ),
    "instances: null on a required field (merge patch)": (
        "PATCH",
        "/api/v1/companies/{company}",
        {"name": None},
        "name",
        "no puede ser null: name es obligatorio",
        "must not be null: name is required",
    ),
    "reports: an unknown sort": (
        "GET",
        "/api/v1/reports/instances?sort=price",
        None,
        "sort",
        "no se puede ordenar por 'price'; elige entre …",
        "cannot sort by 'price'; choose from …",
    ),
    "reports: half a period": (
        "GET",
        "/api/v1/reports/instances?activated_from=2026-01-01",
        None,
        "activated_to",
        "activated_from y activated_to van juntos",
        "activated_from and activated_to go together",
    ),
    "servicekit: a forged cursor": (
        "GET",
        "/api/v1/instances?cursor=forged",
        None,
        "cursor",
        "el cursor no es uno de los que devuelve esta API",
        "the cursor is not one this API returned",
    ),
    "gateway: an unknown hardware feature": (
        "GET",
        "/api/v1/hardware?feature=teleport",
        None,
        "feature",
        "Característica desconocida 'teleport'; usa una de: …",
        "Unknown feature 'teleport'; use one of: …",
    ),
    "gateway: a push key that is not base64url": (
        "POST",
        "/api/v1/push/subscriptions",
        {"endpoint": "https://fcm.googleapis.com/fcm/send/x", "keys": {"p256dh": "@@@", "auth": "A" * 22}},
        "keys.p256dh",
        "no está en base64url",
        "not base64url",
    ),
    "support: another partner's threads (403)": (
        "GET",
        "/api/v1/threads?partner_id=ptn-someone-else",
        None,
        "partner_id",
        "El partner ptn-someone-else no es uno de los tuyos.",
        "Partner ptn-someone-else is not one of yours.",
    ),
    "reports: another partner's instances (403)": (
        "GET",
        "/api/v1/reports/instances?partner_id=ptn-someone-else",
        None,
        "partner_id",
        "El partner ptn-someone-else no es uno de los tuyos.",
        "Partner ptn-someone-else is not one of yours.",
    ),
    "gateway: a push endpoint over http": (
        "POST",
        "/api/v1/push/subscriptions",
        {"endpoint": "http://fcm.googleapis.com/fcm/send/x", "keys": {"p256dh": "x", "auth": "y"}},
        "endpoint",
        "debe ser una URL https",
        "must be an https URL",
    ),
}


def _fill(value: Any, company: str) -> Any:
    if isinstance(value, dict):
        return {key: _fill(item, company) for key, item in value.items()}
    return value.replace("{company}", company) if isinstance(value, str) else value


def _reads(message: str, expected: str) -> bool:
    return message.startswith(expected[:-1]) if expected.endswith("…") else message == expected


@pytest.mark.parametrize(
    ("method", "path", "body", "field", "spanish", "english"), FIELD_MESSAGES.values(), ids=FIELD_MESSAGES.keys()
)
async def test_our_field_messages_read_in_the_readers_language(
    web: Stack, method: str, path: str, body: Any, field: str, spanish: str, english: str
) -> None:
    email = await add_user(web, unique("usr"), "partner", (unique("ptn"),))
    token = await web.token(email)
    async with web.client(token) as api:
        company = await new_company(api, f"Quesos {uuid.uuid4().hex[:4]}")
        url, json_body = path.replace("{company}", company), _fill(body, company)
        for headers, expected in (({"Accept-Language": "es-ES"}, spanish), ({"Accept-Language": "en"}, english)):
            refused = await api.request(method, url, json=json_body, headers=headers)
            assert refused.status_code in (403, 422), refused.text
            problem = refused.json()
            messages = {e["field"]: e["message"] for e in problem["errors"]}
            assert field in messages, problem
            assert _reads(messages[field], expected), (messages[field], expected)
            assert not {"code", "params"} & set(problem["errors"][0]), "how it is worded is not part of the answer"
        # No header: the profile's language (Spanish by default) on the forwarded routes.
        fallback = await api.request(method, url, json=json_body)
        messages = {e["field"]: e["message"] for e in fallback.json()["errors"]}
        assert _reads(messages[field], spanish), messages
