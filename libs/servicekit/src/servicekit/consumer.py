"""At-least-once consumption with idempotent effects and dead letters.

For every record: decode the envelope (a record that is not a valid envelope, or holds U+0000 in
a string, which no store keeps, goes straight to the dead-letter topic: retrying cannot fix it),
skip it if this consumer already applied that event id, apply the handler (retrying a few
times), then remember the id. A handler that keeps failing sends the record to the dead-letter
topic. Only then is the offset committed, so the partition moves on and nothing acknowledged is
lost.

If the store or the dead-letter publish itself fails, the exception propagates: FastStream
(`AckPolicy.NACK_ON_ERROR`) seeks back and the record is delivered again.

A crash after the effect and before the id is remembered re-applies the effect on redelivery:
handlers must therefore be idempotent by event id themselves (e.g. upsert keyed on it); the
inbox spares them the repeated work and counts duplicates.

Handlers get the payload as the catalogue's model for the topic (`contracts.CATALOGUE`):
subscribing with the payload class, `subscribe(LicenseRevoked, handler)`, lets the type checker
hold the handler to `EventEnvelope[LicenseRevoked]`. `process` applies these rules to records
in memory; `install` only wires it to one FastStream subscriber, so the rules are tested with
fakes of the inbox and the dead-letter topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, overload

from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from pydantic import BaseModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, DuplicateKeyError
from typing_extensions import TypeVar

from contracts import EventEnvelope, MalformedEvent, decode_envelope, topic_for_payload, utc_now
from servicekit.deadletter import FailedMessage
from servicekit.handlers import Delivered
from servicekit.mongo import Document, IndexSpec
from servicekit.nul import json_nul_locations
from servicekit.settings import ServiceSettings

log = logging.getLogger(__name__)

INBOX_COLLECTION = "inbox"
INBOX_INDEXES = [IndexSpec(INBOX_COLLECTION, [("consumer", 1), ("event_id", 1)], unique=True, name="consumer_event")]

# Failures of the infrastructure, not of the message: the record is redelivered, not dead-lettered.
INFRASTRUCTURE_ERRORS = (ConnectionFailure, KafkaConnectionError, KafkaTimeoutError)

Payload = TypeVar("Payload", bound=BaseModel)
"""The catalogue's payload model of a topic (e.g. `LicenseRevoked`)."""
Handler = Callable[[EventEnvelope[Any]], Awaitable[None]]
BatchHandler = Callable[[list[EventEnvelope[Any]]], Awaitable[None]]


DeliveryHandler = Callable[[list[Delivered]], Awaitable[None]]
"""Applies many events at once (e.g. one bulk insert); must be idempotent by event id itself:
batch handlers skip the inbox, which would cost a look-up per event."""

EventType = str | type[BaseModel]
"""A catalogue topic name (`"license.revoked"`) or its payload model (`LicenseRevoked`)."""


class AppliedEvents(Protocol):
    """Where the consumer remembers which event ids it applied (the `Inbox`, or a fake in tests)."""

    async def seen(self, consumer: str, event_id: str) -> bool: ...

    async def remember(self, consumer: str, event_id: str) -> None: ...


class DeadLetters(Protocol):
    """Where the consumer puts what it can never handle (the `DeadLetterPublisher`, or a fake)."""

    async def send(self, failed: FailedMessage) -> None: ...


@dataclass(frozen=True)
class _Subscription:
    name: str
    handler: Handler | None = None
    batch_handler: DeliveryHandler | None = None


class Inbox:
    """Which event ids a consumer has applied (one document per consumer and event)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._collection = db[INBOX_COLLECTION]

    async def seen(self, consumer: str, event_id: str) -> bool:
        return await self._collection.find_one({"_id": f"{consumer}:{event_id}"}, {"_id": 1}) is not None

    async def remember(self, consumer: str, event_id: str) -> None:
        with contextlib.suppress(DuplicateKeyError):  # a concurrent redelivery got there first
            await self._collection.insert_one(
                {"_id": f"{consumer}:{event_id}", "consumer": consumer, "event_id": event_id, "at": utc_now()}
            )

    async def forget_before(self, moment: datetime) -> int:
        """Drop entries older than any redelivery can be. Keeps look-ups cheap: on FerretDB each
        one reads the whole collection."""
        result = await self._collection.delete_many({"at": {"$lt": moment}})
        return result.deleted_count


@dataclass
class ConsumerStats:
    handled: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    retries: int = 0
    by_topic: dict[str, int] = field(default_factory=dict)


class EventConsumer:
    """Subscribes handlers to topics with the at-least-once rules above.

    One Kafka consumer (in batches of up to `consumer_max_batch` records) serves all the service's topics:
    a group member joins once, not once per topic, and offsets are committed once per batch,
    after every record of it was applied or dead-lettered. A failure of the infrastructure
    makes the whole batch come again; handlers are idempotent, so that is safe.

    Fetching is pipelined with storing already: aiokafka's fetcher task sends the next fetch for
    a partition as soon as `getmany` has drained its buffered records, so while a batch is being
    applied the next one arrives (up to a fetch response per partition, `max_partition_fetch_bytes`);
    measured: from the second batch on, every `getmany` found records buffered for the partitions
    and returned after decoding them only, no fetch round trip. The commit order is unchanged.
    """

    def __init__(
        self,
        broker: KafkaBroker,
        settings: ServiceSettings,
        inbox: AppliedEvents,
        dead_letters: DeadLetters,
        *,
        retry_backoff_seconds: float = 0.2,
    ) -> None:
        self._broker = broker
        self._settings = settings
        self._inbox = inbox
        self._dead_letters = dead_letters
        self._backoff = retry_backoff_seconds
        self._subscriptions: dict[str, _Subscription] = {}
        self._installed = False
        self.stats = ConsumerStats()

    @overload
    def subscribe(
        self,
        event_type: type[Payload],
        handler: Callable[[EventEnvelope[Payload]], Awaitable[None]],
        *,
        name: str | None = None,
    ) -> None: ...
    @overload
    def subscribe(self, event_type: str, handler: Handler, *, name: str | None = None) -> None: ...
    def subscribe(self, event_type: EventType, handler: Handler, *, name: str | None = None) -> None:
        """Handle the topic's events one by one (deduplicated by the inbox); before the service starts."""
        topic_name = _topic_name(event_type)
        self._add(topic_name, _Subscription(name or self._default_name(topic_name), handler=handler))

    @overload
    def subscribe_batch(
        self,
        event_type: type[Payload],
        handler: Callable[[list[EventEnvelope[Payload]]], Awaitable[None]],
        *,
        name: str | None = None,
    ) -> None: ...
    @overload
    def subscribe_batch(self, event_type: str, handler: BatchHandler, *, name: str | None = None) -> None: ...
    def subscribe_batch(self, event_type: EventType, handler: BatchHandler, *, name: str | None = None) -> None:
        """Handle the topic's events in batches; before the service starts."""

        async def events_only(batch: list[Delivered]) -> None:
            await handler([delivered.event for delivered in batch])

        self.subscribe_deliveries(_topic_name(event_type), events_only, name=name)

    @overload
    def subscribe_deliveries(
        self,
        event_type: type[Payload],
        handler: Callable[[list[Delivered[Payload]]], Awaitable[None]],
        *,
        name: str | None = None,
    ) -> None: ...
    @overload
    def subscribe_deliveries(self, event_type: str, handler: DeliveryHandler, *, name: str | None = None) -> None: ...
    def subscribe_deliveries(self, event_type: EventType, handler: DeliveryHandler, *, name: str | None = None) -> None:
        """Handle the topic's events in batches, each with its partition and offset; before the service starts."""
        topic_name = _topic_name(event_type)
        self._add(topic_name, _Subscription(name or self._default_name(topic_name), batch_handler=handler))

    @property
    def topics(self) -> list[str]:
        """The catalogue names of the topics subscribed to."""
        return list(self._subscriptions)

    def _default_name(self, topic_name: str) -> str:
        return f"{self._settings.consumer_group}.{topic_name}"

    def _add(self, topic_name: str, subscription: _Subscription) -> None:
        if self._installed:
            raise RuntimeError("subscribe before the service starts")
        self._subscriptions[topic_name] = subscription

    def install(self) -> None:
        if self._installed or not self._subscriptions:
            return
        self._installed = True

        async def on_batch(msg: KafkaMessage) -> None:
            records: tuple[ConsumerRecord[bytes, bytes], ...] = msg.raw_message
            await self.process(records)

        self._broker.subscriber(
            *(self._settings.platform.topic(name) for name in self._subscriptions),
            group_id=self._settings.consumer_group,
            auto_offset_reset=self._settings.auto_offset_reset,
            ack_policy=AckPolicy.NACK_ON_ERROR,
            batch=True,
            max_records=self._settings.consumer_max_batch,
            title=f"{self._settings.consumer_group} consumer",
        )(on_batch)

    async def process(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """Apply one batch: decode, dead-letter what is malformed, hand the rest to the handlers."""
        prefix = self._settings.platform.topic_prefix
        by_topic: dict[str, list[tuple[ConsumerRecord[bytes, bytes], EventEnvelope[Any]]]] = {}
        for record in records:
            topic_name = record.topic.removeprefix(prefix)
            nul = json_nul_locations(record.value or b"")
            if nul:  # valid JSON, but no store keeps it (servicekit.nul): retrying will never help
                where = ", ".join(nul).replace("\x00", "\\u0000")
                error = f"MalformedEvent: U+0000 (NUL) in {where}, which the store cannot keep"
                await self._dead_letter(record, attempts=1, error=error)
                continue
            try:
                event = decode_envelope(record.value or b"", expected_type=topic_name)
            except MalformedEvent as exc:
                await self._dead_letter(record, attempts=1, error=f"MalformedEvent: {exc}")
                continue
            by_topic.setdefault(topic_name, []).append((record, event))
        for topic_name, items in by_topic.items():
            subscription = self._subscriptions[topic_name]
            if subscription.batch_handler is not None:
                await self._apply_batch(topic_name, subscription.batch_handler, items)
            elif subscription.handler is not None:
                for record, event in items:
                    await self._apply_one(topic_name, subscription.name, subscription.handler, record, event)

    async def _apply_one(
        self,
        topic_name: str,
        consumer_name: str,
        handler: Handler,
        record: ConsumerRecord[bytes, bytes],
        event: EventEnvelope[Any],
    ) -> None:
        event_id = str(event.id)
        if await self._inbox.seen(consumer_name, event_id):
            self.stats.duplicates += 1
            return
        error = await self._with_retries(lambda: handler(event))
        if error is not None:
            log.warning("dead-lettering %s %s: %s", topic_name, event_id, error)
            await self._dead_letter(record, attempts=self._settings.consumer_max_attempts, error=error)
            return
        await self._inbox.remember(consumer_name, event_id)
        self._count(topic_name, 1)

    async def _apply_batch(
        self,
        topic_name: str,
        handler: DeliveryHandler,
        items: list[tuple[ConsumerRecord[bytes, bytes], EventEnvelope[Any]]],
    ) -> None:
        batch = [Delivered(event, record.partition, record.offset) for record, event in items]
        if await self._with_retries(lambda: handler(batch)) is None:
            self._count(topic_name, len(batch))
            return
        # The batch keeps failing: apply its events one by one, so only the bad ones are dead-lettered.
        for (record, _), delivered in zip(items, batch, strict=True):
            error = await self._with_retries(lambda one=delivered: handler([one]))  # type: ignore[misc]
            if error is None:
                self._count(topic_name, 1)
            else:
                await self._dead_letter(record, attempts=self._settings.consumer_max_attempts, error=error)

    async def _with_retries(self, attempt: Callable[[], Awaitable[None]]) -> str | None:
        """None on success; the last error after `consumer_max_attempts` failures."""
        for number in range(1, self._settings.consumer_max_attempts + 1):
            try:
                await attempt()
            except INFRASTRUCTURE_ERRORS:
                raise  # the store or broker is unreachable: redeliver later, never dead-letter
            except Exception as exc:
                if number == self._settings.consumer_max_attempts:
                    return f"{type(exc).__name__}: {exc}"
                self.stats.retries += 1
                await asyncio.sleep(self._backoff * number)
            else:
                return None
        return "no attempt made"

    def _count(self, topic_name: str, count: int) -> None:
        self.stats.handled += count
        self.stats.by_topic[topic_name] = self.stats.by_topic.get(topic_name, 0) + count

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], *, attempts: int, error: str) -> None:
        await self._dead_letters.send(
            FailedMessage(
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                key=record.key,
                value=record.value or b"",
                consumer_group=self._settings.consumer_group,
                attempts=attempts,
                error=error,
                content_type=_header(record, "content-type"),
            )
        )
        self.stats.dead_lettered += 1


def _topic_name(event_type: EventType) -> str:
    return event_type if isinstance(event_type, str) else topic_for_payload(event_type).name


def _header(record: ConsumerRecord[bytes, bytes], name: str) -> str | None:
    for key, value in record.headers or ():
        if str(key).lower() == name:
            return bytes(value).decode(errors="replace")
    return None
