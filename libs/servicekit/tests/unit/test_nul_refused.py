"""U+0000 is refused at the edge of every service (servicekit.nul): the app factory every service
uses installs the check, so a route of its own is checked without doing anything for it."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.testclient import TestClient
from pydantic import BaseModel

from servicekit.nul import nul_locations
from servicekit.runtime import ServiceRuntime
from servicekit.settings import PlatformSettings, ServiceSettings

pytestmark = pytest.mark.unit


class Line(BaseModel):
    sku: str
    tags: list[str] = []


class Order(BaseModel):
    note: str = ""
    lines: list[Line] = []
    extra: dict[str, Any] = {}


ran: list[str] = []
router = APIRouter()


@router.post("/orders/{order_id}")
async def change(order_id: str, order: Order, q: Annotated[str | None, Query()] = None) -> dict[str, str]:
    ran.append(order_id)
    return {"ok": order_id}


@router.get("/files/{name}/{rest:path}")
async def catch_all(name: str, rest: str) -> dict[str, str]:
    ran.append(rest)
    return {"ok": rest}


@router.post("/uploads")
async def upload(caption: Annotated[str, Form()], file: Annotated[UploadFile, File()]) -> dict[str, str]:
    ran.append(caption)
    return {"ok": caption}


@pytest.fixture(scope="module")
def client() -> TestClient:
    settings = ServiceSettings(mongo_database="unit", consumer_group="cg-unit", platform=PlatformSettings())
    app = ServiceRuntime.create("unit", settings).create_app(title="unit", routers=[router])
    return TestClient(app, raise_server_exceptions=False)  # no lifespan: nothing connects


@pytest.fixture(autouse=True)
def _forget() -> None:
    ran.clear()


@pytest.mark.parametrize(
    ("path", "params", "body", "field", "where"),
    [
        ("/orders/o1", {}, {"note": "a\x00b"}, "note", "body"),
        ("/orders/o1", {}, {"lines": [{"sku": "x"}, {"sku": "y", "tags": ["ok", "\x00"]}]}, "lines.1.tags.1", "body"),
        ("/orders/o1", {}, {"extra": {"deep": {"k\x00": 1}}}, "extra.deep.k\x00", "body"),
        ("/orders/o1", {"q": "x\x00"}, {}, "q", "query"),
        ("/orders/o1", {"unknown\x00": "x"}, {}, "unknown\x00", "query"),
        ("/orders/o%00", {}, {}, "order_id", "path"),
        ("/files/n%00/ok", {}, None, "name", "path"),
        ("/files/n/a/b%00", {}, None, "(path)", "path"),
    ],
    ids=["body-value", "nested-list", "body-key", "query-value", "query-key", "path", "path-get", "catch-all-path"],
)
def test_a_nul_anywhere_is_a_422_naming_the_field_and_the_route_never_runs(
    client: TestClient, path: str, params: dict[str, str], body: dict[str, Any] | None, field: str, where: str
) -> None:
    headers = {"accept-language": "en"}
    if body is None:
        response = client.get(path, params=params, headers=headers)
    else:
        response = client.post(path, params=params, json=body, headers=headers)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:partnerapp:problem:validation"
    (error,) = problem["errors"]
    assert (error["field"], error["in"]) == (field, where)
    assert error["message"] == "must not contain the NUL character (U+0000)"
    assert problem["detail"] == f"{field}: must not contain the NUL character (U+0000)"
    assert ran == [], "nothing ran, so nothing changed"


def test_the_answer_reads_in_spanish_for_a_spanish_reader(client: TestClient) -> None:
    response = client.post(
        "/orders/o1", json={"note": "\x00", "lines": [{"sku": "\x00"}]}, headers={"accept-language": "es"}
    )

    problem = response.json()
    assert response.status_code == 422
    assert {e["field"] for e in problem["errors"]} == {"note", "lines.0.sku"}
    assert {e["message"] for e in problem["errors"]} == {"no puede contener el carácter NUL (U+0000)"}
    assert problem["detail"] == "lines.0.sku, note: no puede contener el carácter NUL (U+0000)"


def multipart(caption: str, filename: str) -> tuple[bytes, dict[str, str]]:
    """A form as a client may send it: raw bytes (httpx would percent-encode a NUL in a file name)."""
    boundary = "b0undary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="caption"\r\n\r\n{caption}\r\n',
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: image/png\r\n\r\n\x89PNG\r\n",
        f"--{boundary}--\r\n",
    ]
    return "".join(parts).encode(), {"content-type": f"multipart/form-data; boundary={boundary}"}


@pytest.mark.parametrize(
    ("caption", "filename", "field"),
    [("a\x00", "photo.png", "caption"), ("fine", "pho\x00to.png", "file.filename")],
    ids=["form-field", "file-name"],
)
def test_a_form_field_or_file_name_holding_a_nul_is_refused(
    client: TestClient, caption: str, filename: str, field: str
) -> None:
    content, headers = multipart(caption, filename)
    response = client.post("/uploads", content=content, headers=headers)

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert ran == []


def test_text_that_merely_spells_the_escape_and_other_control_characters_pass(client: TestClient) -> None:
    response = client.post("/orders/o1", params={"q": "\\u0000"}, json={"note": "typed \\u0000\ttab"})

    assert response.status_code == 200
    assert ran == ["o1"]
    upload = client.post("/uploads", data={"caption": "ok"}, files={"file": ("a.png", b"\x00\x00", "image/png")})
    assert upload.status_code == 200, "a file's bytes are no text: NUL bytes in them are fine"


def test_nul_locations_walks_values_keys_and_lists() -> None:
    document = {"a": ["x", {"b\x00": "y", "c": "\x00"}], "d": 1, "e": None, "f": "\x00"}
    assert list(nul_locations(document)) == ["a.1.b\x00", "a.1.c", "f"]
    assert list(nul_locations("\x00")) == ["(body)"]
    assert list(nul_locations({"ok": ["fine", 3, True]})) == []
