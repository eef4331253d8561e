"""Users at the gateway: login, refresh rotation, logout, lockout, acting partner, profile,
staff-only routes, audit, and the token attacks every route must refuse with 401."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization

from gateway.service_layer.commands import GatewayCommands
from gateway.service_layer.queries import GatewayQueries
from servicekit.api import provided_on
from servicekit.auth import TokenIssuer, generate_key_pair
from servicekit.principal import Principal

from .conftest import PASSWORD, Stack, add_user

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

ISSUER, AUDIENCE = "partnerapp-gateway", "partnerapp"


async def test_login_refresh_rotation_replay_and_logout(stack: Stack, unique: Callable[[str], str]) -> None:
    email = await add_user(stack, unique("usr"), "partner", (unique("ptn"),))
    tokens = await stack.login(email)
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 600
    assert tokens["user"]["email"] == email
    assert "password_hash" not in tokens["user"]
    async with stack.client(tokens["access_token"]) as client:
        assert (await client.get("/api/v1/profile")).json()["email"] == email

    async with stack.client() as anonymous:
        rotated = await anonymous.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert rotated.status_code == 200, rotated.text
        assert rotated.json()["refresh_token"] != tokens["refresh_token"]
        replay = await anonymous.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert replay.status_code == 401, "a spent refresh token is refused"
        after_replay = await anonymous.post(
            "/api/v1/auth/refresh", json={"refresh_token": rotated.json()["refresh_token"]}
        )
        assert after_replay.status_code == 401, "a replay closes the whole session (the thief's and the owner's)"

    second = await stack.login(email)
    async with stack.client(second["access_token"]) as client:
        assert (await client.post("/api/v1/auth/logout")).status_code == 204
        assert (await client.get("/api/v1/profile")).status_code == 401, "logout ends the access token at once"
        assert (await client.get("/api/v1/instances")).status_code == 401, "forwarded routes too"
    async with stack.client() as anonymous:
        refused = await anonymous.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
        assert refused.status_code == 401


async def test_lockout_after_repeated_failures_and_wrong_email_answers_the_same(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    email = await add_user(stack, unique("usr"), "partner", (unique("ptn"),))
    async with stack.client() as client:
        unknown = await client.post("/api/v1/auth/login", json={"email": "nobody@example.com", "password": "x" * 12})
        wrong = await client.post("/api/v1/auth/login", json={"email": email, "password": "wrong password!"})
        assert unknown.status_code == wrong.status_code == 401
        assert unknown.json()["detail"] == wrong.json()["detail"], "no hint whether the e-mail exists"
        assert unknown.headers["content-type"].startswith("application/problem+json")
        statuses = [
            (await client.post("/api/v1/auth/login", json={"email": email, "password": "wrong password!"})).status_code
            for _ in range(4)
        ]
        assert statuses == [401, 401, 401, 429], "the 5th consecutive failure locks the account"
        locked = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert locked.status_code == 429, "even the right password waits for the lock to end"
        assert int(locked.headers["Retry-After"]) > 0


async def test_login_rate_limit_per_client_answers_429_with_retry_after(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    limiter = stack.app.state.login_limiter  # the stack allows many logins; this test lowers the bar
    limiter.limit, saved = 3, limiter.limit
    limiter.reset()
    try:
        await _exhaust_login_limit(stack, unique)
    finally:
        limiter.limit = saved
        limiter.reset()


async def _exhaust_login_limit(stack: Stack, unique: Callable[[str], str]) -> None:
    async with stack.client() as client:
        statuses = []
        for _ in range(5):
            response = await client.post(
                "/api/v1/auth/login", json={"email": f"{unique('x')}@example.com", "password": "whatever-123"}
            )
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert int(response.headers["Retry-After"]) >= 1
                break
        assert statuses == [401, 401, 401, 429], statuses


async def test_staff_picks_an_associated_partner_and_nothing_else(stack: Stack, unique: Callable[[str], str]) -> None:
    north, south, other = unique("ptn"), unique("ptn"), unique("ptn")
    email = await add_user(stack, unique("usr"), "staff", (north, south))
    first = await stack.login(email)
    assert first["partner_id"] == north
    switched = await stack.login(email, partner_id=south)
    assert switched["partner_id"] == south
    async with stack.client() as anonymous:
        refused = await anonymous.post(
            "/api/v1/auth/login", json={"email": email, "password": PASSWORD, "partner_id": other}
        )
        assert refused.status_code == 403
        assert refused.json()["errors"][0]["field"] == "partner_id"
        via_refresh = await anonymous.post(
            "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"], "partner_id": south}
        )
        assert via_refresh.status_code == 200
        assert via_refresh.json()["partner_id"] == south
    async with stack.client(via_refresh.json()["access_token"]) as client:
        partners = (await client.get("/api/v1/partners")).json()
        assert {p["id"]: p["acting"] for p in partners} == {north: False, south: True}

    # The association is checked on every call: a token for a partner the user left stops working.
    queries: GatewayQueries = provided_on(stack.app, GatewayQueries)
    user = await queries.profile(first["user"]["id"])
    commands: GatewayCommands = provided_on(stack.app, GatewayCommands)
    await commands._users.update(user.id, {"partner_ids": [north]})  # an admin's change
    async with stack.client(via_refresh.json()["access_token"]) as client:
        assert (await client.get("/api/v1/profile")).status_code == 401


async def test_profile_update_and_password_change(stack: Stack, unique: Callable[[str], str]) -> None:
    email = await add_user(stack, unique("usr"), "partner", (unique("ptn"),))
    other_device = await stack.login(email)
    this_device = await stack.login(email)
    async with stack.client(this_device["access_token"]) as client:
        updated = await client.patch("/api/v1/profile", json={"name": "Ana Ruiz", "language": "en", "phone": "+34 600"})
        assert updated.status_code == 200, updated.text
        assert (updated.json()["name"], updated.json()["language"]) == ("Ana Ruiz", "en")
        bad = await client.patch("/api/v1/profile", json={"language": "fr"})
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "language"
        unknown_field = await client.patch("/api/v1/profile", json={"role": "staff"})
        assert unknown_field.status_code == 422, "no mass assignment"
        weak = await client.post(
            "/api/v1/profile/password", json={"current_password": PASSWORD, "new_password": "short"}
        )
        assert weak.status_code == 422
        assert weak.json()["errors"][0]["field"] == "new_password"
        wrong = await client.post(
            "/api/v1/profile/password",
            json={"current_password": "not it at all", "new_password": "a brand new passphrase"},
        )
        assert wrong.status_code == 401
        changed = await client.post(
            "/api/v1/profile/password", json={"current_password": PASSWORD, "new_password": "a brand new passphrase"}
        )
        assert changed.status_code == 204
        assert (await client.get("/api/v1/profile")).status_code == 200, "this session goes on"
    async with stack.client(other_device["access_token"]) as client:
        assert (await client.get("/api/v1/profile")).status_code == 401, "the other sessions end"
    async with stack.client() as anonymous:
        new_login = await anonymous.post(
            "/api/v1/auth/login", json={"email": email, "password": "a brand new passphrase"}
        )
        assert new_login.status_code == 200


async def test_profile_patch_is_a_merge_patch(stack: Stack, unique: Callable[[str], str]) -> None:
    email = await add_user(stack, unique("usr"), "partner", (unique("ptn"),))
    async with stack.client(await stack.token(email)) as client:
        start = await client.patch("/api/v1/profile", json={"name": "Ana Ruiz", "phone": "+34 600 000 000"})
        assert start.status_code == 200, start.text
        language = (await client.patch("/api/v1/profile", json={"language": "en"})).json()
        assert (language["name"], language["phone"], language["language"]) == ("Ana Ruiz", "+34 600 000 000", "en")
        merge = await client.patch(
            "/api/v1/profile",
            content=json.dumps({"name": "Ana María Ruiz"}),
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert merge.status_code == 200, merge.text
        assert (merge.json()["name"], merge.json()["phone"]) == ("Ana María Ruiz", "+34 600 000 000")
        for required in ("name", "language"):
            refused = await client.patch("/api/v1/profile", json={required: None, "phone": "+34 700"})
            assert refused.status_code == 422, refused.text
            assert [(e["field"], e["message"]) for e in refused.json()["errors"]] == [
                (required, f"no puede ser null: {required} es obligatorio")  # no Accept-Language: Spanish
            ]
        unchanged = (await client.get("/api/v1/profile")).json()
        assert (unchanged["name"], unchanged["phone"], unchanged["language"]) == (
            "Ana María Ruiz",
            "+34 600 000 000",
            "en",
        )
        cleared = (await client.patch("/api/v1/profile", json={"phone": None})).json()
        assert (cleared["name"], cleared["phone"], cleared["language"]) == ("Ana María Ruiz", None, "en")


async def test_partner_tokens_on_staff_routes_get_403_and_staff_reads_the_audit(
    stack: Stack, unique: Callable[[str], str]
) -> None:
    partner_id = unique("ptn")
    partner_email = await add_user(stack, unique("usr"), "partner", (partner_id,))
    staff_email = await add_user(stack, unique("usr"), "staff", (partner_id,))
    partner_token = await stack.token(partner_email)
    async with stack.client(partner_token) as client:
        assert (await client.get("/api/v1/audit")).status_code == 403
        await client.patch("/api/v1/profile", json={"name": "Audited"})
    async with stack.client(await stack.token(staff_email)) as client:
        page = await client.get("/api/v1/audit", params={"partner_id": partner_id})
        assert page.status_code == 200, page.text
        actions = [(item["action"], item["status"]) for item in page.json()["items"]]
        assert ("PATCH /api/v1/profile", 200) in actions
        assert ("login", 200) in actions
        outsider = await client.get("/api/v1/audit", params={"partner_id": unique("ptn")})
        assert outsider.status_code == 403


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _hs256(claims: dict[str, object], secret: bytes) -> str:
    """The algorithm-confusion attack, signed by hand (PyJWT itself refuses a PEM as HMAC secret)."""
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64(claims)}"
    digest = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}"


async def test_token_attacks_are_refused_with_401(
    stack: Stack, key_pair: tuple[str, str], unique: Callable[[str], str]
) -> None:
    email = await add_user(stack, unique("usr"), "partner", (unique("ptn"),))
    good = await stack.token(email)
    header, payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    now = datetime.now(UTC)
    other_private, _ = generate_key_pair()
    public_pem = key_pair[1].encode()
    principal = Principal(claims["sub"], "partner", claims["partner_id"], frozenset({claims["partner_id"]}))

    def signed(issuer: str = ISSUER, audience: str = AUDIENCE, key: str = key_pair[0], **changes: object) -> str:
        token = TokenIssuer(key, issuer=issuer, audience=audience).issue(principal, session_id=claims["sid"], **changes)  # type: ignore[arg-type]
        return token

    attacks = {
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        "wrong key": signed(key=other_private),
        "HS256 keyed with the public key": _hs256(claims, public_pem),
        "expired": signed(now=now - timedelta(hours=2)),
        "wrong audience": signed(audience="someone-else"),
        "wrong issuer": signed(issuer="evil"),
        "tampered payload": f"{header}.{_b64({**claims, 'partner_id': 'ptn-x', 'partners': ['ptn-x']})}.{signature}",
        "garbage": "not-a-token",
    }
    serialization.load_pem_public_key(public_pem)  # the key the attacker knows is indeed the public one
    async with stack.client() as client:
        for name, token in attacks.items():
            for route in ("/api/v1/profile", "/api/v1/instances", "/api/v1/views/instances/inst-1"):
                response = await client.get(route, headers={"Authorization": f"Bearer {token}"})
                assert response.status_code == 401, f"{name} on {route}: {response.status_code} {response.text}"
                assert response.headers["content-type"].startswith("application/problem+json")
        assert (await client.get("/api/v1/profile")).status_code == 401, "no token at all"
        assert (await client.get("/api/v1/profile", headers={"Authorization": f"Bearer {good}"})).status_code == 200
