"""Access tokens: issued by the gateway, verified by every service on every call.

Signed with Ed25519 (JWS `EdDSA`); the algorithm is pinned on both sides so a token cannot
choose its own (no `none`, no HMAC with the public key). `iss`, `aud`, `exp`, `nbf` and `iat`
are required and checked. The OIDC standard claims `name` (display name) and `locale` (es/en)
say who the user is to other people; tokens without them still verify (empty name, no language).
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, Request

from servicekit.principal import Principal
from servicekit.problems import Problem

ALGORITHM = "EdDSA"
REQUIRED_CLAIMS = ["iss", "aud", "exp", "nbf", "iat", "sub", "role", "partner_id"]
LEEWAY = timedelta(seconds=30)
VERIFIED_TOKENS = 10_000
"""Tokens whose signature a verifier remembers (the least recently used go first)."""
MAX_NAME_CHARS = 200
LOCALES = ("es", "en")


class TokenVerifier:
    """Checks access tokens. A token it verified is remembered (its exact text, so its signature):
    the same token again costs a dictionary look-up and the clock checks of `exp` and `nbf`, not an
    Ed25519 verification (the larger part of a forwarded call's own CPU after the network)."""

    def __init__(
        self,
        public_key_pem: str,
        *,
        issuer: str,
        audience: str,
        remembered: int = VERIFIED_TOKENS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = serialization.load_pem_public_key(public_key_pem.encode())
        self._issuer = issuer
        self._audience = audience
        self._remembered = remembered
        self._clock = clock
        self._verified: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def verify(self, token: str) -> Principal:
        return self.principal_of(self.claims(token))

    def claims(self, token: str) -> dict[str, Any]:
        """The token's verified claims (signature, algorithm, iss/aud/exp/nbf checked)."""
        known = self._verified.get(token)
        if known is not None:
            now, leeway = self._clock(), LEEWAY.total_seconds()
            if known["exp"] > now - leeway and known["nbf"] <= now + leeway:
                self._verified.move_to_end(token)
                return dict(known)
            del self._verified[token]  # expired: decoded again below, which says why
        claims = self._decoded(token)
        if isinstance(claims.get("exp"), int | float) and isinstance(claims.get("nbf"), int | float):
            self._verified[token] = dict(claims)
            while len(self._verified) > self._remembered:
                self._verified.popitem(last=False)
        return claims

    def _decoded(self, token: str) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                self._key,  # type: ignore[arg-type]
                algorithms=[ALGORITHM],
                issuer=self._issuer,
                audience=self._audience,
                leeway=LEEWAY,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as exc:
            raise _unauthorized(f"Invalid access token: {exc}.") from exc

    @staticmethod
    def principal_of(claims: dict[str, Any]) -> Principal:
        role = claims["role"]
        partner_id = claims["partner_id"]
        partner_ids = frozenset(claims.get("partners") or [partner_id])
        if role not in ("partner", "staff") or not isinstance(partner_id, str) or partner_id not in partner_ids:
            raise _unauthorized("Invalid access token: inconsistent role or partner.")
        if role == "partner" and partner_ids != {partner_id}:
            raise _unauthorized("Invalid access token: a partner user acts for one partner only.")
        name = claims.get("name")
        locale = claims.get("locale")
        return Principal(
            user_id=str(claims["sub"]),
            role=role,
            partner_id=partner_id,
            partner_ids=partner_ids,
            name=name[:MAX_NAME_CHARS] if isinstance(name, str) else "",
            language="en" if locale == "en" else "es" if locale == "es" else None,
        )


class TokenIssuer:
    """Signs access tokens (the gateway's job; tests and local tools use it too)."""

    def __init__(self, private_key_pem: str, *, issuer: str, audience: str, ttl: timedelta = timedelta(minutes=10)):
        self._key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
        self._issuer = issuer
        self._audience = audience
        self._ttl = ttl

    @property
    def ttl(self) -> timedelta:
        return self._ttl

    def issue(
        self,
        principal: Principal,
        *,
        now: datetime | None = None,
        ttl: timedelta | None = None,
        session_id: str | None = None,
    ) -> str:
        """`session_id` (claim `sid`) ties the token to a login session the gateway can revoke."""
        issued = now or datetime.now(UTC)
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": principal.user_id,
            "role": principal.role,
            "partner_id": principal.partner_id,
            "partners": sorted(principal.partner_ids or {principal.partner_id}),
            "iat": issued,
            "nbf": issued,
            "exp": issued + (ttl or self._ttl),
            "jti": str(uuid.uuid4()),
        }
        if session_id:
            claims["sid"] = session_id
        if principal.name:
            claims["name"] = principal.name
        if principal.language:
            claims["locale"] = principal.language
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)  # type: ignore[arg-type]


def generate_key_pair() -> tuple[str, str]:
    """A fresh Ed25519 key pair as (private PEM, public PEM), for development and tests."""
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem


def _unauthorized(detail: str) -> Problem:
    return Problem(401, "unauthorized", detail, headers={"WWW-Authenticate": 'Bearer realm="partnerapp"'})


def bearer_token(request: Request) -> str:
    """The `Authorization: Bearer <token>` credential (401 when absent), as sent."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("A bearer access token is required.")
    return token.strip()


async def bearer_token_dependency(request: Request) -> str:
    """`bearer_token` as a route dependency. Dependencies are `async def` (here and below) because
    FastAPI runs a plain `def` one in its thread pool: a thread hop per dependency per request,
    costlier than the work itself."""
    return bearer_token(request)


BearerToken = Annotated[str, Depends(bearer_token_dependency)]
"""The caller's access token, e.g. to call another service on their behalf."""


def token_verifier(request: Request) -> TokenVerifier:
    verifier: TokenVerifier | None = getattr(request.app.state, "token_verifier", None)
    if verifier is None:
        raise Problem(503, "auth-not-configured", "Token verification is not configured on this service.")
    return verifier


async def token_verifier_dependency(request: Request) -> TokenVerifier:
    return token_verifier(request)


Verifier = Annotated[TokenVerifier, Depends(token_verifier_dependency)]


async def require_principal(verifier: Verifier, token: BearerToken) -> Principal:
    return verifier.verify(token)  # an Ed25519 check: tens of microseconds, on the event loop


CurrentPrincipal = Annotated[Principal, Depends(require_principal)]
