"""Helpers for tests against the real Kafka and MongoDB (used by every service's test suite)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord, TopicPartition

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

    async def read_all(
        self, topic: str, *, until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool], timeout: float = 30.0
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """Records of the topic from the beginning, once `until(records)` holds (or the timeout)."""
        name = self.prefix + topic
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        await consumer.start()
        records: list[ConsumerRecord[bytes, bytes]] = []
        try:
            partitions = [TopicPartition(name, p) for p in range(await self.partition_count(name))]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            deadline = asyncio.get_running_loop().time() + timeout
            while not until(records) and asyncio.get_running_loop().time() < deadline:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    records.extend(batch)
        finally:
            await consumer.stop()
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
