"""What the gateway's use cases need from the outside world."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from gateway.domain.model import LoginGuard, Session, User
from servicekit.pagination import Page
from servicekit.principal import Principal


class UserRepository(Protocol):
    async def get(self, user_id: str) -> User | None: ...

    async def by_email(self, email: str) -> User | None: ...

    async def add(self, user: User) -> bool:
        """False when the id or the e-mail is taken."""

    async def update(self, user_id: str, changes: Mapping[str, Any]) -> User | None: ...


@dataclass(frozen=True)
class Partner:
    id: str
    name: str


class PartnerDirectory(Protocol):
    async def names(self, partner_ids: tuple[str, ...]) -> list[Partner]: ...

    async def put(self, partner: Partner) -> None: ...


class SessionRepository(Protocol):
    async def add(self, session: Session) -> None: ...

    async def get(self, session_id: str) -> Session | None: ...

    async def rotate(self, session: Session, *, expected_hash: str) -> bool:
        """Store the rotated session only if its refresh hash is still `expected_hash` (one winner)."""

    async def revoke(self, session_id: str, *, reason: str, at: datetime) -> None: ...

    async def revoke_user(self, user_id: str, *, reason: str, at: datetime, keep: str | None = None) -> int: ...


class LoginGuards(Protocol):
    async def get(self, key: str) -> LoginGuard: ...

    async def put(self, key: str, guard: LoginGuard) -> None: ...

    async def clear(self, key: str) -> None: ...


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, password_hash: str, password: str) -> bool: ...

    def needs_rehash(self, password_hash: str) -> bool: ...


class AccessTokens(Protocol):
    def issue(self, principal: Principal, *, session_id: str) -> str: ...

    @property
    def ttl_seconds(self) -> int: ...


@dataclass(frozen=True)
class AuditRecord:
    at: datetime
    user_id: str | None
    partner_id: str | None
    action: str
    """`METHOD /route/{template}` or a named action such as `login`."""
    target_id: str | None
    status: int
    client: str | None = None
    correlation_id: str | None = None


@dataclass(frozen=True)
class AuditQuery:
    partner_ids: tuple[str, ...]
    user_id: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50
    cursor: str | None = None


class AuditLog(Protocol):
    async def record(self, entry: AuditRecord) -> None: ...

    async def search(self, query: AuditQuery) -> Page[AuditRecord]: ...
