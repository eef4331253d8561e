"""The contract's documents render the names partners type in any script, against the real FerretDB.

The PDF's text is read back with pypdf, as a reader's copy and search would: every script comes out
as written (right-to-left text in its logical order), never as `?`, with the vendor's contact and
e-mail on it. The HTML keeps the name and isolates its direction.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from pypdf import PdfReader

from instances.bootstrap import build_app
from instances.config import Settings
from servicekit.settings import PlatformSettings

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
) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        mongo_database=database_name,
        consumer_group=f"instances-{uuid.uuid4().hex[:8]}",
        outbox_scan_seconds=0.2,
        vendor_contact="Mesa de partners",
        vendor_email="contratos@vendor.example",
        platform=platform,
    )
    app: FastAPI = build_app(settings)
    async with LifespanManager(app, startup_timeout=60):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://instances",
            headers={"Authorization": f"Bearer {token_for(PARTNER, user_id='usr-docs')}"},
        ) as http:
            yield http


async def ok(response: httpx.Response, expected: int = 200) -> dict[str, Any]:
    assert response.status_code == expected, response.text
    body: dict[str, Any] = response.json()
    return body


async def provisioned_for(client: httpx.AsyncClient, name: str, contact: str = "Lucía López") -> str:
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
                "configuration": {"profile": "professional", "terminal_quota": 5},
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
async def test_the_contract_pdf_has_the_customer_name_as_written(client: httpx.AsyncClient, name: str) -> None:
    instance_id = await provisioned_for(client, name)
    response = await client.get(f"/v1/provisionings/{instance_id}/contract.pdf")
    assert response.status_code == 200
    text = pdf_text(response.content)
    assert name in text.splitlines(), text
    assert "?" not in text, "no character replaced by a question mark"


async def test_the_contract_pdf_names_the_vendor_contact_and_email(client: httpx.AsyncClient) -> None:
    instance_id = await provisioned_for(client, "Transportes López S.L.", contact="Ελένη Παπαδοπούλου")
    text = pdf_text((await client.get(f"/v1/provisionings/{instance_id}/contract.pdf")).content)
    assert "Contact: Mesa de partners <contratos@vendor.example>" in text
    assert "Contact: Ελένη Παπαδοπούλου <lucia@example.com>" in text
    contract = await ok(await client.get(f"/v1/provisionings/{instance_id}/contract"))
    assert contract["vendor"]["contact"] == "Mesa de partners"
    assert contract["vendor"]["email"] == "contratos@vendor.example"


async def test_the_contract_html_keeps_the_name_and_isolates_its_direction(client: httpx.AsyncClient) -> None:
    name = NAMES["the issue's name"]
    instance_id = await provisioned_for(client, name)
    response = await client.get(f"/v1/provisionings/{instance_id}/contract.html")
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert '<meta charset="utf-8">' in response.text
    assert f'<bdi dir="auto">{name}</bdi>' in response.text
