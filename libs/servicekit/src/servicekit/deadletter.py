"""The dead-letter topic: where a message goes when it can never be handled.

The record keeps the original key, bytes and content-type; the `dlq-` headers
(`contracts.DEADLETTER_HEADERS`, described in the AsyncAPI document) say where it came from and
why it failed, so it can be inspected and replayed as the same record.
"""

from __future__ import annotations

from dataclasses import dataclass

from faststream.kafka import KafkaBroker

from contracts import DEADLETTER_TOPIC, utc_now
from servicekit.settings import PlatformSettings

MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class FailedMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    consumer_group: str
    attempts: int
    error: str
    content_type: str | None = None
    """The original record's `content-type` header, if it had one."""


class DeadLetterPublisher:
    def __init__(self, broker: KafkaBroker, platform: PlatformSettings) -> None:
        self._broker = broker
        self._topic = platform.topic(DEADLETTER_TOPIC)

    async def send(self, failed: FailedMessage) -> None:
        await self._broker.publish(
            failed.value,
            self._topic,
            key=failed.key,
            headers={
                "dlq-original-topic": failed.topic,
                "dlq-original-partition": str(failed.partition),
                "dlq-original-offset": str(failed.offset),
                "dlq-consumer-group": failed.consumer_group,
                "dlq-attempts": str(failed.attempts),
                "dlq-error": failed.error[:MAX_ERROR_CHARS],
                "dlq-failed-at": utc_now().isoformat(),
                # FastStream would send an empty one for raw bytes; a replay needs the original's.
                "content-type": failed.content_type or "",
            },
        )
