"""Password hashing (argon2id) and access-token signing."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from servicekit.auth import TokenIssuer
from servicekit.principal import Principal


class Argon2Passwords:
    """argon2id with the library's defaults (RFC 9106 low-memory profile); old parameters are
    upgraded at the next successful login (`needs_rehash`)."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()

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
