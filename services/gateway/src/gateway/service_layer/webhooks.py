"""Webhooks' use cases (#19): managing subscriptions (commands), reading them and their delivery
log (queries), turning Kafka events into deliveries (the dispatcher) and sending them (the sender).

The sender is one loop per dispatcher replica: it reads the pending bucket, picks per
subscription the deliveries that may go now (oldest first, one at a time per subscription, never
a later event of an aggregate before an earlier one), claims each with a lease before sending so
two replicas never send one delivery at once, and records the attempt. A sender that dies
mid-send leaves the lease to expire: the delivery is sent again, with the same `webhook-id`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from contracts import EventEnvelope
from gateway.domain.notifications import LiveStreams, Notification
from gateway.domain.webhooks import (
    EVENT_TYPES,
    MAX_DESCRIPTION,
    PAUSED_NOTIFICATION,
    TEST_EVENT,
    Delivery,
    DeliveryNotFound,
    RetrySchedule,
    SigningSecret,
    Status,
    Subscription,
    SubscriptionNotActive,
    SubscriptionNotFound,
    check_event_types,
    check_url,
    delivery_id,
    due_in_order,
    new_secret,
    new_subscription_id,
    secret_hint,
    signature_headers,
)
from gateway.service_layer.ports import (
    NotificationLog,
    PushSender,
    SecretSealer,
    WebhookDeliveries,
    WebhookSubscriptions,
    WebhookTransport,
)
from servicekit.errors import InvalidInput, PartnerNotAllowed
from servicekit.pagination import Page
from servicekit.principal import Principal

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Language = Literal["es", "en"]


def _now() -> datetime:
    return datetime.now(UTC)


class Sequencer:
    """Microseconds since the epoch, strictly increasing in the process: orders the deliveries
    the way their events came off Kafka (one dispatcher replica)."""

    def __init__(self, clock: Clock = _now) -> None:
        self._clock = clock
        self._last = 0

    def next(self) -> int:
        self._last = max(self._last + 1, int(self._clock().timestamp() * 1_000_000))
        return self._last


@dataclass(frozen=True)
class CreatedSubscription:
    subscription: Subscription
    secret: str
    created: bool


@dataclass(frozen=True)
class RotatedSecret:
    subscription: Subscription
    secret: str


@dataclass(frozen=True)
class EventType:
    type: str
    description: str


def _visible(principal: Principal, subscription: Subscription | None, subscription_id: str) -> Subscription:
    """A user sees their partners' subscriptions: a partner user their own partner's, staff those
    of every partner they are associated with (as everywhere in the platform); another's is a 404."""
    if subscription is None or subscription.partner_id not in principal.partner_ids:
        raise SubscriptionNotFound(subscription_id)
    return subscription


def _check_description(description: str) -> str:
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInput.of_field(
            "description",
            "at_most_characters",
            f"At most {MAX_DESCRIPTION} characters.",
            where="body",
            params={"limit": MAX_DESCRIPTION},
        )
    return description.strip()


class WebhookCommands:
    def __init__(
        self,
        *,
        subscriptions: WebhookSubscriptions,
        deliveries: WebhookDeliveries,
        sealer: SecretSealer,
        allow_private: bool,
        sequencer: Sequencer | None = None,
        wake: Callable[[], None] = lambda: None,
        clock: Clock = _now,
    ) -> None:
        self._subscriptions = subscriptions
        self._deliveries = deliveries
        self._sealer = sealer
        self._allow_private = allow_private
        self._sequencer = sequencer or Sequencer(clock)
        self._wake = wake
        self._clock = clock

    async def create_webhook(
        self,
        principal: Principal,
        *,
        partner_id: str,
        url: str,
        event_types: Iterable[str],
        instance_id: str | None = None,
        description: str = "",
        active: bool = True,
        idempotency_key: str | None = None,
    ) -> CreatedSubscription:
        """A new subscription and its secret (shown this once). Under an Idempotency-Key a retry
        answers the subscription the first request made, with its secret."""
        if partner_id not in principal.partner_ids:
            raise PartnerNotAllowed(partner_id)
        url = check_url(url, allow_private=self._allow_private)
        types = check_event_types(event_types)
        description = _check_description(description)
        if idempotency_key is not None:
            scope = f"{principal.partner_id}\0{principal.user_id}\0{idempotency_key}"
            subscription_id = "whk_" + hashlib.sha256(scope.encode()).hexdigest()[:24]
            existing = await self._subscriptions.get(subscription_id)
            if existing is not None:
                return CreatedSubscription(existing, self._sealer.open(existing.secrets[0].sealed), created=False)
        else:
            subscription_id = new_subscription_id()
        now = self._clock()
        secret = new_secret()
        subscription = Subscription(
            id=subscription_id,
            partner_id=partner_id,
            url=url,
            event_types=types,
            instance_id=instance_id,
            description=description,
            status="active" if active else "paused",
            paused_reason=None,
            consecutive_failures=0,
            secret_hint=secret_hint(secret),
            secrets=(SigningSecret(self._sealer.seal(secret)),),
            created_at=now,
            updated_at=now,
            created_by=principal.user_id,
        )
        if not await self._subscriptions.add(subscription):  # a concurrent retry of the same key won
            stored = _visible(principal, await self._subscriptions.get(subscription_id), subscription_id)
            return CreatedSubscription(stored, self._sealer.open(stored.secrets[0].sealed), created=False)
        return CreatedSubscription(subscription, secret, created=True)

    async def update_webhook(
        self, principal: Principal, subscription_id: str, changes: Mapping[str, Any]
    ) -> Subscription:
        """A merge patch of url, event_types, instance_id, description, status (active|paused);
        re-activating resets the failure count."""
        for _ in range(5):
            current = _visible(principal, await self._subscriptions.get(subscription_id), subscription_id)
            fields: dict[str, Any] = {}
            if "url" in changes:
                fields["url"] = check_url(str(changes["url"]), allow_private=self._allow_private)
            if "event_types" in changes:
                fields["event_types"] = check_event_types(changes["event_types"])
            if "instance_id" in changes:
                fields["instance_id"] = changes["instance_id"]
            if "description" in changes:
                fields["description"] = _check_description(str(changes["description"] or ""))
            now = self._clock()
            updated = replace(current, **fields, updated_at=now)
            status: Status | None = changes.get("status")
            if status is not None and status != current.status:
                updated = updated.with_status(status, now)
            if await self._subscriptions.replace(updated):
                if updated.status == "active" and current.status != "active":
                    self._wake()
                return replace(updated, version=updated.version + 1)
        raise RuntimeError(f"webhook subscription {subscription_id} keeps changing")

    async def delete_webhook(self, principal: Principal, subscription_id: str) -> None:
        _visible(principal, await self._subscriptions.get(subscription_id), subscription_id)
        await self._subscriptions.remove(subscription_id)
        await self._deliveries.remove_of(subscription_id)

    async def rotate_webhook_secret(
        self, principal: Principal, subscription_id: str, *, overlap_hours: int = 24
    ) -> RotatedSecret:
        """A new secret; the previous one keeps signing too for `overlap_hours` (0: stops now)."""
        for _ in range(5):
            current = _visible(principal, await self._subscriptions.get(subscription_id), subscription_id)
            secret = new_secret()
            rotated = current.rotated(
                self._sealer.seal(secret), secret_hint(secret), self._clock(), timedelta(hours=overlap_hours)
            )
            if await self._subscriptions.replace(rotated):
                return RotatedSecret(replace(rotated, version=rotated.version + 1), secret)
        raise RuntimeError(f"webhook subscription {subscription_id} keeps changing")

    async def send_test_event(self, principal: Principal, subscription_id: str) -> Delivery:
        """A `webhook.test` CloudEvent delivered to this subscription only."""
        subscription = _visible(principal, await self._subscriptions.get(subscription_id), subscription_id)
        if subscription.status != "active":
            raise SubscriptionNotActive(subscription.id, subscription.status)
        now = self._clock()
        event_id = str(uuid.uuid4())
        body = {
            "specversion": "1.0",
            "id": event_id,
            "type": TEST_EVENT,
            "source": "gateway",
            "time": now.isoformat().replace("+00:00", "Z"),
            "subject": subscription.id,
            "datacontenttype": "application/json",
            "data": {
                "subscription_id": subscription.id,
                "partner_id": subscription.partner_id,
                "requested_by": principal.user_id,
            },
        }
        delivery = Delivery(
            id=delivery_id(subscription.id, event_id),
            subscription_id=subscription.id,
            partner_id=subscription.partner_id,
            event_id=event_id,
            event_type=TEST_EVENT,
            subject=f"test:{event_id}",  # its own aggregate: a test never waits behind real events
            body=json.dumps(body, separators=(",", ":"), ensure_ascii=False),
            seq=self._sequencer.next(),
            outcome="pending",
            attempt_count=0,
            next_attempt_at=now,
            created_at=now,
        )
        await self._deliveries.add_new([delivery])
        self._wake()
        return delivery

    async def replay_delivery(self, principal: Principal, subscription_id: str, delivery_id_: str) -> Delivery:
        """A new series of attempts of one delivery, with the same `webhook-id`."""
        _visible(principal, await self._subscriptions.get(subscription_id), subscription_id)
        delivery = await self._deliveries.get(delivery_id_)
        if delivery is None or delivery.subscription_id != subscription_id:
            raise DeliveryNotFound(delivery_id_)
        replayed = delivery.replayed(self._clock())
        await self._deliveries.replace(replayed)
        self._wake()
        return replayed

    async def prune_deliveries(self, retention: timedelta) -> int:
        """Forget the settled deliveries older than `retention` (pending ones stay until settled)."""
        return await self._deliveries.forget_settled_before(self._clock() - retention)

    async def replay_failed(self, principal: Principal, subscription_id: str, *, since: datetime) -> int:
        """Replay every failed delivery of the subscription created at or after `since`."""
        _visible(principal, await self._subscriptions.get(subscription_id), subscription_id)
        now = self._clock()
        chosen = [d for d in await self._deliveries.of_subscription(subscription_id, "failed") if d.created_at >= since]
        for delivery in chosen:
            await self._deliveries.replace(delivery.replayed(now))
        if chosen:
            self._wake()
        return len(chosen)


class WebhookQueries:
    def __init__(self, *, subscriptions: WebhookSubscriptions, deliveries: WebhookDeliveries) -> None:
        self._subscriptions = subscriptions
        self._deliveries = deliveries

    async def webhook_event_types(self, language: Language) -> list[EventType]:
        return [EventType(name, texts[language]) for name, texts in EVENT_TYPES.items()]

    async def webhooks(
        self, principal: Principal, *, partner_id: str | None, status: str | None, limit: int, cursor: str | None
    ) -> Page[Subscription]:
        if partner_id is not None and partner_id not in principal.partner_ids:
            raise PartnerNotAllowed(partner_id)
        partners = (partner_id,) if partner_id is not None else tuple(principal.partner_ids)
        return await self._subscriptions.page(partners, status, limit, cursor)

    async def webhook(self, principal: Principal, subscription_id: str) -> Subscription:
        return _visible(principal, await self._subscriptions.get(subscription_id), subscription_id)

    async def webhook_deliveries(
        self,
        principal: Principal,
        subscription_id: str,
        *,
        event_type: str | None,
        outcome: str | None,
        limit: int,
        cursor: str | None,
    ) -> Page[Delivery]:
        _visible(principal, await self._subscriptions.get(subscription_id), subscription_id)
        return await self._deliveries.page(subscription_id, event_type, outcome, limit, cursor)

    async def webhook_delivery(self, principal: Principal, subscription_id: str, delivery_id_: str) -> Delivery:
        _visible(principal, await self._subscriptions.get(subscription_id), subscription_id)
        delivery = await self._deliveries.get(delivery_id_)
        if delivery is None or delivery.subscription_id != subscription_id:
            raise DeliveryNotFound(delivery_id_)
        return delivery


class WebhookDispatcher:
    """Kafka events → one delivery per matching active subscription (by the event's partner,
    type and instance), stored once per (subscription, event)."""

    def __init__(
        self,
        subscriptions: WebhookSubscriptions,
        deliveries: WebhookDeliveries,
        *,
        sequencer: Sequencer,
        wake: Callable[[], None] = lambda: None,
        clock: Clock = _now,
    ) -> None:
        self._subscriptions = subscriptions
        self._deliveries = deliveries
        self._sequencer = sequencer
        self._wake = wake
        self._clock = clock

    async def accept(self, events: Iterable[EventEnvelope[Any]]) -> int:
        """Store the deliveries these events make; returns how many were new."""
        batch = [(event, event.data.model_dump(mode="json")) for event in events]
        partners = {p["partner_id"] for _, p in batch if isinstance(p.get("partner_id"), str)}
        if not partners:
            return 0
        by_partner: dict[str, list[Subscription]] = {}
        for subscription in await self._subscriptions.of_partners(partners):
            by_partner.setdefault(subscription.partner_id, []).append(subscription)
        now = self._clock()
        new: list[Delivery] = []
        for event, payload in batch:
            instance_id = payload.get("instance_id")
            for subscription in by_partner.get(str(payload.get("partner_id")), []):
                instance = instance_id if isinstance(instance_id, str) else None
                if not subscription.wants(event.type, instance, event.time):
                    continue
                event_id = str(event.id)
                new.append(
                    Delivery(
                        id=delivery_id(subscription.id, event_id),
                        subscription_id=subscription.id,
                        partner_id=subscription.partner_id,
                        event_id=event_id,
                        event_type=event.type,
                        subject=event.subject,
                        body=event.to_json_bytes().decode(),
                        seq=self._sequencer.next(),
                        outcome="pending",
                        attempt_count=0,
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
        added = await self._deliveries.add_new(new)
        if added:
            self._wake()
        return added


class PausedNotifier:
    """Tells the partner a subscription was paused for failures: a `webhook.paused` notification
    in the log (SSE, resumable), fanned out to this replica's streams, and pushed to devices."""

    def __init__(
        self, log_store: NotificationLog, live: LiveStreams, push: PushSender | None, *, clock: Clock = _now
    ) -> None:
        self._log = log_store
        self._live = live
        self._push = push
        self._clock = clock
        self._sequencer = Sequencer(clock)

    async def paused(self, subscription: Subscription, reason: str) -> None:
        notification = Notification(
            id=str(uuid.uuid4()),
            seq=self._sequencer.next(),
            type=PAUSED_NOTIFICATION,
            partner_id=subscription.partner_id,
            subject=subscription.id,
            time=self._clock(),
            data={"subscription_id": subscription.id, "code": reason},
        )
        stored, inserted = await self._log.add(notification)
        self._live.fan_out(stored)
        if self._push is not None and inserted:
            await self._push.notify_partner(stored)


CLAIM_CHUNK = 10
"""Deliveries of a lane claimed at once (their lease is the policy's per delivery, times as many)."""


@dataclass(frozen=True)
class SenderPolicy:
    schedule: RetrySchedule = field(default_factory=RetrySchedule)
    max_parallel: int = 32
    lease_seconds: float = 60.0
    poll_seconds: float = 1.0
    pause_after_failures: int = 0
    """Consecutive failed attempts that pause a subscription (0: only a delivery spending its schedule)."""
    lane_limit: int = 100


class WebhookSender:
    def __init__(
        self,
        subscriptions: WebhookSubscriptions,
        deliveries: WebhookDeliveries,
        sealer: SecretSealer,
        transport: WebhookTransport,
        *,
        policy: SenderPolicy,
        notifier: PausedNotifier | None = None,
        owner: str | None = None,
        clock: Clock = _now,
    ) -> None:
        self._subscriptions = subscriptions
        self._deliveries = deliveries
        self._sealer = sealer
        self._transport = transport
        self._policy = policy
        self._notifier = notifier
        self._owner = owner or f"sender-{uuid.uuid4().hex[:12]}"
        self._clock = clock
        self._slots = asyncio.Semaphore(policy.max_parallel)
        self._busy: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self.sent = 0

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Until cancelled: send what is due, then wait for new deliveries or the next poll."""
        try:
            while True:
                self._wake.clear()
                try:
                    await self.tick()
                except Exception:
                    log.exception("webhook sender: a round failed; next in %ss", self._policy.poll_seconds)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._policy.poll_seconds)
        finally:
            await self.close()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def tick(self) -> int:
        """One round: start a lane per subscription with something due; returns how many lanes."""
        lanes = due_in_order(await self._deliveries.pending(), self._clock(), busy=self._busy)
        if not lanes:
            return 0
        subscriptions = await self._subscriptions.many(lanes)
        started = 0
        for subscription_id, lane in lanes.items():
            subscription = subscriptions.get(subscription_id)
            if subscription is None or subscription.status != "active":
                continue
            self._busy.add(subscription_id)
            task = asyncio.create_task(self._drain(subscription, lane[: self._policy.lane_limit]))
            self._tasks.add(task)
            task.add_done_callback(functools.partial(self._lane_done, subscription_id=subscription_id))
            started += 1
        return started

    async def drain(self) -> None:
        """Wait for the lanes in flight (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _lane_done(self, task: asyncio.Task[None], *, subscription_id: str) -> None:
        self._tasks.discard(task)
        self._busy.discard(subscription_id)
        if not task.cancelled() and task.exception() is not None:
            log.error("webhook lane of %s failed", subscription_id, exc_info=task.exception())
        self._wake.set()  # the subscription's next delivery may go now

    async def _drain(self, subscription: Subscription, lane: list[Delivery]) -> None:
        """Send the lane's deliveries one after the other, claimed `CLAIM_CHUNK` at a time; an
        aggregate stops at its first delivery not sent successfully (retried later, in order)."""
        failures = subscription.consecutive_failures
        stopped: set[str] = set()
        for start in range(0, len(lane), CLAIM_CHUNK):
            chunk = [d for d in lane[start : start + CLAIM_CHUNK] if d.subject not in stopped]
            if not chunk:
                continue
            token = f"{self._owner}:{uuid.uuid4().hex[:12]}"
            now = self._clock()
            lease = timedelta(seconds=self._policy.lease_seconds * len(chunk))
            taken = await self._deliveries.claim(chunk, token, now, now + lease)
            unsent = [d.id for d in chunk if d.id in taken]
            try:
                for delivery in chunk:
                    due = delivery.next_attempt_at is None or delivery.next_attempt_at <= self._clock()
                    if delivery.id not in taken or delivery.subject in stopped or not due:
                        stopped.add(delivery.subject)  # another sender has it, an earlier one failed, or later
                        continue
                    async with self._slots:
                        failures, paused = await self._send_one(subscription, delivery, failures, token)
                    unsent.remove(delivery.id)
                    if paused:
                        return
                    if failures:
                        stopped.add(delivery.subject)
            finally:
                await self._deliveries.release(unsent, token)

    async def _send_one(
        self, subscription: Subscription, delivery: Delivery, failures: int, token: str
    ) -> tuple[int, bool]:
        now = self._clock()
        secrets = [self._sealer.open(s.sealed) for s in subscription.signing_secrets(now)]
        body = delivery.body.encode()
        headers = signature_headers(secrets, delivery.event_id, int(now.timestamp()), body)
        result = await self._transport.post(subscription.url, body, headers)
        after = delivery.after(result, self._clock(), self._policy.schedule)
        if not await self._deliveries.record(after, token):
            log.warning("webhook delivery %s: lease lost before its attempt was recorded", delivery.id)
        self.sent += 1
        if result.succeeded:
            if failures:
                await self._subscriptions.reset_failures(subscription.id)
            return 0, False
        failures = await self._subscriptions.count_failure(subscription.id)
        limit = self._policy.pause_after_failures
        if after.outcome == "failed" or (limit and failures >= limit):
            reason = "webhook_delivery_failed" if after.outcome == "failed" else "webhook_consecutive_failures"
            if await self._subscriptions.pause_for_failures(subscription.id, reason, self._clock()):
                log.warning("webhook subscription %s paused for failures (%s)", subscription.id, reason)
                if self._notifier is not None:
                    try:
                        await self._notifier.paused(subscription, reason)
                    except Exception:
                        log.exception("the pause of %s could not be notified", subscription.id)
            return failures, True
        return failures, False
