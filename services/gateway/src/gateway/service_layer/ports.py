"""What the gateway's use cases need from the outside world."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from contracts import EventEnvelope
from gateway.domain.hardware import CompatibilityList, HardwareQuery
from gateway.domain.model import LoginGuard, Session, User
from gateway.domain.notifications import Notification
from gateway.domain.webhooks import Delivery, SendResult, Subscription
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

    async def put(self, partner: Partner, pending: list[EventEnvelope[Any]]) -> None:
        """Register or rename the partner, with its events in the same write (outbox)."""


class SessionRepository(Protocol):
    async def add(self, session: Session) -> None: ...

    async def get(self, session_id: str) -> Session | None: ...

    async def rotate(self, session: Session, *, expected_hash: str) -> bool:
        """Store the rotated session only if its refresh hash is still `expected_hash` (one winner)."""

    async def revoke(self, session_id: str, *, reason: str, at: datetime) -> None: ...

    async def revoke_user(self, user_id: str, *, reason: str, at: datetime, keep: str | None = None) -> int: ...


AccessChangeKind = Literal["session_ended", "user_changed"]


@dataclass(frozen=True)
class AccessChange:
    """A write that may end a grant the per-call check gave: a session ended (`session_id`), or a
    user changed (`user_id`: their partners, role, password or state; their sessions with them)."""

    id: str
    kind: AccessChangeKind
    user_id: str | None
    session_id: str | None
    at: datetime


class AccessChangeLog(Protocol):
    """The recent access changes, which every gateway replica reads (see service_layer.access)."""

    async def record(self, change: AccessChange) -> None: ...

    async def recent(self) -> list[AccessChange]:
        """Every change still kept, in ONE store query (the log is pruned to the last minute)."""

    async def forget_before(self, moment: datetime) -> int: ...


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


class BackendUnavailable(Exception):
    """The service did not answer (down, timed out, or answered 5xx)."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"{service}: {reason}")
        self.service = service
        self.reason = reason


class BackendRefused(Exception):
    """The service answered 4xx: the caller's problem (e.g. 404 for another partner's id), passed on as is."""

    def __init__(self, service: str, status: int, problem: Mapping[str, Any]) -> None:
        super().__init__(f"{service} answered {status}")
        self.service = service
        self.status = status
        self.problem = problem


class Backends(Protocol):
    async def get_json(
        self,
        service: str,
        path: str,
        *,
        token: str,
        params: Mapping[str, str | int | Sequence[str]] | None = None,
        language: str | None = None,
    ) -> Any:
        """The JSON body of a 2xx answer; BackendRefused on 4xx; BackendUnavailable otherwise.
        `language` (an Accept-Language value) is the one the texts of the answer are wanted in."""


class NotificationLog(Protocol):
    async def add(self, notification: Notification) -> tuple[Notification, bool]:
        """Store it once per id; returns the stored one (an earlier copy wins, with its seq) and
        whether this call inserted it."""

    async def since(self, partner_ids: tuple[str, ...], seq: int, limit: int) -> list[Notification]: ...

    async def forget_before(self, moment: datetime) -> int: ...


class PushSender(Protocol):
    async def notify_partner(self, notification: Notification) -> None:
        """Web Push to the partner's subscribed devices (R-06), except the author's."""


class StoredPushSubscription(Protocol):
    @property
    def id(self) -> str:
        """The endpoint's hash: what the audit names, never the endpoint (a device's capability URL)."""

    @property
    def endpoint(self) -> str: ...

    @property
    def partner_id(self) -> str: ...

    @property
    def created_at(self) -> datetime: ...

    @property
    def updated_at(self) -> datetime: ...


class PushSubscriptions(Protocol):
    async def put(
        self,
        *,
        endpoint: str,
        p256dh: str,
        auth: str,
        user_id: str,
        partner_id: str,
        expiration_time: int | None = None,
    ) -> tuple[StoredPushSubscription, bool]:
        """Store the device's subscription; returns it and whether it is new (False: updated)."""

    async def remove(self, endpoint: str, *, user_id: str) -> bool:
        """False if that endpoint is not the user's (or unknown)."""


class Catalogue(Protocol):
    """The hardware compatibility list (R-60), and its PDF."""

    @property
    def compatibility(self) -> CompatibilityList: ...

    def pdf(self, query: HardwareQuery | None = None, *, language: Literal["en", "es"] = "en") -> bytes: ...


# ---------------------------------------------------------------------- webhooks (#19)


class WebhookSubscriptions(Protocol):
    async def add(self, subscription: Subscription) -> bool:
        """False when the id is taken."""

    async def get(self, subscription_id: str) -> Subscription | None: ...

    async def many(self, ids: Iterable[str]) -> dict[str, Subscription]: ...

    async def replace(self, subscription: Subscription) -> bool:
        """Compare-and-set on its version: False when someone changed it meanwhile."""

    async def remove(self, subscription_id: str) -> bool: ...

    async def of_partners(self, partner_ids: Iterable[str]) -> list[Subscription]: ...

    async def page(
        self, partner_ids: Iterable[str] | None, status: str | None, limit: int, cursor: str | None
    ) -> Page[Subscription]: ...

    async def count_failure(self, subscription_id: str) -> int: ...

    async def reset_failures(self, subscription_id: str) -> None: ...

    async def pause_for_failures(self, subscription_id: str, reason: str, now: datetime) -> bool: ...


class WebhookDeliveries(Protocol):
    async def add_new(self, deliveries: list[Delivery]) -> int: ...

    async def get(self, delivery_id: str) -> Delivery | None: ...

    async def pending(self) -> list[Delivery]: ...

    async def claim(self, deliveries: list[Delivery], token: str, now: datetime, until: datetime) -> set[str]:
        """The ids taken under `token` (those no other sender's lease holds)."""

    async def release(self, delivery_ids: list[str], token: str) -> None: ...

    async def record(self, delivery: Delivery, owner: str) -> bool: ...

    async def replace(self, delivery: Delivery) -> None: ...

    async def page(
        self, subscription_id: str, event_type: str | None, outcome: str | None, limit: int, cursor: str | None
    ) -> Page[Delivery]: ...

    async def of_subscription(self, subscription_id: str, outcome: str) -> list[Delivery]: ...

    async def remove_of(self, subscription_id: str) -> int: ...

    async def forget_settled_before(self, moment: datetime) -> int:
        """Drop succeeded and failed deliveries created before `moment` (the log's retention)."""


class SecretSealer(Protocol):
    def seal(self, secret: str) -> str: ...

    def open(self, sealed: str) -> str: ...


class WebhookTransport(Protocol):
    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> SendResult: ...
