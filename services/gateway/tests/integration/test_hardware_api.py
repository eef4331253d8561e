"""The hardware compatibility list over HTTP (R-60): the router mounted on a small app with the problem
handlers, the packaged list behind it. JSON with filters and bilingual labels, 422 problems naming the
bad field, the PDF as an attachment with the same filters, and no sign-in needed (no Kafka or FerretDB)."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI
from pypdf import PdfReader

from gateway.adapters.hardware_catalogue import HardwareCatalogue
from gateway.domain.hardware import Feature, Support, version_key
from gateway.entrypoints import hardware
from gateway.service_layer.queries import GatewayQueries
from gateway.service_layer.testing import use_cases
from servicekit.api import provide_on
from servicekit.problems import PROBLEM_MEDIA_TYPE, install_problem_handlers

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def catalogue() -> HardwareCatalogue:
    return HardwareCatalogue.load()


@pytest.fixture
def app(catalogue: HardwareCatalogue) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(hardware.api)
    provide_on(app, GatewayQueries, use_cases(catalogue=catalogue).queries)
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://gateway") as client:
        yield client


def pdf_text(document: bytes) -> str:
    """The text a reader gets out of the document, as copy and search would."""
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(document)).pages)


def assert_problem(response: httpx2.Response, field: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body: dict[str, Any] = response.json()
    assert body["type"] == "urn:partnerapp:problem:validation"
    assert [e["field"] for e in body["errors"]] == [field]
    return body


# ------------------------------------------------------------------------------------- JSON


async def test_the_whole_list_with_bilingual_labels_and_no_sign_in(
    client: httpx2.AsyncClient, catalogue: HardwareCatalogue
) -> None:
    response = await client.get("/api/v1/hardware")  # no Authorization header: public information
    assert response.status_code == 200
    body = response.json()
    assert body["updated"] == catalogue.compatibility.updated.isoformat()
    assert body["version"] == catalogue.compatibility.version
    assert body["total"] == len(body["items"]) == len(catalogue.compatibility.terminals)
    assert [f["key"] for f in body["features"]] == [f.value for f in Feature]
    scanner = body["features"][0]["labels"]
    assert scanner == {"en": "Barcode scanner", "es": "Lector de códigos de barras"}
    assert [s["key"] for s in body["support_levels"]] == [s.value for s in Support]
    assert set(body["makers"]) == {"Apple", "Datalogic", "Honeywell", "Samsung", "Sunmi", "Urovo", "Zebra"}
    first = body["items"][0]
    assert set(first) == {"id", "maker", "model", "os", "os_label", "os_versions", "tested_app_version", "features"}
    assert set(first["features"]) == {f.value for f in Feature}
    assert set(first["features"]["nfc"]) == {"support", "note"}


async def test_filters(client: httpx2.AsyncClient) -> None:
    async def items(**params: Any) -> list[dict[str, Any]]:
        response = await client.get("/api/v1/hardware", params=params)
        assert response.status_code == 200, response.text
        result: list[dict[str, Any]] = response.json()["items"]
        return result

    zebra = await items(maker="zebra")
    assert zebra and {t["maker"] for t in zebra} == {"Zebra"}
    assert [t["model"] for t in await items(model="TC53")] == ["TC53"]
    ios = await items(os="ios")
    assert ios and {(t["maker"], t["os_label"]) for t in ios} == {("Apple", "iOS")}
    assert {t["model"] for t in await items(q="XCover")} == {"Galaxy XCover6 Pro", "Galaxy XCover7"}
    scanning = await items(feature=["barcode_scanner", "nfc"], os="android")
    assert scanning
    assert all(t["features"][f]["support"] == "supported" for t in scanning for f in ("barcode_scanner", "nfc"))
    assert await items(maker="Zebra", os="ios") == []


async def test_sort(client: httpx2.AsyncClient) -> None:
    response = await client.get("/api/v1/hardware", params={"sort": "-os_version"})
    latest = [version_key(t["os_versions"][-1]) for t in response.json()["items"]]
    assert latest == sorted(latest, reverse=True)
    response = await client.get("/api/v1/hardware", params={"sort": "model"})
    models = [t["model"].casefold() for t in response.json()["items"]]
    assert models == sorted(models)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"feature": "teleport"}, "feature"),
        ({"feature": ["nfc", "x-ray"]}, "feature"),
        ({"sort": "price"}, "sort"),
        ({"os": "windows"}, "os"),
        ({"maker": "z" * 101}, "maker"),
        ({"q": "z" * 101}, "q"),
    ],
)
async def test_bad_filters_are_422_problems_naming_the_field(
    client: httpx2.AsyncClient, params: dict[str, Any], field: str
) -> None:
    body = assert_problem(await client.get("/api/v1/hardware", params=params), field)
    assert body["instance"] == "/api/v1/hardware"
    assert_problem(await client.get("/api/v1/hardware.pdf", params=params), field)


async def test_an_unknown_feature_problem_lists_the_known_ones(client: httpx2.AsyncClient) -> None:
    english = {"Accept-Language": "en"}
    body = assert_problem(
        await client.get("/api/v1/hardware", params={"feature": "teleport"}, headers=english), "feature"
    )
    assert "teleport" in body["detail"] and "barcode_scanner" in body["detail"]
    assert body["errors"][0]["message"] == body["detail"]
    spanish = assert_problem(await client.get("/api/v1/hardware", params={"feature": "teleport"}), "feature")
    assert spanish["detail"] == body["detail"], "detail stays English"
    assert spanish["errors"][0]["message"].startswith(
        "Característica desconocida 'teleport'; usa una de: barcode_scanner"
    )


# ------------------------------------------------------------------------------------- PDF


async def test_the_pdf_is_an_attachment_with_the_filtered_terminals(client: httpx2.AsyncClient) -> None:
    response = await client.get(
        "/api/v1/hardware.pdf", params={"maker": "Honeywell", "feature": "nfc"}, headers={"Accept-Language": "en"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == 'attachment; filename="hardware-compatibility.pdf"'
    assert response.content.startswith(b"%PDF")
    text = pdf_text(response.content)
    assert "Honeywell" in text and "CT45 XP" in text
    assert not any(other in text for other in ("Zebra", "Apple", "Samsung", "Datalogic", "Urovo", "Sunmi"))
    assert "Filters: maker = Honeywell; supports NFC" in text


async def test_the_whole_pdf_names_every_maker(client: httpx2.AsyncClient) -> None:
    response = await client.get("/api/v1/hardware.pdf")
    text = pdf_text(response.content)
    assert all(m in text for m in ("Apple", "Datalogic", "Honeywell", "Samsung", "Sunmi", "Urovo", "Zebra"))
    assert len(re.findall(rb"/Type /Page\b(?!s)", response.content)) >= 1


async def test_the_pdf_in_spanish_and_an_unknown_language(client: httpx2.AsyncClient) -> None:
    response = await client.get("/api/v1/hardware.pdf", params={"lang": "es", "os": "ios"})
    assert response.status_code == 200
    assert "Fabricante" in pdf_text(response.content)
    assert_problem(await client.get("/api/v1/hardware.pdf", params={"lang": "fr"}), "lang")


# (Accept-Language, ?lang, what the document reads like): the query wins; no header is Spanish.
PDF_LANGUAGES = [
    (None, None, "Fabricante"),
    ("es-ES,es;q=0.9", None, "Fabricante"),
    ("en-GB,en;q=0.9", None, "Maker"),
    ("fr", None, "Fabricante"),
    ("es", "en", "Maker"),
    ("en", "es", "Fabricante"),
]


@pytest.mark.parametrize(("header", "lang", "heading"), PDF_LANGUAGES)
async def test_the_pdf_follows_the_readers_language(
    client: httpx2.AsyncClient, header: str | None, lang: str | None, heading: str
) -> None:
    response = await client.get(
        "/api/v1/hardware.pdf",
        params={"maker": "Zebra", **({"lang": lang} if lang else {})},
        headers={"Accept-Language": header} if header else {},
    )
    assert response.status_code == 200, response.text
    text = pdf_text(response.content)
    other = "Maker" if heading == "Fabricante" else "Fabricante"
    assert heading in text and other not in text, text
    assert ("Filtros:" in text) == (heading == "Fabricante"), text


SEARCHES = {
    "Arabic": "شركة النقل",
    "Hebrew": "עברית",
    "Greek": "Ελληνικά",
    "Polish": "Łódź",
    "CJK": "中文 한국어",
    "emoji": "🚚",
    "Cyrillic": "Привет",
}


@pytest.mark.parametrize("q", SEARCHES.values(), ids=SEARCHES.keys())
async def test_the_pdf_shows_a_search_in_any_script_as_typed(client: httpx2.AsyncClient, q: str) -> None:
    response = await client.get("/api/v1/hardware.pdf", params={"q": q, "lang": "en"})
    assert response.status_code == 200
    text = pdf_text(response.content)
    assert f'Filters: search "{q}"' in text, text
    assert "?" not in text, "no character replaced by a question mark"


async def test_the_routes_are_documented_under_the_hardware_tag(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    listing, document = paths["/api/v1/hardware"]["get"], paths["/api/v1/hardware.pdf"]["get"]
    assert listing["tags"] == document["tags"] == ["hardware"]
    assert "no authentication" in listing["description"] and "no authentication" in document["description"]
    assert "application/pdf" in document["responses"]["200"]["content"]
    schema = app.openapi()["components"]["schemas"]["HardwareListOut"]
    assert schema["examples"][0]["items"][0]["maker"] == "Zebra"
    sort = next(p for p in listing["parameters"] if p["name"] == "sort")
    assert "-os_version" in str(sort["schema"])
