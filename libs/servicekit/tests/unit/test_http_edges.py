"""problem+json answers and the body limit, through a real ASGI stack (no network)."""

from __future__ import annotations

from typing import Annotated

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, NotEnoughReplicasError
from fastapi import FastAPI, Query, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field
from pymongo.errors import ServerSelectionTimeoutError

from servicekit.auth import CurrentPrincipal
from servicekit.limits import BodySizeLimit
from servicekit.problems import Problem, install_problem_handlers

pytestmark = pytest.mark.unit


class Item(BaseModel):
    name: str = Field(min_length=1)
    quantity: int = Field(ge=1)


def make_app() -> TestClient:
    app = FastAPI()
    app.state.token_verifier = None
    install_problem_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=1024)

    @app.post("/items")
    async def create(item: Item, limit: Annotated[int, Query(ge=1, le=100)] = 10) -> dict[str, str]:
        return {"name": item.name}

    @app.get("/conflict")
    async def conflict() -> None:
        raise Problem(409, "illegal-transition", "The provisioning is generated.", current_state="generated")

    @app.get("/store-down")
    async def store_down() -> None:
        raise ServerSelectionTimeoutError("no servers")

    @app.get("/broker-down/{kind}")
    async def broker_down(kind: str) -> None:
        errors = {"timeout": KafkaTimeoutError, "connection": KafkaConnectionError, "isr": NotEnoughReplicasError}
        raise errors[kind]()

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> str:
        return principal.user_id

    return TestClient(app, raise_server_exceptions=False)


client = make_app()


def test_validation_error_names_each_field() -> None:
    response = client.post("/items?limit=0", json={"name": "", "quantity": 0})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "urn:partnerapp:problem:validation"
    assert {e["field"] for e in body["errors"]} == {"name", "quantity", "limit"}
    assert "limit, name, quantity" in body["detail"]


def test_domain_problem_keeps_its_extensions() -> None:
    body = client.get("/conflict").json()
    assert body["status"] == 409
    assert body["current_state"] == "generated"
    assert body["type"] == "urn:partnerapp:problem:illegal-transition"


def test_unknown_route_is_a_problem() -> None:
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.json()["type"] == "urn:partnerapp:problem:not-found"


def test_store_outage_is_503_not_500() -> None:
    response = client.get("/store-down")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"


@pytest.mark.parametrize("kind", ["timeout", "connection", "isr"])
def test_broker_outage_is_503_not_500(kind: str) -> None:
    response = client.get(f"/broker-down/{kind}")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("broker-unavailable")
    assert response.headers["retry-after"] == "5"


def test_unexpected_error_hides_internals() -> None:
    response = client.get("/boom")
    assert response.status_code == 500
    assert "secret" not in response.text


def test_oversized_body_is_refused_before_parsing() -> None:
    response = client.post("/items", content=b"x" * 5000, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["type"] == "urn:partnerapp:problem:body-too-large"


def test_oversized_streamed_body_is_refused() -> None:
    def chunks():  # no content-length: counted while read
        for _ in range(10):
            yield b"y" * 500

    response = client.post("/items", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_routes_needing_a_token_say_so_when_verification_is_not_configured() -> None:
    assert client.get("/me").status_code == 503


def test_an_upload_route_may_send_a_larger_body_and_every_other_route_keeps_the_limit() -> None:
    app = FastAPI()
    app.add_middleware(BodySizeLimit, max_bytes=1024, larger=[(r"^/uploads/[^/]+$", 4096)])

    @app.post("/uploads/{name}")
    @app.post("/other")
    async def take(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    client = TestClient(app)
    assert client.post("/uploads/a", content=b"x" * 4096).json() == {"bytes": 4096}
    over = client.post("/uploads/a", content=b"x" * 4097)
    assert over.status_code == 413 and "4096" in over.json()["detail"]
    assert client.post("/other", content=b"x" * 1025).status_code == 413
    assert client.post("/uploads/a/b", content=b"x" * 1025).status_code == 413, "only the matching paths"
