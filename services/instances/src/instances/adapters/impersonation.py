"""Impersonation tokens for the web panel (R-22): short-lived, signed, naming who acts.

Ed25519 (`EdDSA`) like the access tokens, with the panel as audience and the acting user in the
RFC 8693 `act` claim, so the panel can show and log who is really behind the session. The `jti`
is the grant's id, also in the audit entry and the `license.impersonated` event: the panel reports
it when the session starts and ends (`impersonation_started` / `impersonation_ended`).
"""

from __future__ import annotations

from datetime import UTC, datetime

import jwt
from cryptography.hazmat.primitives import serialization

ISSUER = "partnerapp-instances"
AUDIENCE = "partnerapp-panel"


class Ed25519ImpersonationSigner:
    def __init__(self, private_key_pem: str) -> None:
        self._key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)

    def sign(
        self, *, license_id: str, email: str, instance_id: str, actor_id: str, expires_at: datetime, grant_id: str
    ) -> str:
        now = datetime.now(UTC)
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": license_id,
            "email": email,
            "instance_id": instance_id,
            "act": {"sub": actor_id},
            "iat": now,
            "nbf": now,
            "exp": expires_at,
            "jti": grant_id,
        }
        return jwt.encode(claims, self._key, algorithm="EdDSA")  # type: ignore[arg-type]


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)
