"""The reader's language from Accept-Language, and problem titles in it."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from servicekit.i18n import (
    FIELD_MESSAGES,
    LANGUAGES,
    ReaderLanguage,
    as_language,
    negotiate,
    status_title,
    validation_message,
)
from servicekit.problems import Problem, field_error, install_problem_handlers, invalid_body

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "es"),
        ("", "es"),
        ("en", "en"),
        ("EN-us", "en"),
        ("es-ES,es;q=0.9,en;q=0.8", "es"),
        ("en-GB,en;q=0.9,es;q=0.8", "en"),
        ("es;q=0.4, en;q=0.6", "en"),
        ("fr-FR,fr;q=0.9,en;q=0.5", "en"),  # the first supported one
        ("fr, de", "es"),  # none supported: the default
        ("en;q=0, es;q=0.1", "es"),  # q=0 means "not this one"
        ("en;q=abc", "es"),
        ("en;q=5", "es"),  # out of range: ignored
        ("*", "es"),
        ("en, es", "en"),  # equal weight: the first listed
        (";;;,,,", "es"),
        ("en" + ", x" * 400, "es"),  # an absurdly long header is not a preference
    ],
)
def test_the_reader_language_is_negotiated(header: str | None, expected: str) -> None:
    assert negotiate(header) == expected


def test_a_default_other_than_spanish_and_stray_values() -> None:
    assert negotiate("fr", default="en") == "en"
    assert as_language("en") == "en"
    assert as_language("de") == "es"
    assert as_language(None, "en") == "en"


def test_every_status_title_exists_in_every_language() -> None:
    for status in (400, 401, 403, 404, 409, 413, 422, 429, 500, 503):
        titles = {language: status_title(status, language) for language in LANGUAGES}
        assert all(titles.values()), titles
        assert titles["es"] != titles["en"]
    assert status_title(418, "es") is None


class Order(BaseModel):
    name: str = Field(max_length=5)
    quantity: int = Field(ge=1)


def client() -> TestClient:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/orders")
    async def order(body: Order) -> dict[str, str]:
        return {"name": body.name}

    @app.get("/language")
    async def language(reader: ReaderLanguage) -> dict[str, str]:
        return {"language": reader}

    @app.get("/missing")
    async def missing() -> None:
        raise Problem(404, "not-found", "No such thing.")

    @app.get("/own-title")
    async def own_title() -> None:
        raise Problem(409, "illegal-transition", "Already generated.", title="Illegal transition")

    return TestClient(app)


def test_routes_and_problem_titles_follow_accept_language() -> None:
    api = client()
    assert api.get("/language").json() == {"language": "es"}
    assert api.get("/language", headers={"Accept-Language": "en-US,en;q=0.9"}).json() == {"language": "en"}
    assert api.get("/missing").json()["title"] == "No encontrado"
    assert api.get("/missing", headers={"Accept-Language": "en"}).json()["title"] == "Not found"
    invalid = api.get("/nowhere", headers={"Accept-Language": "es"})
    assert (invalid.status_code, invalid.json()["title"]) == (404, "No encontrado")
    assert api.get("/own-title", headers={"Accept-Language": "es"}).json()["title"] == "Illegal transition"


def test_field_messages_read_in_the_readers_language() -> None:
    api = client()
    bad = {"name": "too long a name", "quantity": 0}
    spanish = api.post("/orders", json=bad, headers={"Accept-Language": "es"}).json()["errors"]
    assert {e["field"]: e["message"] for e in spanish} == {
        "name": "debe tener como mucho 5 caracteres",
        "quantity": "debe ser mayor o igual que 1",
    }
    english = api.post("/orders", json=bad, headers={"Accept-Language": "en"}).json()["errors"]
    assert {e["field"]: e["message"] for e in english} == {
        "name": "String should have at most 5 characters",
        "quantity": "Input should be greater than or equal to 1",
    }
    missing = api.post("/orders", json={}, headers={"Accept-Language": "es"}).json()["errors"]
    assert {e["message"] for e in missing} == {"es obligatorio"}


def test_a_message_without_a_translation_keeps_pydantics_words() -> None:
    assert validation_message("value_error", "Value error, the message is empty", None, "es") == (
        "Value error, the message is empty"
    )
    assert validation_message("string_too_short", "String should have…", {}, "es") == "String should have…"


def test_every_field_message_code_reads_in_both_languages() -> None:
    for code, texts in FIELD_MESSAGES.items():
        assert set(texts) == set(LANGUAGES), code
        assert texts["es"] != texts["en"], code
        # Spanish may leave a value out (English nouns), never name one English does not have.
        assert set(re.findall(r"{(\w+)}", texts["es"])) <= set(re.findall(r"{(\w+)}", texts["en"])), code


class Message(BaseModel):
    text: str

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise PydanticCustomError("message_empty", "the message is empty")
        return value


def coded_client() -> TestClient:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/messages")
    async def post(body: Message) -> dict[str, str]:
        return {"text": body.text}

    @app.get("/sorted")
    async def by_hand() -> None:
        message, params = "cannot sort by 'x'; choose from a, b", {"value": "'x'", "choices": "a, b"}
        error = field_error("sort", "sort_unknown", message, where="query", params=params)
        raise Problem(422, "validation", "cannot sort by 'x'; choose from a, b", errors=[error])

    @app.get("/merged")
    async def merged() -> None:
        try:
            Message.model_validate({"text": " "})
        except ValidationError as exc:
            raise invalid_body(exc) from exc

    return TestClient(app)


@pytest.mark.parametrize(
    ("method", "path", "body", "field", "texts"),
    [
        ("post", "/messages", {"text": "  "}, "text", ("el mensaje está vacío", "the message is empty")),
        (
            "get",
            "/sorted",
            None,
            "sort",
            ("no se puede ordenar por 'x'; elige entre a, b", "cannot sort by 'x'; choose from a, b"),
        ),
        ("get", "/merged", None, "text", ("el mensaje está vacío", "the message is empty")),
    ],
    ids=["a validator's code", "a problem built by hand", "a body validated in the route"],
)
def test_our_own_field_messages_read_in_the_readers_language(
    method: str, path: str, body: object, field: str, texts: tuple[str, str]
) -> None:
    api = coded_client()
    for header, expected in (("es", texts[0]), (None, texts[0]), ("en-GB", texts[1])):
        headers = {"Accept-Language": header} if header else {}
        response = api.request(method.upper(), path, json=body, headers=headers)
        assert response.status_code == 422
        problem = response.json()
        assert problem["errors"] == [{"field": field, "message": expected, "in": problem["errors"][0]["in"]}]
        assert "cannot" in problem["detail"] or "Invalid value" in problem["detail"], "detail stays English"
