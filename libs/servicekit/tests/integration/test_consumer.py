"""The consumer's failure rules against the real Kafka: a handler that keeps failing is
dead-lettered after N attempts with its error, and the partition moves on; an unreachable store
is not the message's fault, so the record is redelivered (not committed, not dead-lettered)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pymongo.errors import AutoReconnect

from contracts import EventEnvelope, envelope_for
from contracts.events.common import Actor
from contracts.events.instances import InstanceExtended
from servicekit.consumer import Inbox
from servicekit.runtime import ServiceRuntime
from servicekit.settings import PlatformSettings, ServiceSettings
from servicekit.testing import KafkaProbe, eventually

pytestmark = pytest.mark.integration

INSTANCE = "ins-consumer-test"


def extended(day: int) -> EventEnvelope[Any]:
    data = InstanceExtended(
        instance_id=INSTANCE,
        partner_id="ptn-acme",
        company_id="cmp-1",
        previous_expiry_date=date(2027, 1, day),
        new_expiry_date=date(2027, 2, day),
        extended_by=Actor(user_id="usr-1", role="partner"),
    )
    return envelope_for(data, source="instances")


@pytest.fixture
def runtime(platform: PlatformSettings, database_name: str) -> ServiceRuntime:
    settings = ServiceSettings(
        mongo_database=database_name,
        consumer_group=f"cg-{uuid.uuid4().hex[:8]}",
        consumer_max_attempts=3,
        platform=platform,
    )
    return ServiceRuntime.create("consumer-test", settings)


async def test_a_handler_that_keeps_failing_is_dead_lettered_after_n_attempts_and_the_next_goes_through(
    runtime: ServiceRuntime, kafka: KafkaProbe
) -> None:
    bad, good = extended(1), extended(2)
    calls: dict[str, int] = {}
    applied: list[str] = []

    async def handle(event: EventEnvelope[Any]) -> None:
        if event.id not in (bad.id, good.id):
            return  # other tests' events on the shared topic
        calls[str(event.id)] = calls.get(str(event.id), 0) + 1
        if event.id == bad.id:
            raise ValueError("expiry rule violated")
        applied.append(str(event.id))

    runtime.consumer.subscribe("instance.extended", handle)
    key = INSTANCE.encode()
    await kafka.send("instance.extended", bad.to_json_bytes(), key=key)
    await kafka.send("instance.extended", good.to_json_bytes(), key=key)
    async with runtime.running():

        async def good_applied() -> bool:
            return str(good.id) in applied

        await eventually(good_applied)

    assert calls[str(bad.id)] == 3, "three attempts, then dead-lettered"
    assert applied == [str(good.id)]

    def has_bad(records: list[Any]) -> bool:
        return any(str(bad.id).encode() in r.value for r in records)

    (dead,) = [r for r in await kafka.read_all("deadletter", until=has_bad) if str(bad.id).encode() in r.value]
    headers = {name: value.decode() for name, value in dead.headers}
    assert headers["dlq-attempts"] == "3"
    assert headers["dlq-error"] == "ValueError: expiry rule violated"
    assert headers["dlq-original-topic"] == kafka.prefix + "instance.extended"
    assert headers["dlq-consumer-group"] == runtime.settings.consumer_group
    assert dead.value == bad.to_json_bytes(), "the original bytes, replayable"


async def test_an_unreachable_store_redelivers_instead_of_dead_lettering(
    runtime: ServiceRuntime, kafka: KafkaProbe, database_name: str
) -> None:
    event = extended(3)
    outages = 2
    calls = 0

    async def handle(received: EventEnvelope[Any]) -> None:
        nonlocal calls
        if received.id != event.id:
            return  # earlier tests' events on the shared topic
        calls += 1
        if calls <= outages:
            raise AutoReconnect("connection refused")  # what PyMongo raises while the store is down
        await runtime.db["applied"].update_one({"_id": str(received.id)}, {"$inc": {"times": 1}}, upsert=True)

    runtime.consumer.subscribe("instance.extended", handle)
    await kafka.send("instance.extended", event.to_json_bytes(), key=INSTANCE.encode())
    async with runtime.running():
        applied = runtime.db["applied"]

        async def stored() -> bool:
            return await applied.count_documents({"_id": str(event.id)}) == 1

        await eventually(stored)
        document = await applied.find_one({"_id": str(event.id)})

    assert document is not None and document["times"] == 1
    assert calls == outages + 1, "redelivered after each outage, applied once"
    assert runtime.consumer.stats.dead_lettered == 0


async def test_the_inbox_forgets_ids_older_than_its_retention(mongo: Any, database_name: str) -> None:
    inbox = Inbox(mongo[database_name])
    await inbox.remember("c", "e1")
    assert await inbox.seen("c", "e1")
    assert await inbox.forget_before(datetime.now(UTC) - timedelta(hours=1)) == 0, "recent ids stay"
    assert await inbox.forget_before(datetime.now(UTC) + timedelta(seconds=1)) == 1
    assert not await inbox.seen("c", "e1")
