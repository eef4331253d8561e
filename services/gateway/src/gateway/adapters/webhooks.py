"""Webhooks' adapters: the secrets' encryption, the two collections, and the HTTP poster that
never reaches a private address in production mode.

Subscriptions are looked up by `_id` or by `partner_id`, deliveries by `_id`, by
`subscription_id` or by `outcome` (the sender's "pending" bucket): equality filters only, which
FerretDB 1.x pushes down; ordering is done in the application where the bucket is read whole.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx2
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from gateway.domain.webhooks import (
    MAX_EXCERPT,
    Attempt,
    Delivery,
    SendResult,
    SigningSecret,
    Subscription,
    forbidden_address,
    parse_retry_after,
)
from servicekit.mongo import Document, IndexSpec, find_page
from servicekit.pagination import Page, Sort

SUBSCRIPTIONS = "webhook_subscriptions"
DELIVERIES = "webhook_deliveries"
WEBHOOK_INDEXES = [
    IndexSpec(SUBSCRIPTIONS, [("partner_id", 1)], name="partner"),
    IndexSpec(DELIVERIES, [("subscription_id", 1), ("seq", -1)], name="subscription_seq"),
    IndexSpec(DELIVERIES, [("outcome", 1)], name="outcome"),
]
SUBSCRIPTION_SORT = Sort("created_at", descending=True)
DELIVERY_SORT = Sort("seq", descending=True)


class SecretBox:
    """Fernet (AES-128-CBC + HMAC-SHA256) over the subscriptions' signing secrets: the dispatcher
    needs them in clear to sign, so they are encrypted, not hashed."""

    def __init__(self, key: str | bytes) -> None:
        self._fernet = Fernet(key)

    @classmethod
    def derived_from(cls, material: str) -> SecretBox:
        """A key derived (HKDF-SHA256) from another secret of the deployment, when none is configured."""
        raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"partnerapp webhook secrets").derive(
            material.encode()
        )
        return cls(base64.urlsafe_b64encode(raw))

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except InvalidToken as exc:
            raise RuntimeError("a webhook secret cannot be decrypted with the configured key") from exc


# ---------------------------------------------------------------------- subscriptions


def _subscription(doc: Document) -> Subscription:
    return Subscription(
        id=doc["_id"],
        partner_id=doc["partner_id"],
        url=doc["url"],
        event_types=tuple(doc["event_types"]),
        instance_id=doc.get("instance_id"),
        description=doc.get("description", ""),
        status=doc["status"],
        paused_reason=doc.get("paused_reason"),
        consecutive_failures=doc.get("consecutive_failures", 0),
        secret_hint=doc["secret_hint"],
        secrets=tuple(SigningSecret(s["sealed"], _aware(s.get("expires_at"))) for s in doc["secrets"]),
        created_at=_aware(doc["created_at"]) or datetime.now(UTC),
        updated_at=_aware(doc["updated_at"]) or datetime.now(UTC),
        created_by=doc.get("created_by", ""),
        version=doc.get("version", 1),
    )


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _subscription_doc(subscription: Subscription) -> Document:
    doc = asdict(subscription)
    doc["_id"] = doc.pop("id")
    doc["event_types"] = list(subscription.event_types)
    doc["secrets"] = [asdict(s) for s in subscription.secrets]
    return doc


class MongoWebhookSubscriptions:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._subscriptions = db[SUBSCRIPTIONS]

    async def add(self, subscription: Subscription) -> bool:
        try:
            await self._subscriptions.insert_one(_subscription_doc(subscription))
        except DuplicateKeyError:
            return False
        return True

    async def get(self, subscription_id: str) -> Subscription | None:
        doc = await self._subscriptions.find_one({"_id": subscription_id})
        return _subscription(doc) if doc else None

    async def many(self, ids: Iterable[str]) -> dict[str, Subscription]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        docs = self._subscriptions.find({"_id": wanted[0]} if len(wanted) == 1 else {"_id": {"$in": wanted}})
        return {doc["_id"]: _subscription(doc) async for doc in docs}

    async def replace(self, subscription: Subscription) -> bool:
        """Compare-and-set on `version` (one writer wins; the loser reads again)."""
        doc = _subscription_doc(subscription)
        doc["version"] = subscription.version + 1
        result = await self._subscriptions.replace_one({"_id": subscription.id, "version": subscription.version}, doc)
        return result.matched_count == 1

    async def remove(self, subscription_id: str) -> bool:
        return (await self._subscriptions.delete_one({"_id": subscription_id})).deleted_count == 1

    async def of_partners(self, partner_ids: Iterable[str]) -> list[Subscription]:
        wanted = sorted(set(partner_ids))
        if not wanted:
            return []
        match = {"partner_id": wanted[0]} if len(wanted) == 1 else {"partner_id": {"$in": wanted}}
        return [_subscription(doc) async for doc in self._subscriptions.find(match)]

    async def page(
        self, partner_ids: Iterable[str] | None, status: str | None, limit: int, cursor: str | None
    ) -> Page[Subscription]:
        match: dict[str, Any] = {}
        if partner_ids is not None:
            wanted = sorted(set(partner_ids))
            match["partner_id"] = wanted[0] if len(wanted) == 1 else {"$in": wanted or [""]}
        if status:
            match["status"] = status
        return await find_page(self._subscriptions, match, SUBSCRIPTION_SORT, limit, cursor, _subscription)

    async def count_failure(self, subscription_id: str) -> int:
        doc = await self._subscriptions.find_one_and_update(
            {"_id": subscription_id}, {"$inc": {"consecutive_failures": 1, "version": 1}}, return_document=True
        )
        return int(doc.get("consecutive_failures", 0)) if doc else 0

    async def reset_failures(self, subscription_id: str) -> None:
        await self._subscriptions.update_one(
            {"_id": subscription_id, "consecutive_failures": {"$gt": 0}},
            {"$set": {"consecutive_failures": 0}, "$inc": {"version": 1}},
        )

    async def pause_for_failures(self, subscription_id: str, reason: str, now: datetime) -> bool:
        """Active → failing_paused; True when this call paused it (so the partner is told once)."""
        result = await self._subscriptions.update_one(
            {"_id": subscription_id, "status": "active"},
            {"$set": {"status": "failing_paused", "paused_reason": reason, "updated_at": now}, "$inc": {"version": 1}},
        )
        return result.modified_count == 1


# ---------------------------------------------------------------------- deliveries


def _delivery(doc: Document) -> Delivery:
    return Delivery(
        id=doc["_id"],
        subscription_id=doc["subscription_id"],
        partner_id=doc["partner_id"],
        event_id=doc["event_id"],
        event_type=doc["event_type"],
        subject=doc["subject"],
        body=doc["body"],
        seq=doc["seq"],
        outcome=doc["outcome"],
        attempt_count=doc.get("attempt_count", 0),
        next_attempt_at=_aware(doc.get("next_attempt_at")),
        created_at=_aware(doc["created_at"]) or datetime.now(UTC),
        last_status_code=doc.get("last_status_code"),
        attempts=tuple(
            Attempt(
                at=_aware(a["at"]) or datetime.now(UTC),
                status_code=a.get("status_code"),
                latency_ms=a.get("latency_ms", 0),
                response_excerpt=a.get("response_excerpt", ""),
                error=a.get("error"),
            )
            for a in doc.get("attempts", [])
        ),
        series=doc.get("series", 1),
        lease_owner=doc.get("lease_owner"),
        lease_until=_aware(doc.get("lease_until")),
    )


def _delivery_doc(delivery: Delivery) -> Document:
    doc = asdict(delivery)
    doc["_id"] = doc.pop("id")
    doc["attempts"] = [asdict(a) for a in delivery.attempts]
    return doc


class MongoWebhookDeliveries:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._deliveries = db[DELIVERIES]

    async def add_new(self, deliveries: list[Delivery]) -> int:
        """Insert those not stored yet (by id); returns how many were new."""
        if not deliveries:
            return 0
        try:
            result = await self._deliveries.insert_many([_delivery_doc(d) for d in deliveries], ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != 11000 for e in errors):
                raise
            return int(exc.details.get("nInserted", len(deliveries) - len(errors)))
        return len(result.inserted_ids)

    async def get(self, delivery_id: str) -> Delivery | None:
        doc = await self._deliveries.find_one({"_id": delivery_id})
        return _delivery(doc) if doc else None

    async def pending(self) -> list[Delivery]:
        return [_delivery(doc) async for doc in self._deliveries.find({"outcome": "pending"})]

    async def claim(self, deliveries: list[Delivery], token: str, now: datetime, until: datetime) -> set[str]:
        """Take these deliveries under the claim's `token` (unique per claim) unless another sender's
        lease runs; returns the ids taken (two writes however many)."""
        ids = [d.id for d in deliveries]
        free = {"$or": [{"lease_until": None}, {"lease_until": {"$lte": now}}]}
        await self._deliveries.update_many(
            {"_id": {"$in": ids}, "outcome": "pending", **free}, {"$set": {"lease_owner": token, "lease_until": until}}
        )
        return {
            doc["_id"] async for doc in self._deliveries.find({"_id": {"$in": ids}, "lease_owner": token}, {"_id": 1})
        }

    async def release(self, delivery_ids: list[str], token: str) -> None:
        """Give back what a claim took and did not send (its aggregate stopped)."""
        if delivery_ids:
            await self._deliveries.update_many(
                {"_id": {"$in": delivery_ids}, "lease_owner": token},
                {"$set": {"lease_owner": None, "lease_until": None}},
            )

    async def record(self, delivery: Delivery, owner: str) -> bool:
        """Store what the attempt left (only while this sender still holds the lease)."""
        doc = _delivery_doc(delivery)
        doc.pop("_id")
        result = await self._deliveries.update_one({"_id": delivery.id, "lease_owner": owner}, {"$set": doc})
        return result.matched_count == 1

    async def replace(self, delivery: Delivery) -> None:
        doc = _delivery_doc(delivery)
        doc.pop("_id")
        await self._deliveries.update_one({"_id": delivery.id}, {"$set": doc})

    async def page(
        self, subscription_id: str, event_type: str | None, outcome: str | None, limit: int, cursor: str | None
    ) -> Page[Delivery]:
        match: dict[str, Any] = {"subscription_id": subscription_id}
        if event_type:
            match["event_type"] = event_type
        if outcome:
            match["outcome"] = outcome
        return await find_page(self._deliveries, match, DELIVERY_SORT, limit, cursor, _delivery)

    async def of_subscription(self, subscription_id: str, outcome: str) -> list[Delivery]:
        match = {"subscription_id": subscription_id, "outcome": outcome}
        return [_delivery(doc) async for doc in self._deliveries.find(match)]

    async def remove_of(self, subscription_id: str) -> int:
        return (await self._deliveries.delete_many({"subscription_id": subscription_id})).deleted_count

    async def forget_settled_before(self, moment: datetime) -> int:
        forgotten = 0
        for outcome in ("succeeded", "failed"):
            result = await self._deliveries.delete_many({"outcome": outcome, "created_at": {"$lt": moment}})
            forgotten += result.deleted_count
        return forgotten


# ---------------------------------------------------------------------- the HTTP poster

Resolver = Callable[[str, int], Awaitable[list[str]]]


async def resolve_host(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class TargetRefused(Exception):
    """The target resolves to an address deliveries must not reach."""


class WebhookPoster:
    """POSTs one signed delivery: no redirects followed, a timeout for the whole request, the
    answer's body read up to `MAX_EXCERPT` characters.

    In production mode (`allow_private=False`) the host is resolved first, every address is
    checked (`forbidden_address`), and the request connects to the checked address itself (the
    URL's host kept in `Host` and as the TLS server name, so the certificate is still verified
    for the name): a DNS answer changing between the check and the connection cannot redirect it.
    """

    def __init__(
        self,
        *,
        timeout_seconds: float,
        allow_private: bool,
        resolver: Resolver = resolve_host,
        transport: httpx2.AsyncBaseTransport | None = None,
        user_agent: str = "partnerapp-webhooks/1",
    ) -> None:
        self._allow_private = allow_private
        self._resolve = resolver
        self._timeout = timeout_seconds
        self._user_agent = user_agent
        self._client = httpx2.AsyncClient(
            timeout=httpx2.Timeout(timeout_seconds),
            follow_redirects=False,
            transport=transport,
            limits=httpx2.Limits(max_connections=200, max_keepalive_connections=50),
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> SendResult:
        started = time.monotonic()

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            target, extensions, host_header = await self._target(url)
        except TargetRefused as exc:
            return SendResult(None, elapsed(), error=f"refused: {exc}")
        except (OSError, UnicodeError) as exc:
            return SendResult(None, elapsed(), error=f"DNS: {type(exc).__name__}: {exc}"[:300])
        sent = {
            **headers,
            "content-type": "application/cloudevents+json; charset=utf-8",
            "user-agent": self._user_agent,
        }
        if host_header:
            sent["host"] = host_header
        try:
            async with asyncio.timeout(self._timeout):
                request = self._client.build_request("POST", target, content=body, headers=sent, extensions=extensions)
                response = await self._client.send(request, stream=True)
                try:
                    excerpt = await _excerpt(response)
                finally:
                    await response.aclose()
        except TimeoutError:
            return SendResult(None, elapsed(), error=f"timeout after {self._timeout:g} s")
        except httpx2.HTTPError as exc:
            return SendResult(None, elapsed(), error=f"{type(exc).__name__}: {exc}"[:300])
        retry_after = None
        if response.status_code in (429, 503):
            retry_after = parse_retry_after(response.headers.get("retry-after"), datetime.now(UTC))
        error = None
        if 300 <= response.status_code < 400:
            error = "redirect not followed"
        return SendResult(response.status_code, elapsed(), excerpt, error=error, retry_after=retry_after)

    async def _target(self, url: str) -> tuple[str, dict[str, Any], str | None]:
        if self._allow_private:
            return url, {}, None
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            addresses = await self._resolve(host, port)
        if not addresses:
            raise TargetRefused(f"{host} has no address")
        for address in addresses:
            reason = forbidden_address(address)
            if reason:
                raise TargetRefused(f"{host} resolves to a {reason} address ({address})")
        chosen = addresses[0]
        literal = f"[{chosen}]" if ":" in chosen else chosen
        netloc = f"{literal}:{parts.port}" if parts.port else literal
        host_header = parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=netloc)), {"sni_hostname": host}, host_header


async def _excerpt(response: httpx2.Response) -> str:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_EXCERPT * 4:  # enough bytes for MAX_EXCERPT characters of any UTF-8
            break
    return b"".join(chunks).decode("utf-8", errors="replace")[:MAX_EXCERPT]
