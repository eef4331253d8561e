"""Runs one outbox relay pass in a separate process and dies right after the first publish.

Used by test_outbox.py to crash the relay between "published to Kafka" and "marked as sent":
the worst moment, as the event is out but still pending in the aggregate's document.
Arguments: bootstrap servers, topic prefix, mongo url, database, collection.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from pymongo import AsyncMongoClient

from contracts import EventEnvelope
from servicekit.kafka import create_broker
from servicekit.outbox import OutboxRelay
from servicekit.publishing import KafkaEventPublisher
from servicekit.settings import PlatformSettings

CRASH_EXIT_CODE = 70


class CrashAfterPublish:
    def __init__(self, inner: KafkaEventPublisher) -> None:
        self._inner = inner

    async def publish(self, event: EventEnvelope[Any]) -> None:
        await self._inner.publish(event)
        os._exit(CRASH_EXIT_CODE)  # like SIGKILL: no cleanup, no mark


async def main(bootstrap: str, prefix: str, mongo_url: str, database: str, collection: str) -> None:
    platform = PlatformSettings(kafka_bootstrap_servers=bootstrap, topic_prefix=prefix)
    broker = create_broker(platform, client_id="outbox-crash-test")
    await broker.start()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, tz_aware=True)
    relay = OutboxRelay(client[database], [collection], CrashAfterPublish(KafkaEventPublisher(broker, platform)))
    await relay.relay_once()
    sys.exit(0)  # not reached when there was an event to publish


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
