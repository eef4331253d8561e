"""At-least-once consumption with idempotent effects and dead letters.

For every record: decode the envelope (a record that is not a valid envelope goes straight to
the dead-letter topic: retrying cannot fix it), skip it if this consumer already applied that
event id, apply the handler (retrying a few times), then remember the id. A handler that keeps
failing sends the record to the dead-letter topic. Only then is the offset committed, so the
partition moves on and nothing acknowledged is lost.

If the store or the dead-letter publish itself fails, the exception propagates: FastStream
(`AckPolicy.NACK_ON_ERROR`) seeks back and the record is delivered again.

A crash after the effect and before the id is remembered re-applies the effect on redelivery:
handlers must therefore be idempotent by event id themselves (e.g. upsert keyed on it); the
inbox spares them the repeated work and counts duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, DuplicateKeyError

from contracts import EventEnvelope, MalformedEvent, decode_envelope, utc_now
from servicekit.deadletter import DeadLetterPublisher, FailedMessage
from servicekit.mongo import Document, IndexSpec
from servicekit.settings import ServiceSettings

log = logging.getLogger(__name__)

INBOX_COLLECTION = "inbox"
INBOX_INDEXES = [IndexSpec(INBOX_COLLECTION, [("consumer", 1), ("event_id", 1)], unique=True, name="consumer_event")]

# Failures of the infrastructure, not of the message: the record is redelivered, not dead-lettered.
INFRASTRUCTURE_ERRORS = (ConnectionFailure, KafkaConnectionError, KafkaTimeoutError)

Handler = Callable[[EventEnvelope[Any]], Awaitable[None]]


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


@dataclass
class ConsumerStats:
    handled: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    retries: int = 0
    by_topic: dict[str, int] = field(default_factory=dict)


class EventConsumer:
    """Subscribes handlers to topics with the at-least-once rules above."""

    def __init__(
        self,
        broker: KafkaBroker,
        settings: ServiceSettings,
        inbox: Inbox,
        dead_letters: DeadLetterPublisher,
        *,
        retry_backoff_seconds: float = 0.2,
    ) -> None:
        self._broker = broker
        self._settings = settings
        self._inbox = inbox
        self._dead_letters = dead_letters
        self._backoff = retry_backoff_seconds
        self._handlers: dict[str, tuple[str, Handler]] = {}
        self._installed = False
        self.stats = ConsumerStats()

    def subscribe(self, topic_name: str, handler: Handler, *, name: str | None = None) -> None:
        """Handle the topic's events; call before the broker starts."""
        if self._installed:
            raise RuntimeError("subscribe before the service starts")
        self._handlers[topic_name] = (name or f"{self._settings.consumer_group}.{topic_name}", handler)

    def install(self) -> None:
        """One Kafka consumer for all the service's topics: a group member joins once, not once
        per topic (each join would make the group rebalance again)."""
        if self._installed or not self._handlers:
            return
        self._installed = True
        prefix = self._settings.platform.topic_prefix

        async def on_message(msg: KafkaMessage) -> None:
            topic_name = msg.raw_message.topic.removeprefix(prefix)  # type: ignore[union-attr]
            consumer_name, handler = self._handlers[topic_name]
            await self._process(topic_name, consumer_name, handler, msg)

        self._broker.subscriber(
            *(self._settings.platform.topic(name) for name in self._handlers),
            group_id=self._settings.consumer_group,
            auto_offset_reset=self._settings.auto_offset_reset,
            ack_policy=AckPolicy.NACK_ON_ERROR,
            title=f"{self._settings.consumer_group} consumer",
        )(on_message)

    async def _process(self, topic_name: str, consumer_name: str, handler: Handler, msg: KafkaMessage) -> None:
        raw: bytes = msg.body
        try:
            event = decode_envelope(raw, expected_type=topic_name)
        except MalformedEvent as exc:
            await self._dead_letter(msg, attempts=1, error=f"MalformedEvent: {exc}")
            return
        event_id = str(event.id)
        if await self._inbox.seen(consumer_name, event_id):
            self.stats.duplicates += 1
            return
        attempts = 0
        max_attempts = self._settings.consumer_max_attempts
        while True:
            attempts += 1
            try:
                await handler(event)
                break
            except INFRASTRUCTURE_ERRORS:
                raise  # the store or broker is unreachable: redeliver later, never dead-letter
            except Exception as exc:
                if attempts >= max_attempts:
                    log.warning("dead-lettering %s %s after %d attempts: %r", topic_name, event_id, attempts, exc)
                    await self._dead_letter(msg, attempts=attempts, error=f"{type(exc).__name__}: {exc}")
                    return
                self.stats.retries += 1
                await asyncio.sleep(self._backoff * attempts)
        await self._inbox.remember(consumer_name, event_id)
        self.stats.handled += 1
        self.stats.by_topic[topic_name] = self.stats.by_topic.get(topic_name, 0) + 1

    async def _dead_letter(self, msg: KafkaMessage, *, attempts: int, error: str) -> None:
        record: ConsumerRecord[bytes, bytes] = msg.raw_message  # one record: subscribers are not batched
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
            )
        )
        self.stats.dead_lettered += 1
