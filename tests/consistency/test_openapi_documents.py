"""Every OpenAPI document the platform publishes is one tools accept, and says who may call each
operation and how it fails.

The five apps are built in-process (nothing is started: no broker, no store); the gateway's public
document is fetched from the gateway the way a client does, with the services behind in-process
transports. Each document must pass openapi-spec-validator (OpenAPI 3.1); every operation that
needs a credential declares its scheme and documents 401; every path naming an object documents
404; every error answer is problem+json.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from fastapi import APIRouter, Depends, FastAPI
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from pydantic import SecretStr

from activity.bootstrap import build_app as build_activity
from activity.config import Settings as ActivitySettings
from gateway.bootstrap import build_app as build_gateway
from gateway.config import Settings as GatewaySettings
from instances.bootstrap import build_app as build_instances
from instances.config import Settings as InstancesSettings
from reports.bootstrap import build_app as build_reports
from reports.config import Settings as ReportsSettings
from servicekit import openapi
from servicekit.auth import CurrentPrincipal, generate_key_pair
from servicekit.settings import PlatformSettings
from support.bootstrap import build_app as build_support
from support.config import Settings as SupportSettings

pytestmark = pytest.mark.unit

PROBLEM = "application/problem+json"
METHODS = ("get", "put", "post", "delete", "patch")
# The operations anyone may call: signing in, and public product information.
PUBLIC = {
    "POST /api/v1/auth/login",
    "POST /api/v1/auth/refresh",
    "GET /api/v1/hardware",
    "GET /api/v1/hardware.pdf",
    "GET /api/v1/push/vapid-public-key",
}
# Terminals authenticate with their instance's ingest key, not a user's token.
TERMINAL = {"POST /api/v1/ingest/events", "GET /api/v1/device/configuration"}
# Path parameters that pick a format, not an object: a wrong one is a 422.
NOT_IDS = {"fmt"}


@pytest.fixture(scope="module")
def apps() -> dict[str, FastAPI]:
    private, public = generate_key_pair()
    platform = PlatformSettings(auth_public_key=public)
    services: dict[str, FastAPI] = {
        "instances": build_instances(InstancesSettings(platform=platform)),
        "support": build_support(SupportSettings(platform=platform)),
        "reports": build_reports(ReportsSettings(platform=platform)),
        "activity": build_activity(ActivitySettings(platform=platform)),
    }
    gateway = build_gateway(
        GatewaySettings(platform=platform, token_private_key=SecretStr(private)),
        transports={name: httpx2.ASGITransport(app=app) for name, app in services.items()},
    )
    return {**services, "gateway": gateway}


def _get(app: FastAPI, *paths: str) -> list[httpx2.Response]:
    async def fetch() -> list[httpx2.Response]:
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://test") as client:
            return [await client.get(path) for path in paths]

    return asyncio.run(fetch())


@pytest.fixture(scope="module")
def documents(apps: dict[str, FastAPI]) -> dict[str, dict[str, Any]]:
    found = {name: app.openapi() for name, app in apps.items()}
    [response] = _get(apps["gateway"], "/api/v1/openapi.json")  # as a client reads it: merged
    assert response.status_code == 200, response.text
    found["public"] = response.json()
    return found


def operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield f"{method.upper()} {path}", item[method]


@pytest.mark.parametrize("name", ["instances", "support", "reports", "activity", "gateway", "public"])
def test_the_document_is_valid_openapi(documents: dict[str, dict[str, Any]], name: str) -> None:
    document = documents[name]
    assert document["openapi"].startswith("3.1")
    validate(document, cls=OpenAPIV31SpecValidator)  # raises with the offending node


def test_the_public_document_has_every_forwarded_operation(documents: dict[str, dict[str, Any]]) -> None:
    labels = [label for label, _ in operations(documents["public"])]
    assert len(labels) >= 68, labels
    for resource in ("companies", "provisionings", "instances", "threads", "reports", "activity", "ingest", "device"):
        assert any(label.split()[1].startswith(f"/api/v1/{resource}") for label in labels), resource


def test_operations_needing_a_token_declare_the_bearer_scheme_and_401(documents: dict[str, dict[str, Any]]) -> None:
    document = documents["public"]
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["ingestKey"] == {**schemes["ingestKey"], "type": "apiKey", "in": "header", "name": "X-Ingest-Key"}
    wrong = []
    for label, operation in operations(document):
        if label in PUBLIC:
            expected: list[dict[str, list[str]]] = []
        elif label in TERMINAL:
            expected = [{"ingestKey": []}]
        else:
            expected = [{"bearerAuth": []}]
        if operation.get("security") != expected:
            wrong.append(f"{label}: security {operation.get('security')}, expected {expected}")
        if expected and "401" not in operation["responses"]:
            wrong.append(f"{label}: no 401")
        credential_headers = {"authorization", "x-ingest-key"}
        if any(
            p["in"] == "header" and p["name"].lower() in credential_headers for p in operation.get("parameters", [])
        ):
            wrong.append(f"{label}: asks for its credential as a parameter besides the scheme")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("name", ["instances", "support", "reports", "activity"])
def test_each_services_own_routes_declare_their_credential(documents: dict[str, dict[str, Any]], name: str) -> None:
    wrong = []
    for label, operation in operations(documents[name]):
        path = label.split()[1]
        if not path.startswith("/v1/"):
            assert operation["security"] == [], label  # health and metrics
            continue
        scheme = "ingestKey" if path in {"/v1/ingest/events", "/v1/device/configuration"} else "bearerAuth"
        if operation.get("security") != [{scheme: []}] or "401" not in operation["responses"]:
            wrong.append(label)
    assert not wrong, wrong


@pytest.mark.parametrize("name", ["instances", "support", "reports", "activity", "gateway", "public"])
def test_every_path_naming_an_object_documents_404(documents: dict[str, dict[str, Any]], name: str) -> None:
    missing = []
    for label, operation in operations(documents[name]):
        ids = set(re.findall(r"{(\w+)}", label)) - NOT_IDS
        if ids and "404" not in operation["responses"]:
            missing.append(label)
    assert not missing, missing


def test_roles_and_partner_choices_document_403(documents: dict[str, dict[str, Any]]) -> None:
    """Staff-only routes, and every operation where the caller names a partner (R-11)."""
    document = documents["public"]
    checked = []
    for label, operation in operations(document):
        names = {p["name"] for p in operation.get("parameters", [])}
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
        body_names = set(_resolve(document, body).get("properties", {}))
        if "partner_id" in names | body_names or label == "GET /api/v1/audit":
            checked.append(label)
            assert "403" in operation["responses"], label
    assert {
        "GET /api/v1/audit",
        "GET /api/v1/threads",
        "POST /api/v1/auth/login",
        "GET /api/v1/reports/summary",
    } <= set(checked)


def test_state_changes_and_limits_document_their_answers(documents: dict[str, dict[str, Any]]) -> None:
    by_label = dict(operations(documents["public"]))
    for label in (
        "POST /api/v1/provisionings/{instance_id}/provision",
        "POST /api/v1/provisionings/{instance_id}/generate",
        "POST /api/v1/instances/{instance_id}/extend",
        "POST /api/v1/instances/{instance_id}/licenses",
        "POST /api/v1/instances/{instance_id}/licenses/{license_id}/revoke",
        "POST /api/v1/activity/records/{record_id}/release-license",
    ):
        assert "409" in by_label[label]["responses"], label
    for label in ("POST /api/v1/auth/login", *TERMINAL):
        assert "429" in by_label[label]["responses"], label
        assert "Retry-After" in by_label[label]["responses"]["429"]["headers"], label
    for label, operation in by_label.items():
        if "requestBody" in operation:
            assert "413" in operation["responses"], label
        if label not in PUBLIC:
            assert "503" in operation["responses"], label  # the store, a service behind the gateway


@pytest.mark.parametrize("name", ["instances", "support", "reports", "activity", "gateway", "public"])
def test_every_error_answer_is_a_problem_document(documents: dict[str, dict[str, Any]], name: str) -> None:
    document = documents[name]
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in str(document), "FastAPI's validation error shape is never answered"
    assert "itemSchema" not in str(document), "an OpenAPI 3.2 keyword in a 3.1 document"
    assert schemas["Problem"]["required"] == ["type", "title", "status", "detail"]
    assert not [n for n in schemas if n.endswith("__Problem")], "one Problem schema, shared"
    wrong = []
    for label, operation in operations(document):
        for status, response in operation["responses"].items():
            if status[0] not in "45" or label == "GET /readyz":  # readiness reports its checks, as JSON
                continue
            if response.get("content") != {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}:
                wrong.append(f"{label} {status}: {response.get('content')}")
    assert not wrong, "\n".join(wrong)


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if not ref:
        return schema
    resolved: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return resolved


def test_a_route_declared_with_errors_it_does_not_have_fails_the_document() -> None:
    """A renamed route must not lose its declared errors quietly."""
    app = FastAPI()
    api = APIRouter()

    @api.post("/v1/things/{thing_id}/archive")
    async def archive(thing_id: str, principal: CurrentPrincipal) -> None:
        return None

    app.include_router(api)
    openapi.document_api(app)
    openapi.declare_errors(app, {"POST /v1/things/*/archive": (409,), "POST /v1/gone": (409,)})
    with pytest.raises(ValueError, match="/v1/gone"):
        app.openapi()


def test_a_described_dependency_gives_its_routes_security_and_errors() -> None:
    app = FastAPI()
    api = APIRouter()

    async def staff_only() -> None:
        return None

    openapi.describe_dependency(staff_only, security=openapi.BEARER, errors=(401, 403))

    @api.get("/v1/secret", dependencies=[Depends(staff_only)])
    async def secret() -> dict[str, str]:
        return {}

    @api.get("/v1/open")
    async def open_() -> dict[str, str]:
        return {}

    app.include_router(api)
    openapi.document_api(app)
    document = app.openapi()
    secret_op, open_op = document["paths"]["/v1/secret"]["get"], document["paths"]["/v1/open"]["get"]
    assert secret_op["security"] == [{"bearerAuth": []}]
    assert {"401", "403"} <= set(secret_op["responses"])
    assert open_op["security"] == []
    assert set(open_op["responses"]) == {"200"}
    validate(document, cls=OpenAPIV31SpecValidator)


@pytest.mark.parametrize(
    ("name", "page"),
    [
        *((name, "/docs") for name in ("instances", "support", "reports", "activity", "gateway")),
        ("gateway", "/api/v1/docs"),
    ],
)
def test_swagger_ui_is_served_from_the_service_itself(apps: dict[str, FastAPI], name: str, page: str) -> None:
    [html] = _get(apps[name], page)
    assert html.status_code == 200
    assert "script-src 'self'" in html.headers["content-security-policy"]
    assert "http" not in html.text, "nothing from another origin"
    assets = re.findall(r'(?:src|href)="([^"]+)"', html.text)
    assert {f"{page}/swagger-ui-bundle.js", f"{page}/swagger-ui.css", f"{page}/docs.js"} <= set(assets)
    answers = _get(apps[name], *assets, f"{page}/index.html", f"{page}/..%2F__init__.py")
    for asset, answer in zip(assets, answers, strict=False):
        assert answer.status_code == 200, asset
    assert "SwaggerUIBundle({" in answers[assets.index(f"{page}/docs.js")].text
    assert [a.status_code for a in answers[len(assets) :]] == [404, 404], "only Swagger UI's own files"
    [redoc] = _get(apps[name], "/redoc")
    assert redoc.status_code == 404, "FastAPI's pages load their scripts from a CDN"


def test_the_public_document_describes_each_webhook_delivery(documents: dict[str, dict[str, Any]]) -> None:
    """OpenAPI 3.1 `webhooks` (#19): one per event a subscription may choose, its body the
    CloudEvent with that event's payload, the three Standard Webhooks headers."""
    hooks = documents["public"]["webhooks"]
    assert {"instance.provisioned", "license.revoked", "message.posted", "webhook.test"} <= set(hooks)
    schemas = documents["public"]["components"]["schemas"]
    for name, item in hooks.items():
        operation = item["post"]
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}, name
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        envelope = schemas[ref.rsplit("/", 1)[1]]
        assert {"id", "type", "source", "time", "specversion", "subject", "data"} <= set(envelope["properties"]), name
        assert "422" not in operation["responses"], name
