"""Webhooks for partners (#19): subscriptions, deliveries and their rules, with no framework.

A subscription says where a partner wants which events (the catalogue below), optionally of one
instance only. Each matching event becomes one delivery per subscription, whose id is derived
from both ids, so a redelivered Kafka event never makes a second one. A delivery is POSTed, signed
per Standard Webhooks (`webhook-id` = the CloudEvent id, the receivers' idempotency key), until
a 2xx or the retry schedule is spent; then the subscription is paused for failures.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import ipaddress
import random
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Literal
from urllib.parse import urlsplit

from servicekit.errors import DomainError, InvalidInput, NotFound

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SECRET_BYTES = 32
SECRET_HINT_CHARS = 10
MAX_DESCRIPTION = 200
MAX_URL = 2000
MAX_EXCERPT = 1024
MAX_ATTEMPTS_KEPT = 50
TEST_EVENT = "webhook.test"
PAUSED_NOTIFICATION = "webhook.paused"

Status = Literal["active", "paused", "failing_paused"]
Outcome = Literal["pending", "succeeded", "failed"]

EVENT_TYPES: dict[str, dict[str, str]] = {
    "instance.provisioned": {"es": "Se ha creado una instancia.", "en": "An instance was provisioned."},
    "instance.updated": {"es": "Se han cambiado los datos de una instancia.", "en": "An instance was edited."},
    "instance.extended": {"es": "Se ha ampliado la vigencia de una instancia.", "en": "An instance was extended."},
    "instance.cancellation_requested": {
        "es": "Se ha pedido la baja de una instancia.",
        "en": "An instance's cancellation was requested.",
    },
    "license.added": {"es": "Se ha añadido una licencia.", "en": "A license was added."},
    "license.revoked": {"es": "Se ha revocado una licencia.", "en": "A license was revoked."},
    "license.released": {"es": "Se ha liberado una licencia.", "en": "A license was released."},
    "session.cleared": {"es": "Se han cerrado las sesiones de una instancia.", "en": "A session was cleared."},
    "message.posted": {"es": "Se ha publicado un mensaje de soporte.", "en": "A support message was posted."},
    TEST_EVENT: {
        "es": "Evento de prueba, enviado con el botón «Enviar prueba».",
        "en": "Test event, sent with the “Send test” button.",
    },
}
"""The events a subscription may choose (the CloudEvent `type`), with what they mean in es/en."""

DELIVERED_TOPICS = tuple(name for name in EVENT_TYPES if name != TEST_EVENT)
"""The Kafka topics the dispatcher consumes."""

DEFAULT_SCHEDULE: tuple[float, ...] = (
    30, 120, 600, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 16 * 3600, 24 * 3600,
)  # fmt: skip
"""Seconds before each retry (upper bounds). Jitter draws each wait from its upper half, so the
11 attempts of a delivery span at least 27.9 h and at most 55.7 h."""


class SubscriptionNotFound(NotFound):
    def __init__(self, subscription_id: str) -> None:
        super().__init__("webhook subscription", subscription_id)


class DeliveryNotFound(NotFound):
    def __init__(self, delivery_id: str) -> None:
        super().__init__("webhook delivery", delivery_id)


class SubscriptionNotActive(DomainError):
    status = 409
    slug = "webhook-not-active"

    def __init__(self, subscription_id: str, status: str) -> None:
        super().__init__(f"The webhook subscription {subscription_id} is {status}.", current_state=status)


# ---------------------------------------------------------------------- secrets and signing


def new_secret() -> str:
    """`whsec_` + base64 of 32 random bytes (Standard Webhooks' symmetric secret format)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_hint(secret: str) -> str:
    return secret[:SECRET_HINT_CHARS] + "…"


def _key_of(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` keyed by the secret's decoded bytes."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(_key_of(secret), signed, hashlib.sha256).digest()).decode("ascii")


def signature_headers(secrets_: Sequence[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers; during a rotation's overlap both secrets sign
    (space-separated signatures: a receiver with either secret verifies)."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, message_id, timestamp, body) for s in secrets_),
    }


# ---------------------------------------------------------------------- target addresses


def forbidden_address(address: str) -> str | None:
    """Why a delivery must not go to this IP (private, loopback, link-local, ...), or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            ip = mapped
        elif ip.teredo is not None:
            ip = ip.teredo[1]
    checks = (
        ("loopback", ip.is_loopback),
        ("unspecified", ip.is_unspecified),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
        ("not globally routable", not ip.is_global),
    )
    return next((name for name, hit in checks if hit), None)


def check_url(url: str, *, allow_private: bool) -> str:  # noqa: PLR0911 - one return per refusal
    """The target URL as stored, or a 422 naming `url`: https (http too when private targets are
    allowed, for development), a host, no credentials; in production an IP literal must be public."""

    def refuse(code: str, message: str, params: dict[str, object] | None = None) -> InvalidInput:
        return InvalidInput.of_field("url", code, message, where="body", params=params)

    if len(url) > MAX_URL:
        return _raise(refuse("at_most_characters", f"At most {MAX_URL} characters.", {"limit": MAX_URL}))
    if any(c.isspace() or ord(c) < 0x20 for c in url):
        return _raise(refuse("url_spaces", "must not contain spaces or control characters"))
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError:
        return _raise(refuse("url_invalid", "is not a valid URL"))
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme.lower() not in schemes or not parts.hostname:
        return _raise(refuse("url_https", "must be an https URL"))
    if parts.username is not None or parts.password is not None:
        return _raise(refuse("url_credentials", "must not contain credentials"))
    if not allow_private:
        host = parts.hostname.rstrip(".").lower()
        reason = "loopback" if host == "localhost" or host.endswith(".localhost") else None
        with contextlib.suppress(ValueError):  # a name: checked on each delivery, after resolving it
            reason = reason or forbidden_address(host)
        if reason:
            return _raise(refuse("url_private", f"must not point to a {reason} address", {"reason": reason}))
    return url


def _raise(error: Exception) -> str:
    raise error


def check_event_types(types: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(types))
    unknown = [t for t in chosen if t not in EVENT_TYPES]
    if unknown:
        raise InvalidInput.of_field(
            "event_types",
            "webhook_event_type",
            f"Unknown event type {unknown[0]}; use the catalogue's.",
            where="body",
            params={"value": unknown[0]},
        )
    if not chosen:
        raise InvalidInput.of_field("event_types", "at_least_one", "Choose at least one event type.", where="body")
    return chosen


# ---------------------------------------------------------------------- subscriptions


@dataclass(frozen=True)
class SigningSecret:
    sealed: str
    """The secret encrypted (never stored in clear, never logged)."""
    expires_at: datetime | None = None
    """When a rotated-out secret stops signing; None for the current one."""


@dataclass(frozen=True)
class Subscription:
    id: str
    partner_id: str
    url: str
    event_types: tuple[str, ...]
    instance_id: str | None
    description: str
    status: Status
    paused_reason: str | None
    consecutive_failures: int
    secret_hint: str
    secrets: tuple[SigningSecret, ...]
    created_at: datetime
    updated_at: datetime
    created_by: str
    version: int = 1

    def wants(self, event_type: str, instance_id: str | None, occurred_at: datetime | None = None) -> bool:
        """Whether an event goes to this subscription: active, of a chosen type (and instance), and
        not older than the subscription (events still waiting on Kafka when it was made are not its)."""
        if self.status != "active" or event_type not in self.event_types:
            return False
        if occurred_at is not None and occurred_at < self.created_at:
            return False
        return self.instance_id is None or self.instance_id == instance_id

    def signing_secrets(self, now: datetime) -> tuple[SigningSecret, ...]:
        return tuple(s for s in self.secrets if s.expires_at is None or s.expires_at > now)

    def with_status(self, status: Status, now: datetime, *, reason: str | None = None) -> Subscription:
        failures = 0 if status == "active" else self.consecutive_failures
        return replace(self, status=status, paused_reason=reason, consecutive_failures=failures, updated_at=now)

    def rotated(self, sealed: str, hint: str, now: datetime, overlap: timedelta) -> Subscription:
        keep = tuple(replace(s, expires_at=now + overlap) for s in self.signing_secrets(now) if s.expires_at is None)
        kept = keep if overlap > timedelta(0) else ()
        return replace(self, secrets=(SigningSecret(sealed), *kept), secret_hint=hint, updated_at=now)

    @property
    def previous_secret_expires_at(self) -> datetime | None:
        expiries = [s.expires_at for s in self.secrets if s.expires_at is not None]
        return max(expiries) if expiries else None


def new_subscription_id() -> str:
    return "whk_" + secrets.token_hex(12)


# ---------------------------------------------------------------------- deliveries


@dataclass(frozen=True)
class Attempt:
    at: datetime
    status_code: int | None
    latency_ms: int
    response_excerpt: str
    error: str | None


@dataclass(frozen=True)
class SendResult:
    """What one POST gave: a status (None when no answer came), the excerpt, an error, the delay asked."""

    status_code: int | None
    latency_ms: int
    response_excerpt: str = ""
    error: str | None = None
    retry_after: float | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def delivery_id(subscription_id: str, event_id: str) -> str:
    """The same event for the same subscription is the same delivery, however often it arrives."""
    return "dlv_" + hashlib.sha256(f"{subscription_id}\0{event_id}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Delivery:
    id: str
    subscription_id: str
    partner_id: str
    event_id: str
    event_type: str
    subject: str
    """The aggregate: deliveries of one subscription and subject are sent in `seq` order."""
    body: str
    """The CloudEvent JSON, byte for byte the same in every attempt."""
    seq: int
    outcome: Outcome
    attempt_count: int
    next_attempt_at: datetime | None
    created_at: datetime
    last_status_code: int | None = None
    attempts: tuple[Attempt, ...] = ()
    series: int = 1
    lease_owner: str | None = None
    lease_until: datetime | None = None

    def after(self, result: SendResult, now: datetime, schedule: RetrySchedule) -> Delivery:
        """The delivery once this attempt is recorded: succeeded, due again later, or failed."""
        attempt = Attempt(
            at=now,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            response_excerpt=result.response_excerpt[:MAX_EXCERPT],
            error=result.error,
        )
        count = self.attempt_count + 1
        common = {
            "attempt_count": count,
            "attempts": (*self.attempts, attempt)[-MAX_ATTEMPTS_KEPT:],
            "last_status_code": result.status_code,
            "lease_owner": None,
            "lease_until": None,
        }
        if result.succeeded:
            return replace(self, outcome="succeeded", next_attempt_at=None, **common)  # type: ignore[arg-type]
        wait = schedule.wait_after(count, result.retry_after)
        if wait is None:
            return replace(self, outcome="failed", next_attempt_at=None, **common)  # type: ignore[arg-type]
        return replace(self, next_attempt_at=now + timedelta(seconds=wait), **common)  # type: ignore[arg-type]

    def replayed(self, now: datetime) -> Delivery:
        """A new series of attempts with the same event (and so the same `webhook-id`)."""
        return replace(
            self, outcome="pending", attempt_count=0, next_attempt_at=now, series=self.series + 1,
            lease_owner=None, lease_until=None,
        )  # fmt: skip


@dataclass(frozen=True)
class RetrySchedule:
    waits: tuple[float, ...] = DEFAULT_SCHEDULE
    max_retry_after: float = 24 * 3600
    rng: random.Random = field(default_factory=random.Random, compare=False)

    @property
    def max_attempts(self) -> int:
        return len(self.waits) + 1

    def wait_after(self, attempts_made: int, retry_after: float | None = None) -> float | None:
        """Seconds until the next attempt after `attempts_made` failed ones, None when spent.
        Jittered in the upper half of the step; a receiver's `Retry-After` is honoured (capped)."""
        if attempts_made >= self.max_attempts:
            return None
        step = self.waits[attempts_made - 1]
        wait = self.rng.uniform(step / 2, step)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_retry_after))
        return wait


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """`Retry-After` as seconds or an HTTP date (RFC 9110 §10.2.3); None when absent or invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


def sendable(delivery: Delivery, now: datetime) -> bool:
    """Due, and not claimed by a sender whose lease still runs."""
    if delivery.next_attempt_at is not None and delivery.next_attempt_at > now:
        return False
    return delivery.lease_until is None or delivery.lease_until <= now


def due_in_order(pending: Iterable[Delivery], now: datetime, *, busy: set[str]) -> dict[str, list[Delivery]]:
    """Per subscription not `busy`, its pending deliveries in event order, for one sender to send
    one after the other: an aggregate (subject) is there only when its oldest pending delivery
    may be sent now, so a later event of an aggregate never overtakes an earlier one still being
    retried. The sender stops an aggregate at its first delivery that fails or is not `sendable`."""
    blocked: set[tuple[str, str]] = set()
    open_: set[tuple[str, str]] = set()
    chosen: dict[str, list[Delivery]] = {}
    for delivery in sorted(pending, key=lambda d: d.seq):
        key = (delivery.subscription_id, delivery.subject)
        if delivery.subscription_id in busy or key in blocked:
            continue
        if key not in open_:  # the aggregate's head
            if not sendable(delivery, now):
                blocked.add(key)
                continue
            open_.add(key)
        chosen.setdefault(delivery.subscription_id, []).append(delivery)
    return chosen
