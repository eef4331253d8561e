"""The contract's documents render the names partners type in any script, against the real FerretDB.

The PDF's text is read back with pypdf, as a reader's copy and search would: every script comes out
as written (right-to-left text in its logical order), never as `?`, with the vendor's contact and
e-mail on it. The HTML keeps the name and isolates its direction.
"""

from __future__ import annotations

import html
import io
import uuid
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI
from pymongo import AsyncMongoClient
from pypdf import PdfReader

from instances.bootstrap import build_app
from instances.config import Settings
from servicekit.outbox import PENDING_FIELD
from servicekit.settings import PlatformSettings
from servicekit.testing import eventually, started

pytestmark = pytest.mark.integration

PARTNER = "ptn-docs"
NAMES = {
    "the issue's name": "شركة النقل 🚚 Łódź Ελληνικά עברית",
    "Arabic": "شركة النقل السريع",
    "Hebrew": "עברית",
    "Greek": "Ελληνική Εταιρεία Μεταφορών",
    "Polish": "Zażółć gęślą jaźń Łódź",
    "CJK": "东京物流株式会社 한국운송",
    "emoji": "Fast 🚚📦 Delivery",
    "Cyrillic": "Транспортная компания Привет",
}


@pytest.fixture
async def client(
    platform: PlatformSettings, database_name: str, token_for: Callable[..., str]
) -> AsyncIterator[httpx2.AsyncClient]:
    settings = Settings(
        mongo_database=database_name,
        consumer_group=f"instances-{uuid.uuid4().hex[:8]}",
        outbox_scan_seconds=0.2,
        vendor_contact="Mesa de partners",
        vendor_email="contratos@vendor.example",
        platform=platform,
    )
    app: FastAPI = build_app(settings)
    async with started(app):
        async with httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app),
            base_url="http://instances",
            headers={"Authorization": f"Bearer {token_for(PARTNER, user_id='usr-docs')}"},
        ) as http:
            yield http


async def ok(response: httpx2.Response, expected: int = 200) -> dict[str, Any]:
    assert response.status_code == expected, response.text
    body: dict[str, Any] = response.json()
    return body


async def provisioned_for(client: httpx2.AsyncClient, name: str, contact: str = "Lucía López", quota: int = 5) -> str:
    company = await ok(
        await client.post(
            "/v1/companies",
            json={
                "name": name,
                "tax_id": f"B{uuid.uuid4().int % 10**8:08d}",
                "address": {"street": "Calle Mayor 1", "city": "Madrid", "postal_code": "28013", "province": "Madrid"},
                "contact_person": contact,
                "email": "lucia@example.com",
                "phone": "+34 910 000 000",
            },
        ),
        201,
    )
    draft = await ok(
        await client.post(
            "/v1/provisionings",
            json={
                "company_id": company["id"],
                "type": "WDS",
                "name": "Warehouse",
                "term_months": 12,
                "configuration": {"profile": "professional", "terminal_quota": quota},
            },
        ),
        201,
    )
    await ok(await client.post(f"/v1/provisionings/{draft['id']}/provision"))
    instance_id: str = draft["id"]
    return instance_id


def pdf_text(document: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(document)).pages)


@pytest.mark.parametrize("name", NAMES.values(), ids=NAMES.keys())
async def test_the_contract_pdf_has_the_customer_name_as_written(client: httpx2.AsyncClient, name: str) -> None:
    instance_id = await provisioned_for(client, name)
    response = await client.get(f"/v1/provisionings/{instance_id}/contract.pdf")
    assert response.status_code == 200
    text = pdf_text(response.content)
    assert name in text.splitlines(), text
    assert "?" not in text, "no character replaced by a question mark"


async def test_the_contract_pdf_names_the_vendor_contact_and_email(client: httpx2.AsyncClient) -> None:
    instance_id = await provisioned_for(client, "Transportes López S.L.", contact="Ελένη Παπαδοπούλου")
    url = f"/v1/provisionings/{instance_id}/contract.pdf"
    text = pdf_text((await client.get(url, headers={"Accept-Language": "en"})).content)
    assert "Contact: Mesa de partners <contratos@vendor.example>" in text
    assert "Contact: Ελένη Παπαδοπούλου <lucia@example.com>" in text
    text = pdf_text((await client.get(url)).content)
    assert "Contacto: Mesa de partners <contratos@vendor.example>" in text, "Spanish by default"
    contract = await ok(await client.get(f"/v1/provisionings/{instance_id}/contract"))
    assert contract["vendor"]["contact"] == "Mesa de partners"
    assert contract["vendor"]["email"] == "contratos@vendor.example"


async def test_the_contract_html_keeps_the_name_and_isolates_its_direction(client: httpx2.AsyncClient) -> None:
    name = NAMES["the issue's name"]
    instance_id = await provisioned_for(client, name)
    response = await client.get(f"/v1/provisionings/{instance_id}/contract.html")
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert '<meta charset="utf-8">' in response.text
    assert f'<bdi dir="auto">{name}</bdi>' in response.text


# What a reader of each language reads on the contract: headings, labels, amounts and the terms.
READS: dict[str, list[str]] = {
    "es": [
        "Contrato de servicio C-",
        "Proveedor",
        "Cliente",
        "NIF: B",
        "Contacto: Lucía López <lucia@example.com>",
        "Producto, duración y precio",
        "12 meses desde la activación",
        "Precio por licencia y mes",
        "Total del contrato",
        "Condiciones",
        "1. Objeto. El proveedor concede al cliente",
    ],
    "en": [
        "Service contract C-",
        "Vendor",
        "Customer",
        "Tax id: B",
        "Contact: Lucía López <lucia@example.com>",
        "Product, term and price",
        "12 months from activation",
        "Price per seat and month",
        "Total for the term",
        "Terms",
        "1. Object. The vendor grants the customer",
    ],
}
NOT_READ = {"es": ["Service contract", "Price per seat", "months from activation", "Tax id"], "en": ["Contrato", "NIF"]}
# (Accept-Language, ?lang, the language read): the query wins, for a link to share.
CHOICES = [
    (None, None, "es"),
    ("es-ES,es;q=0.9", None, "es"),
    ("en-GB,en;q=0.9", None, "en"),
    ("es", "en", "en"),
    ("en", "es", "es"),
]


def _text(response: httpx2.Response, kind: str) -> str:
    assert response.status_code == 200, response.text
    return pdf_text(response.content) if kind == "pdf" else html.unescape(response.text)


@pytest.mark.parametrize("kind", ["html", "pdf"])
@pytest.mark.parametrize(("header", "lang", "language"), CHOICES)
async def test_the_contract_reads_in_the_readers_language(
    client: httpx2.AsyncClient, kind: str, header: str | None, lang: str | None, language: str
) -> None:
    instance_id = await provisioned_for(client, "Transportes López S.L.")
    response = await client.get(
        f"/v1/provisionings/{instance_id}/contract.{kind}",
        headers={"Accept-Language": header} if header else {},
        params={"lang": lang} if lang else {},
    )
    text = _text(response, kind)
    for expected in READS[language]:
        assert expected in text, (expected, text)
    for foreign in NOT_READ[language]:
        assert foreign not in text, (foreign, text)
    if kind == "html":
        assert f'<html lang="{language}">' in text


async def test_the_contract_amounts_follow_the_language(client: httpx2.AsyncClient) -> None:
    instance_id = await provisioned_for(client, "Transportes López S.L.", quota=100)
    contract = await ok(await client.get(f"/v1/provisionings/{instance_id}/contract"))
    total = Decimal(contract["term_total"])
    assert total >= 1000, "the example needs a thousands separator"
    url = f"/v1/provisionings/{instance_id}/contract.pdf"
    spanish = pdf_text((await client.get(url, params={"lang": "es"})).content)
    english = pdf_text((await client.get(url, params={"lang": "en"})).content)
    assert f"{total:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".") + " EUR" in spanish
    assert f"{total:,.2f} EUR" in english


async def test_the_contract_as_data_has_the_terms_in_the_readers_language(client: httpx2.AsyncClient) -> None:
    instance_id = await provisioned_for(client, "Transportes López S.L.")
    url = f"/v1/provisionings/{instance_id}/contract"
    assert (await ok(await client.get(url)))["terms"].startswith("1. Objeto.")
    assert (await ok(await client.get(url, headers={"Accept-Language": "en"})))["terms"].startswith("1. Object.")


async def test_a_bad_lang_is_a_422_naming_it(client: httpx2.AsyncClient) -> None:
    instance_id = await provisioned_for(client, "Transportes López S.L.")
    response = await client.get(f"/v1/provisionings/{instance_id}/contract.pdf", params={"lang": "fr"})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["lang"]


async def test_a_contract_issued_with_one_text_keeps_it_for_every_reader(
    client: httpx2.AsyncClient, mongo: AsyncMongoClient[dict[str, Any]], database_name: str
) -> None:
    """A contract stored before its terms came in two languages: the legal text stays as issued."""
    instance_id = await provisioned_for(client, "Transportes López S.L.")
    issued = "1. Object. The terms as they were signed."
    instances = mongo[database_name]["instances"]

    async def relayed() -> bool:
        document = await instances.find_one({"_id": instance_id})
        return bool(document) and not document.get(PENDING_FIELD)

    await eventually(relayed)  # the relay's own write of the document would race with ours
    stored = await instances.update_one(
        {"_id": instance_id}, {"$set": {"contract.terms": issued}, "$inc": {"version": 1}}
    )
    assert stored.matched_count == 1
    for language in ("es", "en"):
        headers = {"Accept-Language": language}
        assert (await ok(await client.get(f"/v1/provisionings/{instance_id}/contract", headers=headers)))[
            "terms"
        ] == issued
        text = _text(await client.get(f"/v1/provisionings/{instance_id}/contract.pdf", headers=headers), "pdf")
        assert "The terms as they were signed." in text
    spanish = _text(await client.get(f"/v1/provisionings/{instance_id}/contract.html"), "html")
    assert "Condiciones" in spanish and issued in spanish, "the labels still follow the reader"
