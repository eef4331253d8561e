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
from typing import Annotated, Any
from urllib.parse import quote

import httpx2
from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from opentelemetry.propagate import inject
from starlette.background import BackgroundTask

from gateway.adapters.backends import SERVICES, HttpBackends
from gateway.domain.rate_limit import IngestRequests
from gateway.entrypoints.http import Queries, caller_of
from gateway.entrypoints.web import SECURITY_HEADERS
from servicekit import openapi
from servicekit.api import provided
from servicekit.auth import bearer_token, token_verifier
from servicekit.problems import Problem

log = logging.getLogger(__name__)

# First path segment -> owning service. Reads and actions alike; the services define the routes.
USER_ROUTES = {
    "companies": "instances",
    "provisionings": "instances",
    "instances": "instances",
    "threads": "support",
    "support": "support",
    "reports": "reports",
    "activity": "activity",
}
TERMINAL_ROUTES = {"ingest": "activity", "device": "instances"}
# Where a resource's path puts its ids: `instances/{id}/licenses/{id}` (even places after the
# resource) but `activity/records/{id}` and `reports/instances/{id}` (odd places).
IDS_AFTER_SUB_COLLECTION = {"activity", "reports", "support"}
# The routes that carry a file (an attachment): their bodies may be as large as the setting.
UPLOAD_PATHS = (r"^/api/v1/threads/[^/]+/attachments$", r"^/api/v1/support/canned-replies/attachments$")
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
    "x-content-sha256",  # the working-time export's content hash (activity)
    "x-content-type-options",
    "content-security-policy",
    "cross-origin-resource-policy",
)
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
WHOLE_RESPONSE_BYTES = 1 << 20
"""Answers up to this size (with a Content-Length) are read whole and sent on; larger or unsized
ones (exports, files) are streamed through."""


Backends = Annotated[HttpBackends, provided(HttpBackends)]
IngestLimiter = Annotated[IngestRequests, provided(IngestRequests)]

api = APIRouter(prefix="/api/v1", include_in_schema=False)


@api.api_route("/{resource}/{rest:path}", methods=METHODS)
@api.api_route("/{resource}", methods=METHODS)
async def forward(
    request: Request,
    backends: Backends,
    ingest_limiter: IngestLimiter,
    queries: Queries,
    resource: str,
    rest: str = "",
) -> Response:
    language: str | None = None
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
        caller = await caller_of(request, token_verifier(request), bearer_token(request), queries)
        if not request.headers.get("accept-language"):
            # A client naming no language reads the services' texts in its user's profile language.
            language = (await queries.profile(caller.principal.user_id)).language.value
    else:
        raise Problem(404, "not-found", f"No API resource {resource!r}.")
    request.state.route = f"/api/v1/{resource}" + ("/" + _template(resource, rest) if rest else "")
    request.state.target_id = _target(resource, rest)
    return await _send(backends.client(service), service, request, _upstream_path(resource, rest), language=language)


async def _send(
    client: httpx2.AsyncClient, service: str, request: Request, path: str, *, language: str | None = None
) -> Response:
    headers = {name: value for name in FORWARDED_REQUEST_HEADERS if (value := request.headers.get(name))}
    if language and "accept-language" not in headers:
        headers["accept-language"] = language
    headers["x-forwarded-for"] = request.client.host if request.client else "unknown"
    inject(headers)
    query = request.url.query
    # A request without a body (the reads) is sent without one, not as an empty chunked stream.
    has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
    upstream = client.build_request(
        request.method,
        f"{path}?{query}" if query else path,
        headers=headers,
        content=request.stream() if has_body else None,
    )
    try:
        response = await client.send(upstream, stream=True)
    except httpx2.TimeoutException as exc:
        raise _unavailable(service, "timed out") from exc
    except httpx2.TransportError as exc:
        raise _unavailable(service, f"unreachable ({type(exc).__name__})") from exc
    passed = {name: value for name in FORWARDED_RESPONSE_HEADERS if (value := response.headers.get(name))}
    length = response.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) <= WHOLE_RESPONSE_BYTES:
        # A small answer of known length (a page, an object, a problem) is passed on as the bytes
        # it is, in one piece: streaming it would cost a task and a disconnect listener per call.
        try:
            body = await response.aread()
        except httpx2.TransportError as exc:
            raise _unavailable(service, f"broke off ({type(exc).__name__})") from exc
        finally:
            await response.aclose()
        return Response(body, status_code=response.status_code, headers=passed)
    return StreamingResponse(
        response.aiter_raw(),
        status_code=response.status_code,
        headers=passed,
        background=BackgroundTask(response.aclose),
    )


def _unavailable(service: str, reason: str) -> Problem:
    detail = f"The {service} service is unavailable ({reason})."
    return Problem(503, "service-unavailable", detail, headers={"Retry-After": "5"})


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
    with their schemas renamed `<service>__<Name>` so two services' models never collide (a schema
    the gateway has too, the same, e.g. the service kit's `Problem`, is kept once). A forwarded
    route can also fail at the gateway: the service does not answer (503), or a terminal's key is
    over its rate (429)."""
    merged = copy.deepcopy(dict(own))
    paths: dict[str, Any] = merged.setdefault("paths", {})
    schemas: dict[str, Any] = merged.setdefault("components", {}).setdefault("schemas", {})
    routes = {**USER_ROUTES, **TERMINAL_ROUTES}
    for service, spec in services.items():
        theirs = spec.get("components", {}).get("schemas", {})
        shared = {name for name, schema in theirs.items() if schemas.get(name) == schema}
        prefix = f"{service}__"
        renamed = _rename_refs(spec, prefix, shared)
        for path, item in renamed.get("paths", {}).items():
            segments = path.split("/")
            if len(segments) > 2 and segments[1] == "v1" and routes.get(segments[2]) == service:
                for operation in item.values():
                    openapi.add_errors(operation, (429, 503) if segments[2] in TERMINAL_ROUTES else (503,))
                paths[f"/api/v1/{'/'.join(segments[2:])}"] = item
        for name, schema in renamed.get("components", {}).get("schemas", {}).items():
            if name not in shared:
                schemas[f"{prefix}{name}"] = schema
    return merged


def _rename_refs(node: Any, prefix: str, shared: set[str]) -> Any:
    """Every reference to a schema, `$ref` and a discriminator's `mapping` alike, to its new name."""

    def renamed(ref: str) -> str:
        if not ref.startswith(_SCHEMA_REF) or ref.removeprefix(_SCHEMA_REF) in shared:
            return ref
        return _SCHEMA_REF + prefix + ref.removeprefix(_SCHEMA_REF)

    if isinstance(node, dict):
        result: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                result[key] = renamed(value)
            elif key == "mapping" and isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
                result[key] = {name: renamed(ref) for name, ref in value.items()}
            else:
                result[key] = _rename_refs(value, prefix, shared)
        return result
    if isinstance(node, list):
        return [_rename_refs(item, prefix, shared) for item in node]
    return node


_SCHEMA_REF = "#/components/schemas/"


class ServiceDocuments:
    """The services' OpenAPI documents, fetched once each (one not up yet is asked again next time)."""

    def __init__(self, backends: HttpBackends) -> None:
        self._backends = backends
        self._fetched: dict[str, Any] = {}

    async def fetched(self) -> dict[str, Any]:
        async def fetch(name: str) -> None:
            try:
                response = await self._backends.client(name).get("/openapi.json", timeout=3.0)
                response.raise_for_status()
                self._fetched[name] = response.json()
            except (httpx2.HTTPError, ValueError) as exc:
                log.warning("OpenAPI of %s not available yet: %s", name, exc)

        await asyncio.gather(*(fetch(name) for name in SERVICES if name not in self._fetched))
        return self._fetched


Documents = Annotated[ServiceDocuments, provided(ServiceDocuments)]

documents = APIRouter(include_in_schema=False)
"""`/api/v1/openapi.json`: the gateway's routes plus the services' forwarded ones; and its docs page."""


@documents.get("/api/v1/openapi.json")
async def public_openapi(request: Request, services: Documents) -> dict[str, Any]:
    fetched = await services.fetched()
    own = request.app.openapi()
    own_public = {
        **own,
        "info": {**own["info"], "title": "partnerapp API"},
        "paths": {p: ops for p, ops in own["paths"].items() if p.startswith("/api/v1/")},
    }
    return merge_openapi(own_public, fetched)


documents.include_router(
    openapi.docs_router("/api/v1/docs", "/api/v1/openapi.json", title="partnerapp API", headers=SECURITY_HEADERS)
)
