"""Web Push (R-06): a new support message shows on the partner's devices and opens its thread.

Three parts:

- `MongoPushSubscriptions`: the browsers' push subscriptions (`PushManager.subscribe()`), one
  document per endpoint (`_id` = sha256 of the endpoint), owned by the user who last posted it.
- `VapidKeys`: the application server key pair (EC P-256) that signs the VAPID JWT; its public
  half is the browser's `applicationServerKey`.
- `WebPushSender`: encrypts a small JSON payload (RFC 8291, aes128gcm) for each device of the
  notification's partner except the author's, and posts it to the push service (RFC 8030) with a
  VAPID authorization (RFC 8292). pywebpush is synchronous (requests): each post runs in a worker
  thread, a few at a time, with a timeout. Subscriptions the push service reports gone (404/410)
  are deleted. Nothing here raises to the caller: a push service being down only logs.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid  # type: ignore[import-untyped]
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts.events.support import render_note
from gateway.adapters.mongo import PUSH_SUBSCRIPTIONS
from gateway.domain.notifications import Notification
from servicekit.i18n import DEFAULT_LANGUAGE, Language, as_language
from servicekit.mongo import Document, DocumentLocks

log = logging.getLogger(__name__)

DEFAULT_SUBJECT = "mailto:support@partnerapp.example"
MAX_ENDPOINT_LENGTH = 2048
MAX_DEVICES_PER_USER = 10
"""Per user and partner: the oldest subscriptions beyond this are dropped (a user cannot make
every message fan out to thousands of endpoints)."""
GONE_STATUSES = frozenset({404, 410})
Urgency = Literal["very-low", "low", "normal", "high"]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class InvalidKey(ValueError):
    """A browser key refused; `code` words the message for each reader (servicekit.i18n)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def b64url_decode(text: str) -> bytes:
    """Base64url with or without padding; raises ValueError on anything else."""
    stripped = text.rstrip("=")
    if not stripped or any(not (c.isascii() and (c.isalnum() or c in "-_")) for c in stripped):
        raise InvalidKey("not base64url", "not_base64url")
    try:
        return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidKey("not base64url", "not_base64url") from exc


def subscription_id(endpoint: str) -> str:
    return hashlib.sha256(endpoint.encode("utf-8")).hexdigest()


def check_p256dh(value: str) -> str:
    """The browser's ECDH public key: a P-256 point, uncompressed (65 bytes). Returns it unpadded."""
    raw = b64url_decode(value)
    if len(raw) != 65 or raw[0] != 0x04:
        raise InvalidKey("must be an uncompressed P-256 public key (65 bytes, base64url)", "p256_key")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError as exc:
        raise InvalidKey("is not a point on P-256", "p256_point") from exc
    return b64url(raw)


def check_auth_secret(value: str) -> str:
    """The browser's authentication secret: 16 random bytes. Returns it unpadded."""
    raw = b64url_decode(value)
    if len(raw) != 16:
        raise InvalidKey("must be 16 bytes, base64url", "auth_secret_length")
    return b64url(raw)


def _origin(endpoint: str) -> str:
    """For logs: the push service, never the endpoint (it is the device's capability URL)."""
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class PushSubscription:
    endpoint: str
    p256dh: str
    auth: str
    user_id: str
    partner_id: str
    created_at: datetime
    updated_at: datetime
    expiration_time: int | None = None
    """Milliseconds since the epoch, as the browser gave it (usually null)."""

    @property
    def id(self) -> str:
        return subscription_id(self.endpoint)

    def info(self) -> dict[str, Any]:
        """What pywebpush calls `subscription_info`."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


def _subscription(doc: Document) -> PushSubscription:
    return PushSubscription(
        endpoint=doc["endpoint"],
        p256dh=doc["keys"]["p256dh"],
        auth=doc["keys"]["auth"],
        user_id=doc["user_id"],
        partner_id=doc["partner_id"],
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        expiration_time=doc.get("expiration_time"),
    )


class MongoPushSubscriptions:
    """`push_subscriptions`: `_id` = sha256(endpoint), so a device re-subscribing updates its document.

    The same endpoint posted by another user moves to that user: a browser has one subscription
    per site, so it now belongs to whoever is signed in there (and the previous user's
    notifications stop showing on a device they no longer use). The endpoint is a capability
    URL only its browser knows.
    """

    def __init__(
        self,
        db: AsyncDatabase[Document],
        locks: DocumentLocks | None = None,
        *,
        max_devices_per_user: int = MAX_DEVICES_PER_USER,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._subscriptions = db[PUSH_SUBSCRIPTIONS]
        self._locks = locks or DocumentLocks()
        self._max_devices = max_devices_per_user
        self._clock = clock

    async def put(
        self,
        *,
        endpoint: str,
        p256dh: str,
        auth: str,
        user_id: str,
        partner_id: str,
        expiration_time: int | None = None,
    ) -> tuple[PushSubscription, bool]:
        """Store the device's subscription; returns it and whether it is new (False: updated)."""
        sid = subscription_id(endpoint)
        now = self._clock()
        fields: Document = {
            "endpoint": endpoint,
            "keys": {"p256dh": p256dh, "auth": auth},
            "user_id": user_id,
            "partner_id": partner_id,
            "expiration_time": expiration_time,
            "updated_at": now,
        }
        async with self._locks.lock(PUSH_SUBSCRIPTIONS, sid):
            try:
                result = await self._subscriptions.update_one(
                    {"_id": sid}, {"$set": fields, "$setOnInsert": {"created_at": now}}, upsert=True
                )
                created = result.upserted_id is not None
            except DuplicateKeyError:  # another replica inserted it in between: it exists now
                await self._subscriptions.update_one({"_id": sid}, {"$set": fields})
                created = False
            doc = await self._subscriptions.find_one({"_id": sid})
        if doc is None:  # deleted in between (its push service said gone): store it again
            doc = {"_id": sid, **fields, "created_at": now}
            await self._subscriptions.replace_one({"_id": sid}, doc, upsert=True)
            created = True
        if created:
            await self._trim(user_id, partner_id)
        return _subscription(doc), created

    async def _trim(self, user_id: str, partner_id: str) -> None:
        mine = [s for s in await self.for_partner(partner_id) if s.user_id == user_id]
        if len(mine) <= self._max_devices:
            return
        mine.sort(key=lambda s: s.updated_at, reverse=True)
        stale = [s.id for s in mine[self._max_devices :]]
        await self._subscriptions.delete_many({"_id": {"$in": stale}, "user_id": user_id})

    async def get(self, endpoint: str) -> PushSubscription | None:
        doc = await self._subscriptions.find_one({"_id": subscription_id(endpoint)})
        return _subscription(doc) if doc else None

    async def for_partner(self, partner_id: str) -> list[PushSubscription]:
        return [_subscription(doc) async for doc in self._subscriptions.find({"partner_id": partner_id})]

    async def remove(self, endpoint: str, *, user_id: str) -> bool:
        """The user unsubscribes a device; False if that endpoint is not theirs (or unknown)."""
        result = await self._subscriptions.delete_one({"_id": subscription_id(endpoint), "user_id": user_id})
        return result.deleted_count == 1

    async def forget(self, endpoint: str) -> bool:
        """The push service says the subscription is gone (expired, or the user revoked permission)."""
        result = await self._subscriptions.delete_one({"_id": subscription_id(endpoint), "endpoint": endpoint})
        return result.deleted_count == 1


class VapidKeys:
    """The application server's EC P-256 key pair (RFC 8292)."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise ValueError(f"the VAPID key must be on P-256, not {private_key.curve.name}")
        self._private_key = private_key

    @classmethod
    def from_pem(cls, pem: bytes) -> VapidKeys:
        """PKCS#8 (`BEGIN PRIVATE KEY`) or SEC 1 (`BEGIN EC PRIVATE KEY`, what
        `openssl ecparam -name prime256v1 -genkey -noout` writes), unencrypted."""
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the VAPID key must be an EC P-256 private key")
        return cls(key)

    @classmethod
    def generate(cls) -> VapidKeys:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def load(cls, path: Path | None) -> VapidKeys:
        """From the PEM file the settings name; without one, an ephemeral key (development only)."""
        if path is None:
            log.warning(
                "no VAPID key file (GATEWAY_VAPID_PRIVATE_KEY_FILE): using an ephemeral Web Push key. "
                "Devices subscribed now stop receiving pushes when the gateway restarts, and "
                "replicas would each have their own key"
            )
            return cls.generate()
        try:
            return cls.from_pem(path.read_bytes())
        except (OSError, ValueError, TypeError) as exc:
            raise ValueError(f"cannot load the VAPID private key from {path}: {exc}") from exc

    @property
    def private_key(self) -> ec.EllipticCurvePrivateKey:
        return self._private_key

    def private_pem(self) -> bytes:
        return self._private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    @property
    def public_key(self) -> str:
        """The `applicationServerKey`: the uncompressed point (65 bytes), base64url without padding."""
        point = self._private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(point)


@dataclass(frozen=True)
class PushRequest:
    subscription: Mapping[str, Any]
    data: str
    ttl_seconds: int
    headers: Mapping[str, str]
    timeout_seconds: float


PushTransport = Callable[[PushRequest], int]
"""Posts one push message (blocking) and returns the push service's HTTP status; raises when no
answer came (connection refused, timeout)."""


def pywebpush_transport(keys: VapidKeys, subject: str) -> PushTransport:
    vapid = Vapid(private_key=keys.private_key)

    def send(request: PushRequest) -> int:
        # pywebpush brings requests, urllib3 and http_ece (some 8 MB): imported with the first push.
        from pywebpush import WebPushException, webpush  # type: ignore[import-untyped]  # noqa: PLC0415

        try:
            response = webpush(
                subscription_info=dict(request.subscription),
                data=request.data,
                vapid_private_key=vapid,
                # A new dict each time: pywebpush fills in `aud` (the endpoint's origin) and `exp`.
                vapid_claims={"sub": subject},
                ttl=request.ttl_seconds,
                headers=dict(request.headers),
                timeout=request.timeout_seconds,
            )
        except WebPushException as exc:
            status = exc.status_code
            if status is None:
                raise
            return int(status)
        return int(response.status_code)

    return send


class SubscriptionStore(Protocol):
    async def for_partner(self, partner_id: str) -> list[PushSubscription]: ...

    async def forget(self, endpoint: str) -> bool: ...


_TITLES: Mapping[str, Mapping[Language, str]] = {
    "support": {"es": "Soporte ha respondido", "en": "Support replied"},
    "system": {"es": "Aviso en soporte", "en": "Support notice"},
    "partner": {"es": "Nuevo mensaje de soporte", "en": "New support message"},
}

LanguageOf = Callable[[str], Awaitable[Language]]
"""A user's language (their profile's), by user id."""


def message_payload(notification: Notification, language: Language = DEFAULT_LANGUAGE) -> dict[str, Any] | None:
    """What the service worker shows, in the reader's language: title, the message preview (a
    system note worded from its code), and the thread to open."""
    if notification.type == "webhook.paused":
        return _paused_payload(notification, language)
    thread_id = notification.data.get("thread_id")
    if notification.type != "message.posted" or not isinstance(thread_id, str):
        return None
    side = str(notification.data.get("author_side"))
    code, params = notification.data.get("code"), notification.data.get("params")
    note = render_note(code, params if isinstance(params, dict) else {}, language) if isinstance(code, str) else None
    return {
        "type": notification.type,
        "title": _TITLES.get(side, _TITLES["partner"])[language],
        "body": note if note is not None else str(notification.data.get("preview", "")),
        "url": f"/support/threads/{thread_id}",
        "thread_id": thread_id,
        "notification_id": notification.id,
    }


_PAUSED = {
    "title": {"es": "Webhook en pausa", "en": "Webhook paused"},
    "body": {
        "es": "Una suscripción de webhook ha fallado repetidamente y se ha puesto en pausa. "
        "Revisa su registro de entregas.",
        "en": "A webhook subscription kept failing and was paused. Check its delivery log.",
    },
}


def _paused_payload(notification: Notification, language: Language) -> dict[str, Any]:
    """A webhook subscription paused for failures (#19): the Integrations page to open."""
    subscription_id = str(notification.data.get("subscription_id", notification.subject or ""))
    return {
        "type": notification.type,
        "title": _PAUSED["title"][language],
        "body": _PAUSED["body"][language],
        "url": "/profile/integrations",
        "thread_id": subscription_id,  # the Topic: a newer pause of the same subscription replaces it
        "subscription_id": subscription_id,
        "notification_id": notification.id,
    }


def _topic(thread_id: str) -> str:
    """RFC 8030 `Topic` (≤ 32 base64url chars): an undelivered push of the same thread is replaced."""
    return b64url(hashlib.sha256(thread_id.encode("utf-8")).digest())[:32]


class WebPushSender:
    """`PushSender` over Web Push.

    `notify_partner` only schedules the delivery and returns: the notification hub awaits it while
    consuming Kafka batches, and a slow push service must not hold up the live (SSE) stream.
    `deliver` sends and waits (tests, scripts); `close` lets what is in flight finish at shutdown.
    """

    def __init__(
        self,
        subscriptions: SubscriptionStore,
        keys: VapidKeys,
        *,
        subject: str = DEFAULT_SUBJECT,
        ttl_seconds: int = 86_400,
        urgency: Urgency = "high",
        timeout_seconds: float = 10.0,
        max_parallel: int = 8,
        max_pending: int = 1000,
        transport: PushTransport | None = None,
        language_of: LanguageOf | None = None,
    ) -> None:
        self._subscriptions = subscriptions
        self._language_of = language_of
        self._ttl = ttl_seconds
        self._urgency = urgency
        self._timeout = timeout_seconds
        self._max_pending = max_pending
        self._transport = transport or pywebpush_transport(keys, subject)
        self._slots = asyncio.Semaphore(max_parallel)
        self._pending: set[asyncio.Task[int]] = set()

    async def notify_partner(self, notification: Notification) -> None:
        if message_payload(notification) is None:
            return
        if len(self._pending) >= self._max_pending:
            log.warning("web push backlog full (%d): not pushing %s", len(self._pending), notification.id)
            return
        task = asyncio.create_task(self.deliver(notification), name=f"webpush:{notification.id}")
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def deliver(self, notification: Notification) -> int:
        """Push to the partner's devices except the author's; returns how many the push services accepted."""
        payload = message_payload(notification)
        if payload is None:
            return 0
        try:
            author = notification.data.get("author_id")
            targets = [s for s in await self._subscriptions.for_partner(notification.partner_id) if s.user_id != author]
            if not targets:
                return 0
            languages = await self._languages({target.user_id for target in targets})
            data = {
                language: json.dumps(message_payload(notification, language), ensure_ascii=False, separators=(",", ":"))
                for language in set(languages.values())
            }
            headers = {"Urgency": self._urgency, "Topic": _topic(payload["thread_id"])}
            sent = await asyncio.gather(
                *(self._send(t, data[languages[t.user_id]], headers, notification.id) for t in targets)
            )
            return sum(sent)
        except Exception:
            log.exception("web push of %s failed", notification.id)
            return 0

    async def _languages(self, user_ids: set[str]) -> dict[str, Language]:
        """Each recipient's profile language; the default for one that cannot be read."""
        if self._language_of is None:
            return dict.fromkeys(user_ids, DEFAULT_LANGUAGE)
        ordered = sorted(user_ids)
        found = await asyncio.gather(*(self._language_of(u) for u in ordered), return_exceptions=True)
        return {user: as_language(language) for user, language in zip(ordered, found, strict=True)}

    async def _send(self, target: PushSubscription, data: str, headers: Mapping[str, str], notification_id: str) -> int:
        request = PushRequest(target.info(), data, self._ttl, headers, self._timeout)
        try:
            async with self._slots:
                # requests' timeout bounds each connect and read; this bounds the whole post.
                status = await asyncio.wait_for(asyncio.to_thread(self._transport, request), self._timeout * 2)
        except TimeoutError:
            log.warning("web push of %s to %s timed out", notification_id, _origin(target.endpoint))
            return 0
        except Exception as exc:
            # The exception's text would include the endpoint (the device's capability URL): not logged.
            log.warning(
                "web push of %s to %s failed: %s", notification_id, _origin(target.endpoint), type(exc).__name__
            )
            return 0
        if status < 300:
            return 1
        if status in GONE_STATUSES:
            log.info("push subscription %s gone (%d): deleted", target.id[:12], status)
            await self._forget(target)
        else:
            log.warning("web push of %s to %s refused: HTTP %d", notification_id, _origin(target.endpoint), status)
        return 0

    async def _forget(self, target: PushSubscription) -> None:
        try:
            await self._subscriptions.forget(target.endpoint)
        except Exception:
            log.exception("could not delete the gone push subscription %s", target.id[:12])

    async def drain(self) -> None:
        """Wait until every scheduled delivery has finished."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def close(self, timeout_seconds: float = 5.0) -> None:
        """At shutdown: give deliveries in flight a moment, then cancel them."""
        if not self._pending:
            return
        _done, still = await asyncio.wait(list(self._pending), timeout=timeout_seconds)
        for task in still:
            task.cancel()
        await asyncio.gather(*still, return_exceptions=True)
