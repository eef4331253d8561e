"""How a forwarded call travels (`entrypoints.proxy._send`), against a fake service (httpx2's
MockTransport): a read goes without a body, a small answer is passed on as the same bytes in one
piece, a large or unsized one is streamed through unchanged, a body is forwarded as sent."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx2
import pytest
from fastapi import FastAPI, Request, Response

from gateway.entrypoints.proxy import WHOLE_RESPONSE_BYTES, _send

pytestmark = pytest.mark.unit

SMALL = json.dumps({"items": [{"id": "ins-1", "name": "Ñandú €"}], "next_cursor": None}).encode()
LARGE = b"x" * (WHOLE_RESPONSE_BYTES + 10)


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 65536):
        yield data[start : start + 65536]


def gateway(seen: list[httpx2.Request]) -> FastAPI:
    async def service(request: httpx2.Request) -> httpx2.Response:
        await request.aread()
        seen.append(request)
        if request.url.path == "/v1/large":
            sized = {"content-type": "text/csv", "content-length": str(len(LARGE))}
            return httpx2.Response(200, content=chunks(LARGE), headers=sized)
        if request.url.path == "/v1/unsized":
            return httpx2.Response(200, content=chunks(LARGE), headers={"content-type": "text/csv"})
        if request.method == "POST":
            return httpx2.Response(201, content=request.content, headers={"content-type": "application/json"})
        return httpx2.Response(200, content=SMALL, headers={"content-type": "application/json", "etag": '"7"'})

    client = httpx2.AsyncClient(base_url="http://instances", transport=httpx2.MockTransport(service))
    app = FastAPI()

    @app.api_route("/api/v1/{rest:path}", methods=["GET", "POST"])
    async def forward(request: Request, rest: str) -> Response:
        return await _send(client, "instances", request, f"/v1/{rest}")

    return app


async def test_a_read_is_sent_without_a_body_and_its_small_answer_comes_back_as_the_same_bytes() -> None:
    seen: list[httpx2.Request] = []
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=gateway(seen)), base_url="http://gw") as client:
        answer = await client.get("/api/v1/instances?limit=5", headers={"Authorization": "Bearer t"})

    assert answer.status_code == 200
    assert answer.content == SMALL
    assert answer.headers["content-length"] == str(len(SMALL))
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["etag"] == '"7"'
    (upstream,) = seen
    assert upstream.url.path == "/v1/instances" and upstream.url.query == b"limit=5"
    assert upstream.headers["authorization"] == "Bearer t"
    assert "transfer-encoding" not in upstream.headers and upstream.content == b""


async def test_a_body_is_forwarded_as_sent() -> None:
    seen: list[httpx2.Request] = []
    body = json.dumps({"name": "Ærø"}).encode()
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=gateway(seen)), base_url="http://gw") as client:
        answer = await client.post("/api/v1/companies", content=body, headers={"content-type": "application/json"})

    assert answer.status_code == 201 and answer.content == body
    assert seen[0].content == body


@pytest.mark.parametrize("path", ["/api/v1/large", "/api/v1/unsized"])
async def test_a_large_or_unsized_answer_is_streamed_through_unchanged(path: str) -> None:
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=gateway([])), base_url="http://gw") as client:
        answer = await client.get(path)

    assert answer.status_code == 200
    assert answer.content == LARGE
    assert answer.headers["content-type"] == "text/csv"
