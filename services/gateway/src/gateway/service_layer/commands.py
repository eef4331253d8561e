"""The gateway's writes: login and its sessions (refresh, logout), the profile and password, users
(seeding), push subscriptions, and forgetting old notifications."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from contracts import envelope_for
from contracts.events.partners import PartnerUpdated
from gateway.domain.model import (
    AccountLocked,
    AuthError,
    Language,
    RefreshToken,
    Session,
    SessionEnded,
    User,
    active,
    check_password_policy,
    hash_secret,
)
from gateway.service_layer.ports import (
    AccessTokens,
    AuditLog,
    AuditRecord,
    LoginGuards,
    NotificationLog,
    Partner,
    PartnerDirectory,
    PasswordHasher,
    PushSubscriptions,
    SessionRepository,
    StoredPushSubscription,
    UserRepository,
)
from gateway.service_layer.webhooks import WebhookCommands
from servicekit.errors import DomainError, InvalidInput, field_error
from servicekit.handlers import HandlerTable
from servicekit.principal import Principal

# Checked against when the e-mail is unknown, so a wrong e-mail costs as long as a wrong password.
_DECOY_PASSWORD = "decoy-password-never-valid"  # noqa: S105 - never any user's password

KNOWN_PUSH_SERVICES = (
    "fcm.googleapis.com",  # Chrome, Opera, Samsung Internet, Brave…
    "android.googleapis.com",
    "push.services.mozilla.com",  # Firefox (updates.push.services.mozilla.com)
    "notify.windows.com",  # Edge (wns2-*.notify.windows.com)
    "push.apple.com",  # Safari (web.push.apple.com)
)
"""Hosts (or their subdomains) a push endpoint may point to: the gateway posts to them, so no arbitrary hosts."""


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


class NoPushSubscription(DomainError):
    status = 404
    slug = "not-found"

    def __init__(self) -> None:
        super().__init__("This device has no push subscription of yours.")


class GatewayCommands:
    def __init__(
        self,
        *,
        users: UserRepository,
        sessions: SessionRepository,
        guards: LoginGuards,
        hasher: PasswordHasher,
        tokens: AccessTokens,
        audit: AuditLog,
        push_subscriptions: PushSubscriptions,
        notification_log: NotificationLog,
        policy: LoginPolicy | None = None,
        push_services: tuple[str, ...] = KNOWN_PUSH_SERVICES,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        partners: PartnerDirectory | None = None,
    ) -> None:
        self._partners = partners
        self._users = users
        self._sessions = sessions
        self._guards = guards
        self._hasher = hasher
        self._tokens = tokens
        self._audit = audit
        self._push_subscriptions = push_subscriptions
        self._notification_log = notification_log
        self._policy = policy or LoginPolicy()
        self._push_services = push_services
        self._clock = clock
        self._decoy_hash = hasher.hash(_DECOY_PASSWORD)

    # ------------------------------------------------------------------ sessions

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
        user = active(await self._users.get(session.user_id))
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

    # ------------------------------------------------------------------ the user's own data

    async def update_profile(
        self, user_id: str, *, name: str | None, phone: str | None, language: Language | None
    ) -> User:
        """`None` keeps a value; an empty `phone` clears it."""
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = name
        if phone is not None:
            changes["phone"] = phone or None
        if language is not None:
            changes["language"] = language.value
        if not changes:
            return active(await self._users.get(user_id))
        updated = await self._users.update(user_id, {**changes, "updated_at": self._clock()})
        if updated is None:
            raise SessionEnded("Unknown user.")
        return updated

    async def change_password(self, user_id: str, *, current: str, new: str, session_id: str | None) -> None:
        """Other sessions end: whoever knew the old password is logged out everywhere else."""
        user = active(await self._users.get(user_id))
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

    async def put_partner(self, partner_id: str, name: str) -> Partner:
        """Register or rename a partner in the directory; `partner.updated` says so to the other
        services (support names the partner in canned replies). Putting it again publishes it
        again: consumers keep the latest name, so a re-run (seeding) also fills a new consumer."""
        if self._partners is None:  # pragma: no cover - wired in bootstrap and the seeding
            raise RuntimeError("no partner directory")
        partner = Partner(partner_id, name.strip())
        event = envelope_for(PartnerUpdated(partner_id=partner.id, name=partner.name), source="gateway")
        await self._partners.put(partner, [event])
        return partner

    # ------------------------------------------------------------------ notifications

    async def subscribe_push(
        self,
        principal: Principal,
        *,
        endpoint: str,
        p256dh: str,
        auth: str,
        expiration_time: int | None,
    ) -> tuple[StoredPushSubscription, bool]:
        """The device gets the acting partner's new support messages (R-06); returns the
        subscription and whether it is new. An endpoint another user subscribed moves to this one."""
        host = (urlsplit(endpoint).hostname or "").lower()
        if not any(host == known or host.endswith(f".{known}") for known in self._push_services):
            message = "is not the URL of a known push service"
            raise InvalidInput([field_error("endpoint", "push_service_unknown", message, where="body")])
        return await self._push_subscriptions.put(
            endpoint=endpoint,
            p256dh=p256dh,
            auth=auth,
            user_id=principal.user_id,
            partner_id=principal.partner_id,
            expiration_time=expiration_time,
        )

    async def unsubscribe_push(self, principal: Principal, endpoint: str) -> None:
        if not await self._push_subscriptions.remove(endpoint, user_id=principal.user_id):
            raise NoPushSubscription

    async def prune_notifications(self, retention: timedelta) -> int:
        """Forget the notifications older than `retention` (a reconnecting client resumes from the rest)."""
        return await self._notification_log.forget_before(self._clock() - retention)

    # ------------------------------------------------------------------ helpers

    def _tokens_for(self, user: User, acting: str, session_id: str, refresh: RefreshToken) -> Tokens:
        principal = Principal(  # `name` and `locale` ride as OIDC claims: who wrote, in which language
            user_id=user.id,
            role=user.role,
            partner_id=acting,
            partner_ids=frozenset(user.partner_ids),
            name=user.name,
            language=user.locale,
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


COMMAND_HANDLERS: HandlerTable = {
    "login": GatewayCommands.login,
    "refresh": GatewayCommands.refresh,
    "logout": GatewayCommands.logout,
    "update_profile": GatewayCommands.update_profile,
    "change_password": GatewayCommands.change_password,
    "create_user": GatewayCommands.create_user,
    "put_partner": GatewayCommands.put_partner,
    "subscribe_push": GatewayCommands.subscribe_push,
    "unsubscribe_push": GatewayCommands.unsubscribe_push,
    "prune_notifications": GatewayCommands.prune_notifications,
    # Webhooks (#19)
    "create_webhook": WebhookCommands.create_webhook,
    "update_webhook": WebhookCommands.update_webhook,
    "delete_webhook": WebhookCommands.delete_webhook,
    "rotate_webhook_secret": WebhookCommands.rotate_webhook_secret,
    "send_test_event": WebhookCommands.send_test_event,
    "replay_delivery": WebhookCommands.replay_delivery,
    "replay_failed": WebhookCommands.replay_failed,
    "prune_deliveries": WebhookCommands.prune_deliveries,
}
