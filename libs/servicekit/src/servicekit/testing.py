"""Helpers for tests against the real Kafka and MongoDB (used by every service's test suite)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord, TopicPartition
from pymongo import monitoring

from contracts import KAFKA_HEADERS


class KafkaProbe:
    """Test-side Kafka access: write raw records, read a whole topic back."""

    def __init__(self, bootstrap_servers: str, prefix: str = "") -> None:
        self.bootstrap_servers = bootstrap_servers
        self.prefix = prefix

    async def send(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes]] = KAFKA_HEADERS,
    ) -> None:
        """One record, with the headers every producer of the platform sends unless told otherwise."""
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap_servers, acks="all", enable_idempotence=True)
        await producer.start()
        try:
            await producer.send_and_wait(self.prefix + topic, value, key=key, headers=list(headers))
        finally:
            await producer.stop()

    async def partition_count(self, name: str) -> int:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers)
        await admin.start()
        try:
            (description,) = await admin.describe_topics([name])
            return len(description["partitions"])
        finally:
            await admin.close()

    @contextlib.asynccontextmanager
    async def _from_beginning(self, name: str) -> AsyncIterator[tuple[AIOKafkaConsumer, list[TopicPartition]]]:
        """A consumer of every partition of the topic, at its beginning (no group, nothing committed)."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            partitions = [TopicPartition(name, p) for p in range(await self.partition_count(name))]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            yield consumer, partitions
        finally:
            await consumer.stop()

    async def read_all(
        self, topic: str, *, until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool], timeout: float = 30.0
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """Records of the topic from the beginning, once `until(records)` holds (or the timeout)."""
        records: list[ConsumerRecord[bytes, bytes]] = []
        async with self._from_beginning(self.prefix + topic) as (consumer, _):
            deadline = asyncio.get_running_loop().time() + timeout
            while not until(records) and asyncio.get_running_loop().time() < deadline:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    records.extend(batch)
        return records

    async def read_to_end(self, topic: str, *, timeout: float = 60.0) -> list[ConsumerRecord[bytes, bytes]]:
        """Records of the topic from the beginning up to its end offsets when called: everything
        acknowledged so far, without waiting out an idle period."""
        name = self.prefix + topic
        records: list[ConsumerRecord[bytes, bytes]] = []
        async with self._from_beginning(name) as (consumer, partitions):
            ends = await consumer.end_offsets(partitions)
            deadline = asyncio.get_running_loop().time() + timeout
            while [p for p in partitions if await consumer.position(p) < ends[p]]:
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(f"{name}: not read to its end offsets {ends} within {timeout}s")
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    records.extend(batch)
        return records


async def eventually(check: Callable[[], Awaitable[Any]], *, timeout: float = 30.0, interval: float = 0.2) -> Any:
    """Poll an async check until it returns something truthy; fail with its last value."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


@dataclass
class PublishedBatch:
    topic: str
    partition: int | None
    keys: list[bytes | None]
    values: list[bytes]
    headers: dict[str, str]
    acknowledged: asyncio.Future[None]


@dataclass
class RecordingBroker:
    """Stands in for FastStream's `KafkaBroker.publish_batch` (unit tests of publishers): records
    each produce batch and leaves its acknowledgement to the test (`acknowledge`, `refuse`), or
    gives it at once with `auto_acknowledge`."""

    auto_acknowledge: bool = True
    batches: list[PublishedBatch] = field(default_factory=list)
    _sent: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def publish_batch(
        self,
        *messages: Any,
        topic: str = "",
        partition: int | None = None,
        headers: dict[str, str] | None = None,
        correlation_id: str | None = None,
        no_confirm: bool = False,
    ) -> asyncio.Future[None]:
        acknowledged: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.batches.append(
            PublishedBatch(
                topic,
                partition,
                [getattr(message, "key", None) for message in messages],
                [getattr(message, "body", message) for message in messages],
                dict(headers or {}),
                acknowledged,
            )
        )
        async with self._sent:
            self._sent.notify_all()
        if self.auto_acknowledge:
            acknowledged.set_result(None)
        if not no_confirm:
            await acknowledged
        return acknowledged

    async def sent(self, count: int, *, timeout: float = 5.0) -> None:
        """Wait until `count` batches were handed to the broker."""
        async with asyncio.timeout(timeout), self._sent:
            await self._sent.wait_for(lambda: len(self.batches) >= count)

    def acknowledge(self) -> None:
        for batch in self.batches:
            if not batch.acknowledged.done():
                batch.acknowledged.set_result(None)

    def refuse(self, error: BaseException) -> None:
        for batch in self.batches:
            if not batch.acknowledged.done():
                batch.acknowledged.set_exception(error)


# ---------------------------------------------------------------------- store commands per request

HOUSEKEEPING_COMMANDS = frozenset(
    {"hello", "ismaster", "isMaster", "ping", "buildInfo", "buildinfo", "saslStart", "saslContinue", "endSessions"}
)
"""What a client sends to connect, authenticate and watch the server: no query of the code under test."""


@dataclass(frozen=True)
class StoreCommand:
    name: str
    database: str
    collection: str | None


class CommandCounter(monitoring.CommandListener):
    """The commands a MongoDB client sends, seen through PyMongo's command monitoring: the store
    round trips some code costs. Given to a client (`event_listeners=[counter]`) it counts all that
    client sends; `count_commands()` counts those of one block of code only. Connection
    housekeeping (handshakes, authentication, pings) is left out; `database` keeps one database's."""

    def __init__(self, database: str | None = None) -> None:
        self.database = database
        self.commands: list[StoreCommand] = []

    @property
    def total(self) -> int:
        return len(self.commands)

    def by_name(self) -> Counter[str]:
        return Counter(command.name for command in self.commands)

    def reset(self) -> None:
        self.commands.clear()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in HOUSEKEEPING_COMMANDS:
            return
        if self.database is not None and event.database_name != self.database:
            return
        target = event.command.get(event.command_name)
        self.commands.append(
            StoreCommand(event.command_name, event.database_name, target if isinstance(target, str) else None)
        )

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """Only what is sent counts."""

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """Only what is sent counts."""


_counting: ContextVar[CommandCounter | None] = ContextVar("servicekit_counting_commands", default=None)


class _CountInContext(monitoring.CommandListener):
    """Registered once for the process: hands each command to the counter of the code that sent it.
    PyMongo reports a command in the task that sends it, and tasks inherit the counter from the
    code that started them, so background tasks started before (an outbox relay, a consumer) are
    not counted."""

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if (counter := _counting.get()) is not None:
            counter.started(event)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """Only what is sent counts."""

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """Only what is sent counts."""


@functools.cache
def watch_commands() -> None:
    """Let `count_commands` see the commands of every MongoDB client created from now on (PyMongo
    gives a client the process-wide listeners when it is created: call this before building the
    app under test). Calling it again changes nothing."""
    monitoring.register(_CountInContext())


@contextlib.contextmanager
def count_commands(database: str | None = None) -> Iterator[CommandCounter]:
    """Count the store commands the block sends (and the tasks it starts, e.g. a request through an
    ASGI transport), of clients created after `watch_commands()`."""
    watch_commands()
    counter = CommandCounter(database)
    token = _counting.set(counter)
    try:
        yield counter
    finally:
        _counting.reset(token)


def started(app: Any) -> contextlib.AbstractAsyncContextManager[Any]:
    """The app's lifespan, run in a test: start-up and shut-down may each take up to a minute, as
    they can on a loaded two-core CI machine (asgi-lifespan's 5 s shut-down default once cut a
    consumer's handler short and failed the test)."""
    from asgi_lifespan import LifespanManager  # noqa: PLC0415  (test-only: the workspace's dev group)

    return LifespanManager(app, startup_timeout=60, shutdown_timeout=60)
