"""RFC 9457 problem details for every error a service answers.

Each problem has a stable `type` (a URN naming the kind of error), a `title`, the HTTP `status`,
a human `detail`, and for validation errors the list of offending fields.
"""

from __future__ import annotations

import logging
from typing import Any

from aiokafka.errors import KafkaError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure
from starlette.exceptions import HTTPException as StarletteHTTPException

from contracts.ingest_keys import InvalidIngestKey
from servicekit.errors import DomainError, field_error
from servicekit.i18n import Language, negotiate, status_title, validation_message

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "Problem",
    "field_error",  # from servicekit.errors, where new code imports it
    "install_problem_handlers",
    "invalid_body",
    "problem_response",
    "problem_type",
]

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid request",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


def problem_type(slug: str) -> str:
    return f"urn:partnerapp:problem:{slug}"


class Problem(Exception):
    """Raise to answer with a problem document."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.title = title or _TITLES.get(status, "Error")
        self.headers = headers or {}
        self.extensions = extensions


def _localised(errors: Any, language: Language) -> Any:
    """Each field error's message in `language`, from its code (ours or pydantic's type); the code
    and its values are how the message is worded here, not part of the answer."""
    if not isinstance(errors, list):
        return errors
    out = []
    for given in errors:
        if isinstance(given, dict) and "code" in given:
            error = dict(given)
            code, params = str(error.pop("code")), error.pop("params", None)
            message = str(error.get("message", ""))
            error["message"] = validation_message(code, message, params if isinstance(params, dict) else None, language)
            out.append(error)
        else:
            out.append(given)
    return out


def problem_response(
    request: Request,
    status: int,
    slug: str,
    detail: str,
    *,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    # A title of its own stays as given; the status's generic title reads in the reader's language.
    language = negotiate(request.headers.get("accept-language"))
    generic = status_title(status, language)
    if "errors" in extensions:
        extensions["errors"] = _localised(extensions["errors"], language)
    body = {
        "type": problem_type(slug),
        "title": title if title and title != _TITLES.get(status) else generic or title or "Error",
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extensions,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    # ("body", "data", "battery_pct") -> "data.battery_pct"; ("query", "limit") -> "limit"
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:]
    return ".".join(parts) or "(body)"


def _field_of(error: dict[str, Any]) -> str:
    if error.get("type") == "json_invalid":  # its location holds the offset of the decoding error, not a field
        return "(body)"
    return _field_path(error.get("loc", ()))


def invalid_body(exc: ValidationError) -> Problem:
    """A 422 naming each field, for a body validated in the route (e.g. a PATCH once merged)."""
    errors = [
        field_error(_field_of(dict(err)), err["type"], err["msg"], where="body", params=err.get("ctx"))
        for err in exc.errors()
    ]
    fields = ", ".join(sorted({e["field"] for e in errors}))
    return Problem(422, "validation", f"Invalid value for: {fields}.", errors=errors)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            request, exc.status, exc.slug, exc.detail, title=exc.title, headers=exc.headers, **exc.extensions
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            field_error(
                _field_of(err),
                str(err.get("type")),
                err.get("msg", "invalid"),
                where=str(err["loc"][0]),
                params=err.get("ctx"),
            )
            for err in exc.errors()
        ]
        fields = ", ".join(sorted({e["field"] for e in errors}))
        return problem_response(request, 422, "validation", f"Invalid value for: {fields}.", errors=errors)

    @app.exception_handler(DomainError)
    async def _refused(request: Request, exc: DomainError) -> JSONResponse:
        headers = dict(exc.headers) or None
        return problem_response(request, exc.status, exc.slug, exc.detail, headers=headers, **exc.extensions)

    @app.exception_handler(InvalidIngestKey)
    async def _ingest_key(request: Request, exc: InvalidIngestKey) -> JSONResponse:
        return problem_response(
            request,
            401,
            "invalid-ingest-key",
            "Unknown or revoked ingest key.",
            headers={"WWW-Authenticate": "IngestKey"},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, f"http-{exc.status_code}")
        headers = dict(exc.headers) if exc.headers else None
        return problem_response(request, exc.status_code, slug, str(exc.detail), headers=headers)

    @app.exception_handler(ConnectionFailure)
    async def _store_down(request: Request, exc: ConnectionFailure) -> JSONResponse:
        log.warning("store unavailable: %s", exc)
        return problem_response(
            request,
            503,
            "store-unavailable",
            "The data store is unavailable; retry shortly.",
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(KafkaError)
    async def _broker_down(request: Request, exc: KafkaError) -> JSONResponse:
        # Nothing was acknowledged (acks=all did not complete): the client may safely retry.
        log.warning("broker unavailable: %r", exc)
        return problem_response(
            request,
            503,
            "broker-unavailable",
            "The event broker is unavailable; nothing was accepted, retry shortly.",
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(request, 500, "internal", "An unexpected error occurred.")
