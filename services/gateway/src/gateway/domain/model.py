"""The gateway's own data: users, their login sessions, and the rules about them (no I/O here)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from servicekit.errors import DomainError, InvalidInput, PartnerNotAllowed, field_error

Role = Literal["partner", "staff"]

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
REFRESH_PREFIX = "prt_"


class Language(StrEnum):
    ES = "es"
    EN = "en"


BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="partnerapp"'}


class AuthError(DomainError):
    """Login or refresh refused; the message is safe to show (it never says which part was wrong)."""

    status = 401
    slug = "unauthorized"

    def __init__(self, detail: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail, headers=BEARER_CHALLENGE if headers is None else headers)


class AccountLocked(AuthError):
    status = 429
    slug = "too-many-attempts"

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(
            "Too many failed attempts; try again later.", headers={"Retry-After": str(retry_after_seconds)}
        )
        self.retry_after_seconds = retry_after_seconds


class SessionEnded(AuthError):
    """The session (or its user's association) ended: log in again."""


NOT_ASSOCIATED = "You are not associated with this partner."


def not_associated(partner_id: str) -> PartnerNotAllowed:
    """The user is not associated with the partner asked for."""
    return PartnerNotAllowed(partner_id, detail=NOT_ASSOCIATED, code="partner_not_associated")


class StaffOnly(DomainError):
    status = 403
    slug = "staff-only"

    def __init__(self) -> None:
        super().__init__("This route is for the vendor's staff.")


class WeakPassword(InvalidInput):
    """The rule broken (`rule`, with its `limit`), naming `new_password`; its message is worded
    for the reader from the code `password_<rule>` (servicekit.i18n)."""

    def __init__(self, message: str, *, rule: str, limit: int | None = None) -> None:
        params = {"limit": limit} if limit is not None else {}
        super().__init__([field_error("new_password", f"password_{rule}", message, params=params)], detail=message)
        self.rule = rule
        self.limit = limit


@dataclass(frozen=True)
class User:
    id: str
    email: str
    name: str
    role: Role
    partner_ids: tuple[str, ...]
    password_hash: str
    language: Language = Language.ES
    phone: str | None = None
    active: bool = True
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def locale(self) -> Literal["es", "en"]:
        """The language as access tokens carry it (OIDC `locale`)."""
        return "en" if self.language == Language.EN else "es"

    def acting_partner(self, wanted: str | None) -> str:
        """The partner the user acts for: the one asked for (it must be associated) or the first."""
        if wanted is None:
            return self.partner_ids[0]
        if wanted not in self.partner_ids:
            raise not_associated(wanted)
        return wanted


def active(user: User | None) -> User:
    """The user a session belongs to, while they exist and are enabled."""
    if user is None or not user.active:
        raise SessionEnded("The user is unknown or disabled.")
    return user


def check_password_policy(password: str, *, email: str) -> None:
    """Length over composition rules (NIST SP 800-63B): at least 12 characters, not the e-mail."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(
            f"The password must have at least {MIN_PASSWORD_LENGTH} characters.",
            rule="too_short",
            limit=MIN_PASSWORD_LENGTH,
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(
            f"The password must have at most {MAX_PASSWORD_LENGTH} characters.",
            rule="too_long",
            limit=MAX_PASSWORD_LENGTH,
        )
    if password.strip().lower() == email.strip().lower():
        raise WeakPassword("The password must not be the e-mail address.", rule="is_email")


@dataclass(frozen=True)
class LoginGuard:
    """Consecutive failed logins of one e-mail address (whether or not a user has it)."""

    failures: int = 0
    locked_until: datetime | None = None

    def locked(self, now: datetime) -> int:
        """Seconds until the lock ends; 0 when not locked."""
        if self.locked_until is None or self.locked_until <= now:
            return 0
        return max(1, int((self.locked_until - now).total_seconds() + 0.999))

    def after_failure(self, now: datetime, *, max_failures: int, lockout: timedelta) -> LoginGuard:
        failures = 0 if self.locked_until is not None and self.locked_until <= now else self.failures
        failures += 1
        if failures >= max_failures:
            return LoginGuard(failures=0, locked_until=now + lockout)
        return LoginGuard(failures=failures, locked_until=None)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class RefreshToken:
    """`prt_<session id>.<secret>`: the session id finds the session by key; only the secret's hash is stored."""

    session_id: str
    secret: str

    @classmethod
    def new(cls, session_id: str) -> RefreshToken:
        return cls(session_id, secrets.token_urlsafe(32))

    @classmethod
    def parse(cls, text: str) -> RefreshToken:
        body = text.removeprefix(REFRESH_PREFIX)
        session_id, dot, secret = body.partition(".")
        if not text.startswith(REFRESH_PREFIX) or not dot or not session_id or not secret or len(text) > 200:
            raise AuthError("Invalid refresh token.")
        return cls(session_id, secret)

    def __str__(self) -> str:
        return f"{REFRESH_PREFIX}{self.session_id}.{self.secret}"


@dataclass(frozen=True)
class Session:
    """One login: its refresh token rotates on every use; using a spent one revokes the session
    (a stolen token was replayed), as OAuth 2.0 Security BCP §4.14 recommends."""

    id: str
    user_id: str
    partner_id: str
    refresh_hash: str
    expires_at: datetime
    created_at: datetime
    spent_hashes: tuple[str, ...] = field(default_factory=tuple)
    revoked_at: datetime | None = None
    revoked_reason: str | None = None

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now

    def check_refresh(self, token: RefreshToken, now: datetime) -> Literal["current", "replayed"]:
        digest = hash_secret(token.secret)
        if hmac.compare_digest(digest, self.refresh_hash):
            if not self.active(now):
                raise AuthError("The session has ended; log in again.")
            return "current"
        if any(hmac.compare_digest(digest, spent) for spent in self.spent_hashes):
            return "replayed"
        raise AuthError("Invalid refresh token.")

    def rotated(self, new_secret_hash: str, *, partner_id: str) -> Session:
        spent = (*self.spent_hashes, self.refresh_hash)[-20:]
        return replace(self, refresh_hash=new_secret_hash, spent_hashes=spent, partner_id=partner_id)
