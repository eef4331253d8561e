"""`/api/v1/<resource>/...` forwarded to the service owning the resource, streamed both ways.

The gateway authenticates the caller first (session open, partner still associated), then passes
the same access token on: every service checks it again and scopes by partner itself (BOLA, §6).
Terminals' routes (`/ingest`, `/device`) carry their ingest key instead, rate-limited per key.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import logging
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, StreamingResponse
from opentelemetry.propagate import inject
from starlette.background import BackgroundTask

from gateway.adapters.backends import SERVICES, HttpBackends
from gateway.domain.rate_limit import RateLimiter
from gateway.entrypoints.http import authenticate
from gateway.service_layer.views import BackendUnavailable
from servicekit.problems import Problem

log = logging.getLogger(__name__)

# First path segment -> owning service. Reads and actions alike; the services define the routes.
USER_ROUTES = {
    "companies": "instances",
    "provisionings": "instances",
    "instances": "instances",
    "threads": "support",
    "reports": "reports",
    "activity": "activity",
}
TERMINAL_ROUTES = {"ingest": "activity", "device": "instances"}
# Where a resource's path puts its ids: `instances/{id}/licenses/{id}` (even places after the
# resource) but `activity/records/{id}` and `reports/instances/{id}` (odd places).
IDS_AFTER_SUB_COLLECTION = {"activity", "reports"}
FORWARDED_REQUEST_HEADERS = (
    "authorization",
    "content-type",
    "accept",
    "accept-language",
    "idempotency-key",
    "if-match",
    "x-ingest-key",
    "x-correlation-id",
)
FORWARDED_RESPONSE_HEADERS = (
    "content-type",
    "content-disposition",
    "location",
    "etag",
    "retry-after",
    "cache-control",
    "www-authenticate",
)
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def router(backends: HttpBackends, *, ingest_limiter: RateLimiter) -> APIRouter:
    api = APIRouter(prefix="/api/v1", include_in_schema=False)

    @api.api_route("/{resource}/{rest:path}", methods=METHODS)
    @api.api_route("/{resource}", methods=METHODS)
    async def forward(request: Request, resource: str, rest: str = "") -> Response:
        if resource in TERMINAL_ROUTES:
            service = TERMINAL_ROUTES[resource]
            key = request.headers.get("x-ingest-key", "")
            bucket = hashlib.sha256(key.encode()).hexdigest()[:32]
            if wait := ingest_limiter.hit(bucket, time.monotonic()):
                raise Problem(
                    429,
                    "rate-limited",
                    "Too many requests for this ingest key.",
                    headers={"Retry-After": f"{wait:.0f}"},
                )
        elif resource in USER_ROUTES:
            service = USER_ROUTES[resource]
            await authenticate(request)
        else:
            raise Problem(404, "not-found", f"No API resource {resource!r}.")
        request.state.route = f"/api/v1/{resource}" + ("/" + _template(resource, rest) if rest else "")
        request.state.target_id = _target(resource, rest)
        return await _send(backends.client(service), service, request, _upstream_path(resource, rest))

    return api


async def _send(client: httpx.AsyncClient, service: str, request: Request, path: str) -> Response:
    headers = {name: value for name in FORWARDED_REQUEST_HEADERS if (value := request.headers.get(name))}
    headers["x-forwarded-for"] = request.client.host if request.client else "unknown"
    inject(headers)
    query = request.url.query
    upstream = client.build_request(
        request.method, f"{path}?{query}" if query else path, headers=headers, content=request.stream()
    )
    try:
        response = await client.send(upstream, stream=True)
    except httpx.TimeoutException as exc:
        raise BackendUnavailable(service, "timed out") from exc
    except httpx.TransportError as exc:
        raise BackendUnavailable(service, f"unreachable ({type(exc).__name__})") from exc
    passed = {name: value for name in FORWARDED_RESPONSE_HEADERS if (value := response.headers.get(name))}
    return StreamingResponse(
        response.aiter_raw(),
        status_code=response.status_code,
        headers=passed,
        background=BackgroundTask(response.aclose),
    )


def _upstream_path(resource: str, rest: str) -> str:
    """The service's path for `/api/v1/<resource>/<rest>`, each segment percent-encoded again (the
    router decoded them). A `.` or `..` segment would leave the resource once the URL is normalized
    (`/api/v1/instances/..%2F..%2Fmetrics` -> the service's `/metrics`), so it names nothing here."""
    segments = rest.split("/") if rest else []
    if any(segment in {".", ".."} for segment in segments):
        raise Problem(404, "not-found", "No such API resource.")
    return "/".join(["/v1", resource, *(quote(segment, safe="") for segment in segments)])


def _template(resource: str, rest: str) -> str:
    """`inst-1/licenses/lic-9/revoke` -> `{id}/licenses/{id}/revoke`: the audit groups by route, not by id."""
    first_id = 1 if resource in IDS_AFTER_SUB_COLLECTION else 0
    parts = rest.split("/")
    return "/".join("{id}" if index % 2 == first_id else part for index, part in enumerate(parts))


def _target(resource: str, rest: str) -> str | None:
    """The first id of the path: the object acted on (or its parent)."""
    first_id = 1 if resource in IDS_AFTER_SUB_COLLECTION else 0
    parts = rest.split("/") if rest else []
    return parts[first_id] if len(parts) > first_id else None


def merge_openapi(own: Mapping[str, Any], services: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The public API document: the gateway's routes plus the forwarded routes of each service,
    with their schemas renamed `<service>__<Name>` so two services' models never collide."""
    merged = copy.deepcopy(dict(own))
    paths: dict[str, Any] = merged.setdefault("paths", {})
    schemas: dict[str, Any] = merged.setdefault("components", {}).setdefault("schemas", {})
    routes = {**USER_ROUTES, **TERMINAL_ROUTES}
    for service, spec in services.items():
        prefix = f"{service}__"
        renamed = _rename_refs(spec, prefix)
        for path, operations in renamed.get("paths", {}).items():
            segments = path.split("/")
            if len(segments) > 2 and segments[1] == "v1" and routes.get(segments[2]) == service:
                paths[f"/api/v1/{'/'.join(segments[2:])}"] = operations
        for name, schema in renamed.get("components", {}).get("schemas", {}).items():
            schemas[f"{prefix}{name}"] = schema
    return merged


def _rename_refs(node: Any, prefix: str, *, refs: bool = False) -> Any:
    # `refs`: every string is a schema reference (a discriminator's `mapping` values).
    if isinstance(node, str) and refs:
        return node.replace("#/components/schemas/", f"#/components/schemas/{prefix}")
    if isinstance(node, dict):
        return {
            key: _rename_refs(
                value, prefix, refs=refs or key == "$ref" or (key == "mapping" and isinstance(value, dict))
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rename_refs(item, prefix) for item in node]
    return node


def public_document_router(backends: HttpBackends) -> APIRouter:
    """`/api/v1/openapi.json`: the gateway's routes plus the services' forwarded ones (fetched once each)."""
    fetched: dict[str, Any] = {}
    router = APIRouter(include_in_schema=False)

    @router.get("/api/v1/openapi.json")
    async def public_openapi(request: Request) -> dict[str, Any]:
        missing = [name for name in SERVICES if name not in fetched]

        async def fetch(name: str) -> None:
            try:
                response = await backends.client(name).get("/openapi.json", timeout=3.0)
                response.raise_for_status()
                fetched[name] = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("OpenAPI of %s not available yet: %s", name, exc)

        await asyncio.gather(*(fetch(name) for name in missing))
        own = request.app.openapi()
        own_public = {**own, "paths": {p: ops for p, ops in own["paths"].items() if p.startswith("/api/v1/")}}
        return merge_openapi(own_public, fetched)

    @router.get("/api/v1/docs")
    async def public_docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/api/v1/openapi.json", title="partnerapp API")

    return router
