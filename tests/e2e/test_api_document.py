"""The public API document against what the API really answers, and its docs page in a browser.

Every operation of `/api/v1/openapi.json` is called without a credential: those that declare a
security scheme answer 401 (documented, problem+json, with a challenge), the public ones do not.
Every operation naming objects is called by another partner with a partner's real ids: 404, and
documented. A sample of the other errors (403, 409, 413, 422) is provoked and must be documented
for its operation. The docs page (`/api/v1/docs`) runs in headless Chromium under the gateway's
Content-Security-Policy: Swagger UI from the gateway itself, the Authorize button with both
schemes, no CSP violation and no request to another origin.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest
import pytest_asyncio
from playwright.async_api import Browser, ConsoleMessage, Request

from .browser import chromium, new_page, screenshot
from .conftest import Stack, running_stack
from .test_gateway_platform import PartnerWorld, build_world, required_query

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

PROBLEM = "application/problem+json"
METHODS = ("get", "put", "post", "delete", "patch")
# The stream answers once the token expires: its 401 without a token is checked, not its 200.
STREAMS = {"GET /api/v1/notifications/stream"}


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(topic_prefix: str, key_pair: tuple[str, str]) -> AsyncIterator[Stack]:
    async with running_stack(topic_prefix, key_pair) as started:
        yield started


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def worlds(stack: Stack) -> tuple[PartnerWorld, PartnerWorld]:
    mine, theirs = await asyncio.gather(build_world(stack, _unique), build_world(stack, _unique))
    return mine, theirs


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def document(stack: Stack) -> dict[str, Any]:
    async with stack.client() as client:
        response = await client.get("/api/v1/openapi.json")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, item[method])
        for path, item in document["paths"].items()
        for method in METHODS
        if method in item
    ]


def _url(path: str, ids: dict[str, str], operation: dict[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in ids:
            return ids[name]
        schema = next(p["schema"] for p in operation["parameters"] if p["name"] == name and p["in"] == "path")
        return str(schema["enum"][0]) if "enum" in schema else f"zz-{name}-missing"

    return re.sub(r"{(\w+)}", value, path)


def assert_documented(operation: dict[str, Any], label: str, response: httpx2.Response) -> None:
    status = str(response.status_code)
    assert status in operation["responses"], f"{label} answered {status}, not documented: {response.text[:300]}"
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith(PROBLEM), f"{label}: {response.headers['content-type']}"
        body = response.json()
        assert body["status"] == response.status_code, label
        assert {"type", "title", "status", "detail"} <= set(body), label


async def test_operations_declaring_a_credential_refuse_calls_without_one(
    stack: Stack, document: dict[str, Any]
) -> None:
    secured = public = 0
    async with stack.client() as anonymous:
        for method, path, operation in operations(document):
            label = f"{method} {path}"
            params: dict[str, str] = {}
            body: dict[str, Any] | None = None
            if path == "/api/v1/ingest/events":  # a valid batch: the key is all that is missing
                event = {
                    "event_id": str(uuid.uuid4()),
                    "serial": "SR-DOC-1",
                    "action": "clock_in",
                    "occurred_at": datetime.now(UTC).isoformat(),
                }
                body = {"events": [event]}
            if path == "/api/v1/device/configuration":
                params = {"serial": "SR-DOC-1"}
            response = await anonymous.request(method, _url(path, {}, operation), params=params, json=body)
            if operation["security"]:
                secured += 1
                assert response.status_code == 401, f"{label}: {response.status_code} {response.text[:200]}"
                assert response.headers.get("www-authenticate"), label
            else:
                public += 1
                assert response.status_code != 401, label
            assert_documented(operation, label, response)
    assert secured >= 60
    assert public >= 4


async def test_another_partners_ids_answer_the_documented_404(
    stack: Stack, document: dict[str, Any], worlds: tuple[PartnerWorld, PartnerWorld]
) -> None:
    """Every operation that names an object and needs no body, called by the other partner."""
    victim, attacker = worlds
    ids = {
        "company_id": victim.company_id,
        "instance_id": victim.instance_id,
        "license_id": victim.license_id,
        "thread_id": victim.thread_id,
        "record_id": victim.record_id,
        "serial": victim.serial,
        "attachment_id": "att_" + "0" * 24,
        "reply_id": "cr_" + "0" * 24,
    }
    called = []
    async with stack.client(attacker.token) as api:
        for method, path, operation in operations(document):
            label = f"{method} {path}"
            names = set(re.findall(r"{(\w+)}", path)) & set(ids)
            body = operation.get("requestBody", {})
            if not names or body.get("required") or label in STREAMS:
                continue
            response = await api.request(
                method,
                _url(path, ids, operation),
                params=required_query(operation),
                headers={"Idempotency-Key": _unique("doc-key")},
            )
            # The support team's operations refuse a partner user by role first (403, documented).
            expected = 403 if str(operation.get("summary", "")).startswith("Staff:") else 404
            assert response.status_code == expected, f"{label}: {response.status_code} {response.text[:200]}"
            assert_documented(operation, label, response)
            called.append(label)
    assert len(called) >= 20, called


async def test_a_sample_of_other_errors_is_documented(
    stack: Stack, document: dict[str, Any], worlds: tuple[PartnerWorld, PartnerWorld]
) -> None:
    mine, theirs = worlds
    by_label = {f"{method} {path}": operation for method, path, operation in operations(document)}
    big = {"name": "x" * 2_000_000}
    samples = [
        # another partner than the caller's own: 403, the partner names the field
        ("GET", "/api/v1/threads", {"params": {"partner_id": theirs.partner_id}}, 403),
        ("GET", "/api/v1/reports/summary", {"params": {"partner_id": theirs.partner_id}}, 403),
        # the instance is generated already: provisioning it again is a 409 naming the state
        ("POST", f"/api/v1/provisionings/{mine.instance_id}/provision", {}, 409),
        ("POST", "/api/v1/companies", {"json": big}, 413),
        ("GET", "/api/v1/instances", {"params": {"limit": "0"}}, 422),
        ("GET", "/api/v1/activity/records", {"params": {"serial": mine.serial, "pin": "1"}}, 422),
        ("POST", "/api/v1/auth/login", {"json": {"email": "nobody@example.com", "password": "wrong"}}, 401),
        ("GET", "/api/v1/audit", {}, 403),  # a partner user, not staff
    ]
    async with stack.client(mine.token) as api:
        for method, url, options, status in samples:
            template = next(
                path
                for path in document["paths"]
                if re.fullmatch(re.sub(r"\\{\w+\\}", "[^/]+", re.escape(path)), url)
                and method.lower() in document["paths"][path]
            )
            response = await api.request(method, url, **options)
            label = f"{method} {template}"
            assert response.status_code == status, f"{label}: {response.status_code} {response.text[:200]}"
            assert_documented(by_label[label], label, response)


async def test_the_docs_page_works_offline_under_the_content_security_policy(stack: Stack) -> None:
    async with stack.client() as client:
        page_response = await client.get("/api/v1/docs")
        assert page_response.status_code == 200
        policy = page_response.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "cdn" not in page_response.text.lower()
        for asset in re.findall(r'(?:src|href)="(/api/v1/docs/[^"]+)"', page_response.text):
            fetched = await client.get(asset)
            assert fetched.status_code == 200, asset
        unknown = await client.get("/api/v1/docs/..%2F..%2Fpyproject.toml")
        assert unknown.status_code == 404
    foreign: list[str] = []
    console: list[str] = []
    async with chromium() as browser:
        await _open_docs(browser, stack.url, foreign, console)
    assert not foreign, f"requests to other origins: {foreign}"
    assert not [m for m in console if "Content Security Policy" in m or "Refused" in m], console


async def _open_docs(browser: Browser, base_url: str, foreign: list[str], console: list[str]) -> None:
    async with new_page(browser, base_url) as page:

        def on_request(request: Request) -> None:
            if not request.url.startswith((base_url, "data:", "blob:")):
                foreign.append(request.url)

        def on_console(message: ConsoleMessage) -> None:
            console.append(f"{message.type}: {message.text}")

        page.on("request", on_request)
        page.on("console", on_console)
        await page.add_init_script(
            "window.__violations = [];"
            "document.addEventListener('securitypolicyviolation',"
            " e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));"
        )
        await page.goto("/api/v1/docs")
        authorize = page.locator(".swagger-ui button.authorize")
        await authorize.wait_for()
        assert await page.locator(".swagger-ui .opblock").count() >= 60
        await authorize.click()
        dialog = page.locator(".swagger-ui .dialog-ux .modal-ux")
        await dialog.wait_for()
        text = await dialog.inner_text()
        assert "bearerAuth" in text, text
        assert "ingestKey" in text, text
        assert "X-Ingest-Key" in text, text
        await screenshot(page, "api-docs-authorize")
        violations = await page.evaluate("window.__violations")
        assert violations == [], violations
