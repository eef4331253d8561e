"""The shared edge plumbing: one error family answered by one installer, one page model, handler tables."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from contracts import EventEnvelope
from servicekit.api import Cursor, Limit, PageOut, ResponseModel, provide_on, provided
from servicekit.errors import DomainError, InvalidInput, NotFound, PartnerNotAllowed
from servicekit.handlers import InBatches, missing_from_table
from servicekit.pagination import Sort
from servicekit.problems import install_problem_handlers


class Item(ResponseModel):
    name: str


class ItemPage(PageOut[Item]):
    """Named for the document."""


class Catalogue:
    def __init__(self, names: list[str]) -> None:
        self.names = names


class Thing:
    def __init__(self, name: str) -> None:
        self.name = name


Names = Annotated[Catalogue, provided(Catalogue)]


def app_refusing(error: Exception | None = None) -> TestClient:
    app = FastAPI()
    install_problem_handlers(app)
    provide_on(app, Catalogue, Catalogue(["b", "a"]))

    @app.get("/items")
    async def items(catalogue: Names, limit: Limit = 20, cursor: Cursor = None, sort: str = "name") -> ItemPage:
        Sort.parse(sort, {"name": "name"})
        if error is not None:
            raise error
        things = [Thing(n) for n in catalogue.names[:limit]]
        return ItemPage.model_validate({"items": things, "next_cursor": cursor})

    return TestClient(app, raise_server_exceptions=False)


def test_each_domain_error_is_answered_with_its_status_and_type() -> None:
    cases: list[tuple[Exception, int, str]] = [
        (NotFound("thread", "t-1"), 404, "urn:partnerapp:problem:not-found"),
        (PartnerNotAllowed("p-2"), 403, "urn:partnerapp:problem:partner-not-allowed"),
        (
            InvalidInput.of_field("from", "window_too_long", "too long", where="query"),
            422,
            "urn:partnerapp:problem:validation",
        ),
        (DomainError("Cannot cancel twice.", current_state="cancelled"), 409, "urn:partnerapp:problem:conflict"),
    ]
    for error, status, kind in cases:
        answer = app_refusing(error).get("/items", headers={"Accept-Language": "en"})
        assert answer.status_code == status
        assert answer.headers["content-type"] == "application/problem+json"
        body = answer.json()
        assert body["type"] == kind
        assert body["detail"] == str(error)
    conflict = app_refusing(cases[3][0]).get("/items").json()
    assert conflict["current_state"] == "cancelled"
    partner = app_refusing(cases[1][0]).get("/items").json()
    assert partner["errors"][0]["field"] == "partner_id"
    assert "code" not in partner["errors"][0]  # worded for the reader, not leaked


def test_unknown_sort_and_forged_cursor_name_their_parameter() -> None:
    client = app_refusing()
    sort = client.get("/items", params={"sort": "-price"}).json()
    assert sort["status"] == 422
    assert [(e["field"], e["in"]) for e in sort["errors"]] == [("sort", "query")]
    assert client.get("/items", params={"limit": 0}).json()["errors"][0]["field"] == "limit"


def test_pages_are_built_from_attributes() -> None:
    client = app_refusing()
    assert client.get("/items", params={"limit": 1, "cursor": "c"}).json() == {
        "items": [{"name": "b"}],
        "next_cursor": "c",
    }
    assert "ItemPage" in client.app.openapi()["components"]["schemas"]  # type: ignore[attr-defined]


class Handlers:
    async def one(self, event: EventEnvelope[Any]) -> None: ...

    async def many(self, events: list[EventEnvelope[Any]]) -> None: ...

    async def forgotten(self, event: EventEnvelope[Any]) -> None: ...

    async def _private(self) -> None: ...


def test_a_use_case_left_out_of_its_table_is_named() -> None:
    table = {"a.one": Handlers.one, "a.many": InBatches(Handlers.many)}
    assert missing_from_table(table, Handlers) == ["forgotten"]
