"""The OpenAPI document of a service, made to say what the API really does.

FastAPI documents each route's parameters and success answer; this adds, from each route's own
declaration (its dependencies, parameters and body), who may call it and how it can fail:

- security: the bearer access token where a dependency needs the caller (`require_principal`, or
  one a service registers with `describe_dependency`), the ingest key where the route reads
  `X-Ingest-Key`; every other operation says `security: []` (public);
- errors, each an RFC 9457 problem+json answer: 401 where a credential is needed, 403 where a
  dependency checks roles or the operation takes a `partner_id` (a partner the caller is not
  associated with), 404 where the path names an object, 413 where there is a body, 422 where there
  is anything to validate, 503 where the store or the token verifier is needed, plus what the
  service declares for some routes (`declare_errors`, e.g. the 409s of its state transitions);
- no FastAPI `HTTPValidationError` (no route answers it: validation errors are problem+json);
- OpenAPI 3.1 only: FastAPI's `itemSchema` for Server-Sent Events is a 3.2 keyword.

`docs_router` serves Swagger UI for a document from the installed package, not from a CDN.
"""

from __future__ import annotations

import enum
import fnmatch
import json
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from fastapi.dependencies.models import Dependant
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from swagger_ui_bundle import swagger_ui_path

from servicekit.auth import bearer_token, bearer_token_dependency, require_principal
from servicekit.problems import PROBLEM_MEDIA_TYPE, Problem

BEARER = "bearerAuth"
INGEST_KEY = "ingestKey"
INGEST_KEY_HEADER = "X-Ingest-Key"
SECURITY_SCHEMES: dict[str, Any] = {
    BEARER: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "The access token of `POST /api/v1/auth/login` (an Ed25519-signed JWT, valid 10 minutes).",
    },
    INGEST_KEY: {
        "type": "apiKey",
        "in": "header",
        "name": INGEST_KEY_HEADER,
        "description": "A terminal's ingest key: one per instance, issued by `POST /api/v1/instances/{id}/ingest-key`.",
    },
}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; validation errors list each offending field.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "A URN naming the kind of error (`urn:partnerapp:problem:<slug>`)."},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}, "in": {"type": "string"}},
            },
        },
    },
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}}
_CHALLENGE = {"WWW-Authenticate": {"description": "The credential the route expects.", "schema": {"type": "string"}}}
ERROR_DESCRIPTIONS: dict[int, str] = {
    401: "The credential is missing, invalid, expired or revoked.",
    403: "The caller's role, or its association with the partner asked for, does not allow this.",
    404: "No such object for this caller (another partner's object is not found either).",
    409: "The object's current state does not allow this, or it changed meanwhile; the problem says which.",
    412: "The object changed since the version named in `If-Match`.",
    413: "The request body is too large.",
    422: "Invalid input: the problem's `errors` name each field.",
    429: "Too many requests; retry after `Retry-After` seconds.",
    503: "A service or the data store is unavailable; retry after `Retry-After` seconds.",
}
_ERROR_HEADERS: dict[int, dict[str, Any]] = {401: _CHALLENGE, 429: _RETRY_AFTER, 503: _RETRY_AFTER}
_FASTAPI_ERROR_SCHEMAS = ("HTTPValidationError", "ValidationError")
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass(frozen=True)
class Requirement:
    """What a dependency means for the document: a security scheme and the errors it can answer."""

    security: str | None = None
    errors: tuple[int, ...] = ()


_DEPENDENCIES: dict[Callable[..., Any], Requirement] = {
    require_principal: Requirement(BEARER, (401, 503)),
    bearer_token: Requirement(BEARER, (401,)),
    bearer_token_dependency: Requirement(BEARER, (401,)),
}


def describe_dependency(
    dependency: Callable[..., Any], *, security: str | None = None, errors: Iterable[int] = ()
) -> None:
    """Declare what a dependency of the service's routes means (e.g. the gateway's session check)."""
    _DEPENDENCIES[dependency] = Requirement(security, tuple(errors))


def declare_errors(app: FastAPI, errors: Mapping[str, Iterable[int]]) -> None:
    """Errors some routes answer beyond what their declaration shows, by `"METHOD /path"` pattern
    (`*` matches anything): e.g. the 409 of a state transition. A pattern that matches no route is
    an error when the document is built (a renamed route must not lose its errors quietly)."""
    table: dict[str, tuple[int, ...]] = getattr(app.state, "openapi_errors", {})
    for pattern, statuses in errors.items():
        table[pattern] = (*table.get(pattern, ()), *statuses)
    app.state.openapi_errors = table


def document_api(app: FastAPI) -> None:
    """Make `app.openapi()` return the annotated document (built once, like FastAPI's)."""
    generate = app.openapi
    annotated: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        document = generate()  # FastAPI's, cached until the routes change
        if not annotated or annotated[0] is not document:
            annotate(document, app.routes, getattr(app.state, "openapi_errors", {}))
            annotated[:] = [document]
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def annotate(document: dict[str, Any], routes: Iterable[Any], errors: Mapping[str, Iterable[int]]) -> None:
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for name in _FASTAPI_ERROR_SCHEMAS:
        schemas.pop(name, None)
    components["securitySchemes"] = SECURITY_SCHEMES
    unmatched = set(errors)
    paths: dict[str, Any] = document.get("paths", {})
    for route in iter_route_contexts(list(routes)):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        if route.path_format not in paths:
            continue
        for method in sorted(route.methods or ()):
            operation = paths[route.path_format].get(method.lower())
            if operation is None:
                continue
            security, statuses = _derived(route)
            key = f"{method} {route.path_format}"
            for pattern, extra in errors.items():
                if fnmatch.fnmatchcase(key, pattern):
                    statuses.update(extra)
                    unmatched.discard(pattern)
            _apply(operation, security, statuses)
    if unmatched:
        raise ValueError(f"declared errors for routes that do not exist: {sorted(unmatched)}")
    for operation in operations(document):
        for response in operation.get("responses", {}).values():
            _only_openapi_31(response)


def operations(document: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    for item in document.get("paths", {}).values():
        for method in _METHODS:
            if method in item:
                yield item[method]


def add_errors(operation: dict[str, Any], statuses: Iterable[int]) -> None:
    """Document more problem+json answers of an operation (keeping the descriptions it has)."""
    responses = operation.setdefault("responses", {})
    for status in statuses:
        responses.setdefault(str(status), _error_response(status))


def _derived(route: RouteContext) -> tuple[list[str], set[int]]:
    security: list[str] = []
    statuses: set[int] = set()
    for dependant in _walk(route.dependant):
        requirement = _DEPENDENCIES.get(dependant.call) if dependant.call else None
        if requirement:
            if requirement.security and requirement.security not in security:
                security.append(requirement.security)
            statuses.update(requirement.errors)
        headers = {(field.alias or field.name).lower() for field in dependant.header_params}
        if INGEST_KEY_HEADER.lower() in headers and INGEST_KEY not in security:
            security.append(INGEST_KEY)
            statuses.update((401, 503))
        if any(not _is_choice(field) for field in dependant.path_params):
            statuses.add(404)
        if dependant.body_params:
            statuses.update((413, 422))
        if dependant.path_params or dependant.query_params or dependant.header_params or dependant.body_params:
            statuses.add(422)
        if _takes_partner_id(dependant):
            statuses.add(403)  # the partner asked for must be one the caller is associated with
    return security, statuses


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _walk(sub)


def _is_choice(field: Any) -> bool:
    """A path parameter that picks from fixed values (`export.{fmt}`) names no object: a wrong one is a 422."""
    annotation = field.field_info.annotation
    return typing.get_origin(annotation) is typing.Literal or (
        isinstance(annotation, type) and issubclass(annotation, enum.Enum)
    )


def _takes_partner_id(dependant: Dependant) -> bool:
    if any((field.alias or field.name) == "partner_id" for field in dependant.query_params):
        return True
    for field in dependant.body_params:
        model_fields = getattr(field.field_info.annotation, "model_fields", {})
        if "partner_id" in model_fields:
            return True
    return False


def _apply(operation: dict[str, Any], security: list[str], statuses: set[int]) -> None:
    operation["security"] = [{name: []} for name in security]
    if security:
        # The credential is the scheme's to send: a header parameter for it would ask twice.
        covered = {"authorization"} if BEARER in security else set()
        covered |= {INGEST_KEY_HEADER.lower()} if INGEST_KEY in security else set()
        parameters = [
            p for p in operation.get("parameters", []) if not (p["in"] == "header" and p["name"].lower() in covered)
        ]
        if parameters:
            operation["parameters"] = parameters
        else:
            operation.pop("parameters", None)
    responses = operation.setdefault("responses", {})
    if 422 not in statuses:
        responses.pop("422", None)  # FastAPI's default, on an operation with nothing to validate
    add_errors(operation, sorted(statuses))
    for status, response in responses.items():
        if status[:1] in {"4", "5"} and _generic_content(response):
            response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
            if status == "422" and response.get("description") == "Validation Error":
                response["description"] = ERROR_DESCRIPTIONS[422]
            if headers := _ERROR_HEADERS.get(int(status)):
                response.setdefault("headers", headers)


def _generic_content(response: Mapping[str, Any]) -> bool:
    """No content of its own, or FastAPI's (an empty schema, or its HTTPValidationError)."""
    for media in response.get("content", {}).values():
        schema = media.get("schema") or {}
        if schema and not str(schema.get("$ref", "")).endswith(_FASTAPI_ERROR_SCHEMAS):
            return False
    return True


def _error_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": ERROR_DESCRIPTIONS.get(status, "Error"),
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if headers := _ERROR_HEADERS.get(status):
        response["headers"] = headers
    return response


def _only_openapi_31(response: dict[str, Any]) -> None:
    """A Server-Sent Events stream in 3.1 is a string; the events' shape moves to an extension."""
    for media in response.get("content", {}).values():
        if "itemSchema" in media:
            media["x-item-schema"] = media.pop("itemSchema")
            media.setdefault("schema", {"type": "string", "description": "Server-Sent Events (text/event-stream)."})


# ------------------------------------------------------------------ the docs page

# Swagger UI from the installed package (swagger-ui-bundle-v2), not a CDN: the page works offline and
# under a strict Content-Security-Policy (no inline script: the set-up is a file of its own).
DOCS_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_SWAGGER_ASSETS = {"swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png"}
_DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" type="image/png" href="{page}/favicon-32x32.png">
<link rel="stylesheet" href="{page}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{page}/swagger-ui-bundle.js"></script>
<script src="{page}/docs.js"></script>
</body>
</html>
"""
# `validatorUrl: null`: Swagger UI would otherwise send the document to an online validator.
_DOCS_SCRIPT = """window.ui = SwaggerUIBundle({{
  url: {openapi_url},
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  layout: "BaseLayout",
}});
"""


def docs_router(
    page: str, openapi_url: str, *, title: str, headers: Mapping[str, str] = DOCS_SECURITY_HEADERS
) -> APIRouter:
    """Swagger UI at `page` for the document at `openapi_url`, its files under `page/`."""
    router = APIRouter(include_in_schema=False)
    html = _DOCS_PAGE.format(title=title, page=page)
    script = _DOCS_SCRIPT.format(openapi_url=json.dumps(openapi_url))
    no_cache = {**headers, "Cache-Control": "no-cache"}

    @router.get(page)
    async def docs_page() -> HTMLResponse:
        return HTMLResponse(html, headers=no_cache)

    @router.get(page + "/{asset}")
    async def docs_asset(asset: str) -> Response:
        if asset == "docs.js":
            return Response(script, media_type="text/javascript", headers=no_cache)
        if asset not in _SWAGGER_ASSETS:  # only these names: nothing else of the package, no paths
            raise Problem(404, "not-found", "No such file.")
        return FileResponse(Path(str(swagger_ui_path)) / asset, headers=no_cache)

    return router
