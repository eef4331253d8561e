"""The outbox survives a crash between the state write and the publish, and between the
publish and the mark: the event goes out, and the consumer applies it exactly once by id."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from contracts import EventEnvelope, envelope_for
from contracts.events.common import Actor
from contracts.events.instances import SessionCleared
from servicekit.consumer import INBOX_INDEXES
from servicekit.mongo import ensure_indexes
from servicekit.outbox import (
    OUTBOX_FIELD,
    PENDING_FIELD,
    AuditEntry,
    OutboxRelay,
    new_document_with_outbox,
    with_outbox,
)
from servicekit.runtime import ServiceRuntime
from servicekit.settings import PlatformSettings, ServiceSettings
from servicekit.testing import KafkaProbe, eventually

pytestmark = pytest.mark.integration

CHILD = Path(__file__).with_name("outbox_relay_child.py")
WHO = Actor(user_id="usr-1", role="partner")


def cleared(instance_id: str, epoch: int) -> EventEnvelope[Any]:
    payload = SessionCleared(instance_id=instance_id, partner_id="ptn-acme", session_epoch=epoch, cleared_by=WHO)
    return envelope_for(payload, source="instances")


async def test_relay_killed_after_publish_and_restarted_publishes_and_consumer_stores_once(
    platform: PlatformSettings, database_name: str, mongo: AsyncMongoClient[dict[str, Any]], kafka: KafkaProbe
) -> None:
    db = mongo[database_name]
    instances = db["instances"]
    instance_id = f"ins-{uuid.uuid4().hex[:8]}"
    event = cleared(instance_id, 1)

    # 1. The state change and its event are one single-document write. No relay runs: as if the
    #    service died right after the write, before anything was published.
    await instances.insert_one(new_document_with_outbox({"_id": instance_id, "session_epoch": 1}, [event]))
    document = await instances.find_one({"_id": instance_id})
    assert document is not None
    assert document[PENDING_FIELD] is True
    assert list(document[OUTBOX_FIELD]) == [str(event.id)]

    # 2. A relay process publishes it and is killed before marking it sent.
    child = await asyncio.create_subprocess_exec(
        sys.executable, str(CHILD), platform.kafka_bootstrap_servers, platform.topic_prefix,
        platform.mongo_url.get_secret_value(), database_name, "instances",
    )  # fmt: skip
    assert await asyncio.wait_for(child.wait(), 60) == 70
    document = await instances.find_one({"_id": instance_id})
    assert document is not None and str(event.id) in document[OUTBOX_FIELD], "the event is still pending"

    # 3. The relay restarts (inside a service runtime) and publishes it again; a consumer applies it.
    settings = ServiceSettings(
        mongo_database=database_name, consumer_group=f"cg-{uuid.uuid4().hex[:8]}", platform=platform
    )
    runtime = ServiceRuntime.create("outbox-test", settings)
    runtime.use_outbox(["instances"])
    applied = db["applied"]

    async def apply(received: EventEnvelope[Any]) -> None:
        if received.subject != instance_id:
            return  # other tests' events on the shared topic
        await applied.update_one({"_id": str(received.id)}, {"$inc": {"times": 1}}, upsert=True)

    runtime.consumer.subscribe("session.cleared", apply)
    await ensure_indexes(db, INBOX_INDEXES)
    async with runtime.running():

        async def pending_cleared() -> bool:
            doc = await instances.find_one({"_id": instance_id})
            return doc is not None and doc[PENDING_FIELD] is False and doc[OUTBOX_FIELD] == {}

        await eventually(pending_cleared)

        def two_copies(records: list[Any]) -> bool:
            return sum(str(event.id).encode() in r.value for r in records) >= 2

        copies = [
            r for r in await kafka.read_all("session.cleared", until=two_copies) if str(event.id).encode() in r.value
        ]
        assert len(copies) == 2, "published once by the killed relay and once after the restart"
        assert {r.key for r in copies} == {instance_id.encode()}

        async def consumer_saw_the_copy() -> bool:
            return runtime.consumer.stats.duplicates >= 1

        await eventually(consumer_saw_the_copy)

    assert await applied.count_documents({}) == 1
    stored = await applied.find_one({"_id": str(event.id)})
    assert stored is not None and stored["times"] == 1, "applied exactly once by id"


async def test_events_written_while_relaying_are_not_lost(
    platform: PlatformSettings, database_name: str, mongo: AsyncMongoClient[dict[str, Any]]
) -> None:
    db = mongo[database_name]
    instances = db["instances"]
    instance_id = f"ins-{uuid.uuid4().hex[:8]}"
    published: list[str] = []

    class Recording:
        async def publish(self, event: EventEnvelope[Any]) -> None:
            published.append(str(event.id))
            if len(published) == 1:  # a new state change lands between publish and mark
                await instances.update_one({"_id": instance_id}, with_outbox({"$set": {"session_epoch": 2}}, [second]))

    first, second = cleared(instance_id, 1), cleared(instance_id, 2)
    audit = AuditEntry(
        actor_id="usr-1", actor_role="partner", partner_id="ptn-acme", action="session.clear",
        target_type="instance", target_id=instance_id, before={"session_epoch": 0}, after={"session_epoch": 1},
    )  # fmt: skip
    await instances.insert_one(new_document_with_outbox({"_id": instance_id, "session_epoch": 1}, [audit, first]))
    relay = OutboxRelay(db, ["instances"], Recording())
    await relay.relay_once()
    document = await instances.find_one({"_id": instance_id})
    assert document is not None
    assert document[PENDING_FIELD] is True, "the flag stays up while an event is pending"
    await relay.relay_once()
    document = await instances.find_one({"_id": instance_id})
    assert document is not None
    assert document[PENDING_FIELD] is False
    assert document[OUTBOX_FIELD] == {}
    assert published == [str(first.id), str(second.id)]
    assert document["session_epoch"] == 2
    copied = await db["audit"].find_one({"_id": str(audit.id)})
    assert copied is not None
    assert copied["after"] == {"session_epoch": 1}
    assert copied["action"] == "session.clear"
    assert copied["at"] == audit.at.replace(microsecond=audit.at.microsecond // 1000 * 1000)


async def test_a_notified_write_is_relayed_by_id_without_a_scan(
    database_name: str, mongo: AsyncMongoClient[dict[str, Any]]
) -> None:
    db = mongo[database_name]
    published: list[str] = []

    class Recording:
        async def publish(self, event: EventEnvelope[Any]) -> None:
            published.append(str(event.id))

    relay = OutboxRelay(db, ["instances"], Recording())
    mine, left_behind = f"ins-{uuid.uuid4().hex[:8]}", f"ins-{uuid.uuid4().hex[:8]}"
    first, second = cleared(mine, 1), cleared(left_behind, 1)
    await db["instances"].insert_one(new_document_with_outbox({"_id": mine}, [first]))
    await db["instances"].insert_one(new_document_with_outbox({"_id": left_behind}, [second]))
    relay.notify("instances", mine)
    assert relay.backlog()["queued_documents"] == 1
    assert await relay.relay_written() == 1
    assert published == [str(first.id)], "only the notified document; the other waits for the scan"
    assert await relay.relay_once() == 1
    assert published == [str(first.id), str(second.id)]
    assert relay.backlog() == {"queued_documents": 0, "pending_at_last_scan": 1}
