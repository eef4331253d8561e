"""Use cases of users and their sessions: login, refresh, logout, acting partner, profile, password."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.domain.model import (
    AccountLocked,
    AuthError,
    Language,
    RefreshToken,
    Session,
    User,
    check_password_policy,
    hash_secret,
)
from gateway.service_layer.ports import (
    AccessTokens,
    AuditLog,
    AuditRecord,
    LoginGuards,
    PasswordHasher,
    SessionRepository,
    UserRepository,
)
from servicekit.principal import Principal

# Checked against when the e-mail is unknown, so a wrong e-mail costs as long as a wrong password.
_DECOY_PASSWORD = "decoy-password-never-valid"  # noqa: S105 - never any user's password


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User
    partner_id: str


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)
    refresh_ttl: timedelta = timedelta(days=14)


class SessionEnded(AuthError):
    pass


class Accounts:
    def __init__(
        self,
        *,
        users: UserRepository,
        sessions: SessionRepository,
        guards: LoginGuards,
        hasher: PasswordHasher,
        tokens: AccessTokens,
        audit: AuditLog,
        policy: LoginPolicy | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._users = users
        self._sessions = sessions
        self._guards = guards
        self._hasher = hasher
        self._tokens = tokens
        self._audit = audit
        self._policy = policy or LoginPolicy()
        self._clock = clock
        self._decoy_hash = hasher.hash(_DECOY_PASSWORD)

    async def login(self, email: str, password: str, *, partner_id: str | None, client: str | None) -> Tokens:
        now = self._clock()
        key = hash_secret(email.strip().lower())
        guard = await self._guards.get(key)
        if wait := guard.locked(now):
            await self._record(None, None, "login.locked", 429, client, now)
            raise AccountLocked(wait)
        user = await self._users.by_email(email)
        valid = self._hasher.verify(user.password_hash if user else self._decoy_hash, password)
        if user is None or not valid or not user.active:
            guard = guard.after_failure(now, max_failures=self._policy.max_failures, lockout=self._policy.lockout)
            await self._guards.put(key, guard)
            await self._record(user.id if user else None, None, "login.failed", 401, client, now)
            if wait := guard.locked(now):
                raise AccountLocked(wait)
            raise AuthError("Wrong e-mail or password.")
        await self._guards.clear(key)
        if self._hasher.needs_rehash(user.password_hash):
            await self._users.update(user.id, {"password_hash": self._hasher.hash(password)})
        acting = user.acting_partner(partner_id)
        session_id = f"ses_{secrets.token_urlsafe(12)}"
        refresh = RefreshToken.new(session_id)
        await self._sessions.add(
            Session(
                id=session_id,
                user_id=user.id,
                partner_id=acting,
                refresh_hash=hash_secret(refresh.secret),
                expires_at=now + self._policy.refresh_ttl,
                created_at=now,
            )
        )
        await self._record(user.id, acting, "login", 200, client, now, target=session_id)
        return self._tokens_for(user, acting, session_id, refresh)

    async def refresh(self, refresh_token: str, *, partner_id: str | None = None) -> Tokens:
        """Rotate the refresh token; optionally switch the acting partner (R-11)."""
        now = self._clock()
        token = RefreshToken.parse(refresh_token)
        session = await self._sessions.get(token.session_id)
        if session is None:
            raise AuthError("Invalid refresh token.")
        if session.check_refresh(token, now) == "replayed":
            await self._sessions.revoke(session.id, reason="refresh token replayed", at=now)
            await self._record(session.user_id, session.partner_id, "refresh.replayed", 401, None, now, session.id)
            raise SessionEnded("This refresh token was used already; the session is closed. Log in again.")
        user = await self._active_user(session.user_id)
        acting = user.acting_partner(partner_id or session.partner_id)
        fresh = RefreshToken(session.id, secrets.token_urlsafe(32))
        rotated = session.rotated(hash_secret(fresh.secret), partner_id=acting)
        if not await self._sessions.rotate(rotated, expected_hash=session.refresh_hash):
            raise AuthError("The refresh token was used concurrently; log in again.")
        return self._tokens_for(user, acting, session.id, fresh)

    async def logout(self, session_id: str, *, user_id: str) -> None:
        now = self._clock()
        session = await self._sessions.get(session_id)
        if session is not None and session.user_id == user_id:
            await self._sessions.revoke(session_id, reason="logout", at=now)

    async def authenticate(self, claims: Mapping[str, Any], principal: Principal) -> Principal:
        """Every call: the token's session is still open, and its user still acts for that partner."""
        session_id = claims.get("sid")
        if not isinstance(session_id, str):
            raise SessionEnded("The access token belongs to no session.")
        # Two independent look-ups on every call: made together, not one after the other.
        session, user = await asyncio.gather(self._sessions.get(session_id), self._users.get(principal.user_id))
        now = self._clock()
        if session is None or not session.active(now) or session.user_id != principal.user_id:
            raise SessionEnded("The session has ended; log in again.")
        user = _active(user)
        # All the token's partners, not only the acting one: the services scope a staff member's
        # filters by the token's `partners`, so one the user lost must not ride on it.
        partners = set(user.partner_ids)
        if principal.partner_id not in partners or not principal.partner_ids <= partners or user.role != principal.role:
            raise SessionEnded("The user no longer acts for this partner; log in again.")
        return Principal(
            user_id=user.id, role=user.role, partner_id=principal.partner_id, partner_ids=frozenset(user.partner_ids)
        )

    async def profile(self, user_id: str) -> User:
        return await self._active_user(user_id)

    async def update_profile(
        self, user_id: str, *, name: str | None, phone: str | None, language: Language | None
    ) -> User:
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = name
        if phone is not None:
            changes["phone"] = phone or None
        if language is not None:
            changes["language"] = language.value
        if not changes:
            return await self._active_user(user_id)
        updated = await self._users.update(user_id, {**changes, "updated_at": self._clock()})
        if updated is None:
            raise SessionEnded("Unknown user.")
        return updated

    async def change_password(self, user_id: str, *, current: str, new: str, session_id: str | None) -> None:
        """Other sessions end: whoever knew the old password is logged out everywhere else."""
        user = await self._active_user(user_id)
        if not self._hasher.verify(user.password_hash, current):
            raise AuthError("The current password is wrong.")
        check_password_policy(new, email=user.email)
        now = self._clock()
        await self._users.update(user_id, {"password_hash": self._hasher.hash(new), "updated_at": now})
        await self._sessions.revoke_user(user_id, reason="password changed", at=now, keep=session_id)

    async def create_user(
        self,
        *,
        user_id: str,
        email: str,
        name: str,
        role: str,
        partner_ids: tuple[str, ...],
        password: str,
        language: Language = Language.ES,
    ) -> bool:
        """False when the id or e-mail exists already (seeding is idempotent)."""
        check_password_policy(password, email=email)
        if role not in ("partner", "staff") or not partner_ids or (role == "partner" and len(partner_ids) != 1):
            raise ValueError("a partner user has exactly one partner; a staff user at least one")
        now = self._clock()
        user = User(
            id=user_id,
            email=email.strip().lower(),
            name=name,
            role="staff" if role == "staff" else "partner",
            partner_ids=partner_ids,
            password_hash=self._hasher.hash(password),
            language=language,
            created_at=now,
            updated_at=now,
        )
        return await self._users.add(user)

    async def _active_user(self, user_id: str) -> User:
        return _active(await self._users.get(user_id))

    def _tokens_for(self, user: User, acting: str, session_id: str, refresh: RefreshToken) -> Tokens:
        principal = Principal(
            user_id=user.id, role=user.role, partner_id=acting, partner_ids=frozenset(user.partner_ids)
        )
        return Tokens(
            access_token=self._tokens.issue(principal, session_id=session_id),
            refresh_token=str(refresh),
            expires_in=self._tokens.ttl_seconds,
            user=user,
            partner_id=acting,
        )

    async def _record(
        self,
        user_id: str | None,
        partner_id: str | None,
        action: str,
        status: int,
        client: str | None,
        at: datetime,
        target: str | None = None,
    ) -> None:
        await self._audit.record(
            AuditRecord(
                at=at,
                user_id=user_id,
                partner_id=partner_id,
                action=action,
                target_id=target,
                status=status,
                client=client,
            )
        )


def _active(user: User | None) -> User:
    if user is None or not user.active:
        raise SessionEnded("The user is unknown or disabled.")
    return user
