"""Security through the gateway: the role matrix (partner tokens on staff-only routes and
filters), ingest keys confined to their instance, the panel's impersonation tokens (scope,
expiry, pinned signature, useless as access tokens, audited), rate limits answering 429 with
Retry-After, and token attacks beyond those of `test_gateway_auth`."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import jwt
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import serialization
from pymongo import AsyncMongoClient

from contracts import ingest_keys
from gateway.service_layer.commands import GatewayCommands
from servicekit.api import provided_on
from servicekit.auth import TokenIssuer, TokenVerifier, generate_key_pair
from servicekit.principal import Principal
from servicekit.problems import Problem
from servicekit.testing import eventually

from .conftest import MONGO, PASSWORD, Stack, add_user, running_stack
from .test_gateway_platform import PartnerWorld, build_world, required_query

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

ISSUER, AUDIENCE = "partnerapp-gateway", "partnerapp"
PANEL_ISSUER, PANEL_AUDIENCE = "partnerapp-instances", "partnerapp-panel"
PROBLEM = "application/problem+json"
IMPERSONATION_KEYS = generate_key_pair()


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(topic_prefix: str, key_pair: tuple[str, str]) -> AsyncIterator[Stack]:
    """The stack of this module signs impersonation tokens with a key of its own."""
    async with running_stack(topic_prefix, key_pair, impersonation_key=IMPERSONATION_KEYS[0]) as started:
        yield started


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def worlds(stack: Stack) -> tuple[PartnerWorld, PartnerWorld]:
    mine, theirs = await asyncio.gather(build_world(stack, _unique), build_world(stack, _unique))
    return mine, theirs


def assert_problem(response: httpx2.Response, status: int) -> dict[str, Any]:
    label = f"{response.request.method} {response.request.url}"
    assert response.status_code == status, f"{label}: {response.status_code} {response.text[:300]}"
    assert response.headers["content-type"].startswith(PROBLEM), label
    body: dict[str, Any] = response.json()
    return body


async def _document(stack: Stack, token: str) -> dict[str, Any]:
    async with stack.client(token) as api:
        document: dict[str, Any] = (await api.get("/api/v1/openapi.json")).json()
    return document


def _routes_with_query(document: dict[str, Any], name: str) -> list[str]:
    """GET routes of the public document that take the query parameter `name`, without path ids
    (an export's format aside)."""
    found = []
    for path, operations in document["paths"].items():
        parameters = operations.get("get", {}).get("parameters", [])
        if any(p["name"] == name and p["in"] == "query" for p in parameters):
            found.append(path.replace("{fmt}", "csv"))
    return found


def _required_query(document: dict[str, Any], path: str) -> dict[str, str]:
    """A valid value for each query parameter the route's document marks required (so the
    `partner_id` check, not input validation, decides the answer)."""
    operations = document["paths"].get(path.replace("csv", "{fmt}"), document["paths"].get(path, {}))
    return required_query(operations.get("get", {}), leave_out=frozenset({"partner_id"}))


# ---------------------------------------------------------------------------------------- roles


async def test_role_matrix_staff_only_routes_and_partner_filters(
    stack: Stack, worlds: tuple[PartnerWorld, PartnerWorld]
) -> None:
    mine, theirs = worlds
    staff = await stack.token(await add_user(stack, _unique("staff"), "staff", (mine.partner_id,)))
    document = await _document(stack, mine.token)
    filtered = _routes_with_query(document, "partner_id")
    assert {"/api/v1/audit", "/api/v1/threads", "/api/v1/reports/summary"} <= set(filtered), filtered
    assert len(filtered) >= 10, filtered
    async with stack.client(mine.token) as partner, stack.client(staff) as vendor:
        # Staff-only routes refuse a partner's token whatever the filters.
        for params in ({}, {"partner_id": mine.partner_id}, {"user_id": "usr-x"}):
            body = assert_problem(await partner.get("/api/v1/audit", params=params), 403)
            assert body["type"].endswith("staff-only")
        # Every `partner_id` filter: another partner is a 403 for both roles, never their data.
        for path in filtered:
            base = _required_query(document, path)
            for client in (partner, vendor):
                response = await client.get(path, params={**base, "partner_id": theirs.partner_id})
                if path == "/api/v1/audit" and client is partner:
                    assert_problem(response, 403)
                    continue
                body = assert_problem(response, 403)
                assert theirs.company_id not in response.text
                assert any(e["field"] == "partner_id" for e in body.get("errors", [])), (path, body)
            # The own partner is fine for the staff member associated with it.
            own = await vendor.get(path, params={**base, "partner_id": mine.partner_id})
            assert own.status_code == 200, f"{path}: {own.status_code} {own.text[:300]}"
        # A partner user cannot switch to another partner; a staff member only to an associated one.
    async with stack.client() as anonymous:
        email = stack.users[jwt.decode(mine.token, options={"verify_signature": False})["sub"]]
        refused = await anonymous.post(
            "/api/v1/auth/login", json={"email": email, "password": PASSWORD, "partner_id": theirs.partner_id}
        )
        assert_problem(refused, 403)


async def test_a_token_for_a_partner_the_user_was_removed_from_is_refused(stack: Stack) -> None:
    """The services trust the token's `partners` for a staff member's filters: the gateway must
    refuse the token once one of them is no longer the user's, not only its acting partner."""
    north, south = _unique("ptn"), _unique("ptn")
    user_id = _unique("staff")
    email = await add_user(stack, user_id, "staff", (north, south))
    token = await stack.token(email, partner_id=north)
    async with stack.client(token) as client:
        assert (await client.get("/api/v1/threads", params={"partner_id": south})).status_code == 200
        commands: GatewayCommands = provided_on(stack.app, GatewayCommands)
        await commands._users.update(user_id, {"partner_ids": [north]})  # an admin's change
        for path, params in (
            ("/api/v1/threads", {"partner_id": south}),
            ("/api/v1/reports/summary", {"partner_id": south}),
            ("/api/v1/threads", {}),
            ("/api/v1/profile", {}),
        ):
            assert_problem(await client.get(path, params=params), 401)
    fresh = await stack.login(email)
    assert fresh["partner_id"] == north
    async with stack.client(fresh["access_token"]) as client:
        assert_problem(await client.get("/api/v1/threads", params={"partner_id": south}), 403)


# ----------------------------------------------------------------------------------- ingest keys


async def test_an_ingest_key_writes_only_into_its_own_instance(
    stack: Stack, worlds: tuple[PartnerWorld, PartnerWorld]
) -> None:
    mine, theirs = worlds
    now = datetime.now(UTC)

    def event(**changes: Any) -> dict[str, Any]:
        return {
            "event_id": str(uuid.uuid4()),
            "serial": theirs.serial,
            "pin": "4821",
            "action": "error",
            "occurred_at": (now - timedelta(seconds=10)).isoformat(),
            **changes,
        }

    async with stack.client(theirs.token) as victim:
        history = (await victim.get("/api/v1/activity/records", params={"serial": theirs.serial})).json()["items"]
    key = {"X-Ingest-Key": mine.ingest_key}
    async with stack.client() as terminal:
        sent = event()
        accepted = await terminal.post("/api/v1/ingest/events", json={"events": [sent]}, headers=key)
        assert accepted.status_code == 202, accepted.text
        for claim in ("instance_id", "partner_id"):
            value = theirs.instance_id if claim == "instance_id" else theirs.partner_id
            refused = await terminal.post(
                "/api/v1/ingest/events", json={"events": [event(**{claim: value})]}, headers=key
            )
            body = assert_problem(refused, 422)
            assert [e["field"] for e in body["errors"]] == [f"events.0.{claim}"]
        # A key naming the victim's instance with another secret: the digest decides, 401.
        forged = ingest_keys.compose(theirs.instance_id, mine.ingest_key.rsplit(".", 1)[1])
        for response in (
            await terminal.post("/api/v1/ingest/events", json={"events": [event()]}, headers={"X-Ingest-Key": forged}),
            await terminal.get(
                "/api/v1/device/configuration", params={"serial": theirs.serial}, headers={"X-Ingest-Key": forged}
            ),
        ):
            assert_problem(response, 401)
        config = await terminal.get("/api/v1/device/configuration", params={"serial": theirs.serial}, headers=key)
        assert config.status_code == 200, config.text
        assert config.json()["instance_id"] == mine.instance_id, "the key's own instance, whatever the serial"
    async with stack.client(mine.token) as owner:

        async def recorded() -> dict[str, Any] | None:
            items = (await owner.get("/api/v1/activity/records", params={"serial": theirs.serial})).json()["items"]
            return next((i for i in items if i["event_id"] == sent["event_id"]), None)

        record = await eventually(recorded)
        assert record["instance_id"] == mine.instance_id
    async with stack.client(theirs.token) as victim:
        after = (await victim.get("/api/v1/activity/records", params={"serial": theirs.serial})).json()["items"]
        assert [i["id"] for i in after] == [i["id"] for i in history], "the victim's terminal history is unchanged"
        assert_problem(await victim.get(f"/api/v1/activity/records/{record['id']}"), 404)


async def test_a_rotated_ingest_key_stops_working(stack: Stack) -> None:
    world = await build_world(stack, _unique)
    async with stack.client(world.token) as owner:
        rotated = await owner.post(f"/api/v1/instances/{world.instance_id}/ingest-key")
        assert rotated.status_code == 200, rotated.text
        new_key = rotated.json()["ingest_key"]
    assert new_key != world.ingest_key
    batch = {
        "events": [
            {
                "event_id": str(uuid.uuid4()),
                "serial": world.serial,
                "action": "clock_out",
                "occurred_at": datetime.now(UTC).isoformat(),
            }
        ]
    }
    async with stack.client() as terminal:
        old = {"X-Ingest-Key": world.ingest_key}
        config = await terminal.get("/api/v1/device/configuration", params={"serial": world.serial}, headers=old)
        assert_problem(config, 401)

        async def old_refused() -> bool:  # activity learns the rotation through Kafka
            response = await terminal.post("/api/v1/ingest/events", json=batch, headers=old)
            return response.status_code == 401

        await eventually(old_refused)
        refused = await terminal.post("/api/v1/ingest/events", json=batch, headers=old)
        assert_problem(refused, 401)
        assert refused.headers["WWW-Authenticate"] == "IngestKey"

        async def new_accepted() -> bool:
            response = await terminal.post("/api/v1/ingest/events", json=batch, headers={"X-Ingest-Key": new_key})
            return response.status_code == 202

        await eventually(new_accepted)


# --------------------------------------------------------------------------------- impersonation


async def test_impersonation_token_scope_expiry_signature_and_audit(
    stack: Stack, worlds: tuple[PartnerWorld, PartnerWorld], key_pair: tuple[str, str]
) -> None:
    mine, theirs = worlds
    user_id = jwt.decode(mine.token, options={"verify_signature": False})["sub"]
    route = f"/api/v1/instances/{mine.instance_id}/licenses/{mine.license_id}/impersonate"
    async with stack.client(mine.token) as api:
        assert_problem(await api.post(route, json={}), 422)
        assert_problem(await api.post(route, json={"reason": "  "}), 422)
        other = f"/api/v1/instances/{theirs.instance_id}/licenses/{theirs.license_id}/impersonate"
        assert_problem(await api.post(other, json={"reason": "let me in"}), 404)
        mixed = f"/api/v1/instances/{mine.instance_id}/licenses/{theirs.license_id}/impersonate"
        assert_problem(await api.post(mixed, json={"reason": "let me in"}), 404)
        granted = await api.post(route, json={"reason": "Customer asked for help with the panel"})
        assert granted.status_code == 200, granted.text
        grant = granted.json()
        license_ = (await api.get(f"/api/v1/instances/{mine.instance_id}/licenses/{mine.license_id}")).json()

    token = grant["token"]
    assert grant["panel_url"].endswith(f"#token={token}"), "in the fragment: never sent to a server or logged"
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA"
    assert not {"kid", "jku", "jwk", "x5u"} & set(header)
    public = IMPERSONATION_KEYS[1]
    claims = jwt.decode(token, public, algorithms=["EdDSA"], audience=PANEL_AUDIENCE, issuer=PANEL_ISSUER)
    assert claims["sub"] == mine.license_id
    assert claims["instance_id"] == mine.instance_id
    assert claims["email"] == license_["email"]
    assert claims["act"] == {"sub": user_id}, "RFC 8693: who really acts"
    assert not {"role", "partner_id", "partners", "sid"} & set(claims), "nothing of an access token"
    assert 295 <= claims["exp"] - claims["iat"] <= 305, "about five minutes"
    assert abs(claims["exp"] - datetime.fromisoformat(grant["expires_at"]).timestamp()) < 1
    assert abs(claims["iat"] - datetime.now(UTC).timestamp()) < 30
    with pytest.raises(jwt.InvalidAlgorithmError):  # the algorithm is pinned, not taken from the token
        jwt.decode(token, public, algorithms=["HS256"], audience=PANEL_AUDIENCE)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, key_pair[1], algorithms=["EdDSA"], audience=PANEL_AUDIENCE)

    # Useless as an access token: at the gateway (own, forwarded and composed routes) and at the services.
    async with stack.client(token) as impostor:
        for path in ("/api/v1/profile", "/api/v1/instances", f"/api/v1/views/instances/{mine.instance_id}"):
            assert_problem(await impostor.get(path), 401)
        assert_problem(await impostor.post(route, json={"reason": "again"}), 401)
    with pytest.raises(Problem) as refused:
        TokenVerifier(key_pair[1], issuer=ISSUER, audience=AUDIENCE).verify(token)
    assert refused.value.status == 401

    # Audited: at the gateway (who called, for which partner) and in the instances service (who, whom, why).
    staff = await stack.token(await add_user(stack, _unique("staff"), "staff", (mine.partner_id,)))
    async with stack.client(staff) as vendor:
        page = await vendor.get("/api/v1/audit", params={"partner_id": mine.partner_id, "user_id": user_id})
        assert page.status_code == 200, page.text
        entries = [
            e for e in page.json()["items"] if e["action"] == "POST /api/v1/instances/{id}/licenses/{id}/impersonate"
        ]
        assert [(e["status"], e["target_id"], e["partner_id"]) for e in entries][:1] == [
            (200, mine.instance_id, mine.partner_id)
        ]
    instances_db = next(name for name in stack.databases if name.endswith("_instances"))
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO)
    try:

        async def audited() -> list[dict[str, Any]] | None:
            found = await client[instances_db]["audit"].find({"action": "license.impersonate"}).to_list(10)
            return found or None

        entries = await eventually(audited)
    finally:
        await client.close()
    assert [(e["actor_id"], e["target_id"], e["detail"]["user"]) for e in entries] == [
        (user_id, mine.license_id, license_["email"])
    ]
    assert entries[0]["detail"]["reason"] == "Customer asked for help with the panel"


async def test_a_revoked_license_cannot_be_impersonated(stack: Stack) -> None:
    world = await build_world(stack, _unique)
    base = f"/api/v1/instances/{world.instance_id}/licenses/{world.license_id}"
    async with stack.client(world.token) as api:
        assert (await api.post(f"{base}/revoke", json={"reason": "left the company"})).status_code == 200
        body = assert_problem(await api.post(f"{base}/impersonate", json={"reason": "look around"}), 409)
        assert body.get("current_state") == "revoked"


# ------------------------------------------------------------------------------------ rate limits


async def test_login_rate_limit_per_client_answers_429_with_retry_after(stack: Stack) -> None:
    limiter = stack.app.state.login_limiter
    limiter.limit, saved = 2, limiter.limit
    limiter.reset()
    try:
        async with stack.client() as client:
            statuses = []
            for _ in range(4):
                response = await client.post(
                    "/api/v1/auth/login", json={"email": f"{_unique('x')}@example.com", "password": "whatever-123"}
                )
                statuses.append(response.status_code)
            assert statuses == [401, 401, 429, 429], statuses
            assert_problem(response, 429)
            assert 1 <= int(response.headers["Retry-After"]) <= 60
    finally:
        limiter.limit = saved
        limiter.reset()


async def test_ingest_rate_limit_per_key_answers_429_with_retry_after(
    stack: Stack, worlds: tuple[PartnerWorld, PartnerWorld]
) -> None:
    mine, theirs = worlds
    limiter = stack.app.state.ingest_limiter
    limiter.limit, saved = 3, limiter.limit
    limiter.reset()
    empty: dict[str, list[Any]] = {
        "events": []
    }  # refused by the activity service (422) when admitted: nothing is written
    try:
        async with stack.client() as terminal:
            burst = await asyncio.gather(
                *(
                    terminal.post("/api/v1/ingest/events", json=empty, headers={"X-Ingest-Key": mine.ingest_key})
                    for _ in range(12)
                )
            )
            limited = [r for r in burst if r.status_code == 429]
            assert len(limited) >= 12 - 2 * limiter.limit, [r.status_code for r in burst]  # a window may turn over
            assert {r.status_code for r in burst} <= {422, 429}
            for response in limited:
                assert_problem(response, 429)
                assert int(response.headers["Retry-After"]) >= 1
            other_key = await terminal.post(
                "/api/v1/ingest/events", json=empty, headers={"X-Ingest-Key": theirs.ingest_key}
            )
            assert other_key.status_code == 422, "each key has its own budget"
            config = await terminal.get(
                "/api/v1/device/configuration",
                params={"serial": mine.serial},
                headers={"X-Ingest-Key": mine.ingest_key},
            )
            assert config.status_code in (200, 429)
    finally:
        limiter.limit = saved
        limiter.reset()


# ---------------------------------------------------------------------------------- token attacks


def _sign(claims: dict[str, Any], private_pem: str, headers: dict[str, Any] | None = None) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return jwt.encode(claims, key, algorithm="EdDSA", headers=headers)  # type: ignore[arg-type]


async def test_more_token_attacks_are_refused(
    stack: Stack, key_pair: tuple[str, str], worlds: tuple[PartnerWorld, PartnerWorld]
) -> None:
    mine, theirs = worlds
    good = mine.token
    claims = jwt.decode(good, options={"verify_signature": False})
    attacker_private, attacker_public = generate_key_pair()
    attacker_jwk = json.loads(
        jwt.algorithms.OKPAlgorithm.to_jwk(serialization.load_pem_public_key(attacker_public.encode()))  # type: ignore[arg-type]
    )
    now = datetime.now(UTC)
    other_user = await stack.login(await add_user(stack, _unique("usr"), "partner", (mine.partner_id,)))
    principal = Principal(claims["sub"], "partner", mine.partner_id, frozenset({mine.partner_id}))
    issuer = TokenIssuer(key_pair[0], issuer=ISSUER, audience=AUDIENCE)
    attacks = {
        "attacker key, its public key embedded (jwk)": _sign(claims, attacker_private, {"jwk": attacker_jwk}),
        "attacker key, fetched from a URL (jku)": _sign(claims, attacker_private, {"jku": "https://evil.example/k"}),
        "attacker key, kid path injection": _sign(claims, attacker_private, {"kid": "../../../../dev/null"}),
        "signed by the impersonation key": _sign(claims, IMPERSONATION_KEYS[0]),
        "no session (right key)": issuer.issue(principal),
        "an unknown session (right key)": issuer.issue(principal, session_id="ses_forged"),
        "a session of another user": _sign(
            {**claims, "sid": jwt.decode(other_user["access_token"], options={"verify_signature": False})["sid"]},
            key_pair[0],
        ),
        "not valid yet (right key)": _sign({**claims, "nbf": int((now + timedelta(hours=1)).timestamp())}, key_pair[0]),
        "a partner claiming two partners (right key)": _sign(
            {**claims, "partners": [mine.partner_id, theirs.partner_id]}, key_pair[0]
        ),
        "a partner claiming the staff role (right key)": _sign({**claims, "role": "staff"}, key_pair[0]),
        "acting for another partner (right key)": _sign(
            {**claims, "partner_id": theirs.partner_id, "partners": [theirs.partner_id]}, key_pair[0]
        ),
        "EdDSA header, signature stripped": ".".join(good.split(".")[:2]) + ".",
        "the refresh token": "",  # filled below
    }
    tokens = await stack.login(stack.users[claims["sub"]])
    attacks["the refresh token"] = tokens["refresh_token"]
    async with stack.client() as client:
        for name, token in attacks.items():
            for path in ("/api/v1/profile", "/api/v1/instances", f"/api/v1/views/instances/{mine.instance_id}"):
                response = await client.get(path, headers={"Authorization": f"Bearer {token}"})
                assert response.status_code == 401, f"{name} on {path}: {response.status_code} {response.text[:200]}"
                assert response.headers["content-type"].startswith(PROBLEM)
        for header in (f"Basic {good}", good, f"Token {good}"):
            assert_problem(await client.get("/api/v1/profile", headers={"Authorization": header}), 401)
        assert_problem(await client.get("/api/v1/profile", params={"access_token": good}), 401)
        # `kid`/`jku` on a token signed by the right key change nothing: no key is looked up from the token.
        decorated = _sign(claims, key_pair[0], {"kid": "attacker", "jku": "https://evil.example/k"})
        response = await client.get("/api/v1/profile", headers={"Authorization": f"Bearer {decorated}"})
        assert response.status_code == 200 and response.json()["id"] == claims["sub"]
