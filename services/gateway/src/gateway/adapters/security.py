"""Password hashing (argon2id) and access-token signing."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from servicekit.auth import TokenIssuer
from servicekit.principal import Principal

OWASP_ARGON2ID: dict[str, int] = {"memory_cost": 19 * 1024, "time_cost": 2, "parallelism": 1}
"""argon2id as OWASP's Password Storage Cheat Sheet recommends it (19 MiB, 2 passes, 1 lane). Not the
library's default (RFC 9106's 64 MiB, 3 passes, 4 lanes): each hash or check allocates its memory
cost, so that default took a gateway process's peak memory 64 MB above its working set at every
login, and cost several times the CPU on the event loop."""


class Argon2Passwords:
    """argon2id (`OWASP_ARGON2ID`); a hash of other parameters is re-made at the next successful
    login (`needs_rehash`)."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher(
            memory_cost=OWASP_ARGON2ID["memory_cost"],
            time_cost=OWASP_ARGON2ID["time_cost"],
            parallelism=OWASP_ARGON2ID["parallelism"],
        )

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)


class SignedAccessTokens:
    def __init__(self, issuer: TokenIssuer) -> None:
        self._issuer = issuer

    def issue(self, principal: Principal, *, session_id: str) -> str:
        return self._issuer.issue(principal, session_id=session_id)

    @property
    def ttl_seconds(self) -> int:
        return int(self._issuer.ttl.total_seconds())
