"""Every operation of the public API document, fuzzed by schemathesis through the real gateway.

The merged document (`/api/v1/openapi.json`) is loaded from the running stack; each operation gets
generated requests, valid ones and invalid ones, with a valid token and the real ids of a partner
seeded through the API, so they reach the handlers rather than stopping at a 404. Every answer
must be below 500, every 4xx a problem+json document, and every documented answer must match its
schema. `FUZZ_EXAMPLES` sets the examples per operation and mode (default 20), `FUZZ_SEED`
replays a run.

Requests are sent synchronously (schemathesis uses `requests`) from a worker thread, so the
stack, which runs in this test's event loop, keeps serving them.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from .conftest import PASSWORD, Stack, add_user
from .test_gateway_platform import PartnerWorld, build_world

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.asyncio(loop_scope="module"),
    # 20 examples over ~70 operations: ~90 s on a quiet 2-core machine, past 180 s under load.
    pytest.mark.timeout(900),
    # schemathesis' strategies draw from `random`; Hypothesis warns about it, harmlessly here.
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "20"))
SEED = int(os.environ.get("FUZZ_SEED") or random.randrange(2**32))  # noqa: S311 - a failure names it, to replay the run
PROBLEM = "application/problem+json"
# A stream that only ends when the token expires: `test_gateway_platform` covers it.
NOT_FUZZED = {("GET", "/api/v1/notifications/stream")}
# Operations that end the session they are called with: each example gets a session of its own.
OWN_SESSION = {("POST", "/api/v1/auth/logout"), ("POST", "/api/v1/profile/password")}
STAFF_ONLY = {("GET", "/api/v1/audit")}
TERMINAL = {("POST", "/api/v1/ingest/events"), ("GET", "/api/v1/device/configuration")}


@dataclass
class Findings:
    """Every distinct failure, so one run reports all of them."""

    seen: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: int = 0

    def add(self, key: str, report: str) -> None:
        with self.lock:
            self.seen.setdefault(key, report)


def _problem_check(response: schemathesis.Response, label: str) -> str | None:
    if 400 <= response.status_code < 500:
        content_type = next(iter(response.headers.get("content-type", [])), "")
        text = response.content[:300].decode(errors="replace")
        if not content_type.startswith(PROBLEM):
            return f"{label}: {response.status_code} answered as {content_type!r}: {text}"
        body = response.json()
        if body.get("status") != response.status_code or not body.get("type") or not body.get("title"):
            return f"{label}: {response.status_code} is not a problem document: {text}"
    return None


def _fuzz_operation(
    operation: Any,
    *,
    mode: GenerationMode,
    base_url: str,
    headers: dict[str, str],
    path_parameters: dict[str, str],
    session_headers: Callable[[], dict[str, str]] | None,
    findings: Findings,
) -> None:
    label = f"{operation.method.upper()} {operation.path}"
    fixed = {name: value for name, value in path_parameters.items() if f"{{{name}}}" in operation.path}
    documented_headers = {p.name.lower() for p in operation.headers}
    strategy = operation.as_strategy(
        generation_mode=mode,
        path_parameters=fixed or None,
        headers={k: v for k, v in headers.items() if k.lower() in documented_headers} or None,
    )
    http = requests.Session()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        sent = {**headers, **(session_headers() if session_headers else {})}
        for name, value in fixed.items():  # a negative case may have replaced a fixed id
            case.path_parameters[name] = value
        try:
            response = case.call(base_url=base_url, headers=sent, session=http, timeout=30)
        except requests.RequestException as exc:
            findings.add(f"{label}:{type(exc).__name__}", f"{label} [{mode}]: {exc!r}\n{case.as_curl_command()}")
            return
        findings.calls += 1
        if problem := _problem_check(response, label):
            findings.add(f"{label}:problem:{response.status_code}", f"{problem}\n{case.as_curl_command(headers=sent)}")
        checks = [not_a_server_error, response_schema_conformance, content_type_conformance]
        try:
            case.validate_response(response, checks=checks, headers=sent)
        except FailureGroup as group:  # one per distinct check failure
            for failure in group.exceptions:
                findings.add(f"{label}:{failure.title}:{response.status_code}", f"{label} [{mode}]: {group}")

    try:
        seed(SEED)(run)()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        # Nothing of this operation can be made invalid (no parameters, no body).
    finally:
        http.close()


async def _seed(stack: Stack) -> tuple[PartnerWorld, dict[str, str]]:
    def unique(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:8]}"

    world = await build_world(stack, unique)
    staff = await stack.token(await add_user(stack, unique("staff"), "staff", (world.partner_id,)))
    return world, {"staff": staff}


async def test_every_operation_survives_generated_requests(stack: Stack) -> None:
    world, tokens = await _seed(stack)
    async with stack.client(world.token) as api:
        document = (await api.get("/api/v1/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)
    ids = {
        "company_id": world.company_id,
        "instance_id": world.instance_id,
        "license_id": world.license_id,
        "thread_id": world.thread_id,
        "record_id": world.record_id,
        "serial": world.serial,
        "subscription_id": world.subscription_id,
        "delivery_id": "dlv_" + "0" * 32,
    }
    user_email = stack.users[jwt.decode(world.token, options={"verify_signature": False})["sub"]]
    findings = Findings()

    def fresh_session() -> dict[str, str]:
        response = requests.post(
            f"{stack.url}/api/v1/auth/login",
            json={"email": user_email, "password": PASSWORD},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def fuzz_all() -> list[str]:
        labels = []
        operations = []
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), f"the document is invalid: {result}"
            operations.append(result.ok())
        # The terminals' routes first: fuzzing `POST …/ingest-key` rotates the seeded key away.
        operations.sort(key=lambda op: (op.method.upper(), op.path) not in TERMINAL)
        for operation in operations:
            key = (operation.method.upper(), operation.path)
            if key in NOT_FUZZED:
                continue
            if key in TERMINAL:
                headers = {"X-Ingest-Key": world.ingest_key}
            elif key in STAFF_ONLY:
                headers = {"Authorization": f"Bearer {tokens['staff']}"}
            else:
                headers = {"Authorization": f"Bearer {world.token}"}
            labels.append(" ".join(key))
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _fuzz_operation(
                    operation,
                    mode=mode,
                    base_url=stack.url,
                    headers={} if key in OWN_SESSION else headers,
                    path_parameters=ids,
                    session_headers=fresh_session if key in OWN_SESSION else None,
                    findings=findings,
                )
        return labels

    labels = await asyncio.to_thread(fuzz_all)
    assert len(labels) >= 60, labels
    assert findings.calls >= len(labels) * 2, findings.calls
    assert not findings.seen, f"FUZZ_SEED={SEED} replays this run.\n\n" + "\n\n".join(findings.seen.values())
