"""The consumer's FastStream wiring and the dead-letter record, on FastStream's in-memory broker
(`TestKafkaBroker`: no Kafka). The rules themselves: test_consumer_rules.py."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import ConsumerRecord
from faststream.kafka import KafkaBroker, KafkaMessage, TestKafkaBroker
from pymongo.errors import AutoReconnect

from contracts import CONTENT_TYPE, DEADLETTER_HEADERS, KAFKA_HEADERS, EventEnvelope, envelope_for
from contracts.events.common import Actor
from contracts.events.instances import SessionCleared
from contracts.events.licenses import LicenseRevoked
from servicekit.consumer import EventConsumer
from servicekit.deadletter import MAX_ERROR_CHARS, DeadLetterPublisher, FailedMessage
from servicekit.settings import PlatformSettings, ServiceSettings

pytestmark = pytest.mark.unit

PREFIX = "unit-wiring."


class FakeInbox:
    def __init__(self) -> None:
        self.applied: set[tuple[str, str]] = set()

    async def seen(self, consumer: str, event_id: str) -> bool:
        return (consumer, event_id) in self.applied

    async def remember(self, consumer: str, event_id: str) -> None:
        self.applied.add((consumer, event_id))


def settings() -> ServiceSettings:
    return ServiceSettings(
        mongo_database="unit", consumer_group="cg-wiring", platform=PlatformSettings(topic_prefix=PREFIX)
    )


def session_cleared() -> EventEnvelope[Any]:
    data = SessionCleared(
        instance_id="ins-1", partner_id="ptn-1", session_epoch=3, cleared_by=Actor(user_id="u", role="partner")
    )
    return envelope_for(data, source="instances")


def license_revoked() -> EventEnvelope[Any]:
    data = LicenseRevoked(
        license_id="lic-1",
        instance_id="ins-1",
        partner_id="ptn-1",
        company_id="cmp-1",
        pin="4821",
        reason="Employee left the company.",
        revoked_by=Actor(user_id="u", role="partner"),
    )
    return envelope_for(data, source="instances")


def dead_letter_capture(broker: KafkaBroker) -> list[ConsumerRecord[bytes, bytes]]:
    """Subscribes to the deployment's dead-letter topic; the records that reach it."""
    captured: list[ConsumerRecord[bytes, bytes]] = []

    @broker.subscriber(PREFIX + "deadletter")
    async def capture(msg: KafkaMessage) -> None:
        captured.append(msg.raw_message)

    return captured


async def test_one_batch_subscriber_on_the_prefixed_topics_feeds_the_handlers() -> None:
    broker = KafkaBroker()
    consumer = EventConsumer(broker, settings(), FakeInbox(), DeadLetterPublisher(broker, settings().platform))
    sessions: list[EventEnvelope[SessionCleared]] = []
    licenses: list[EventEnvelope[LicenseRevoked]] = []

    async def on_session(envelope: EventEnvelope[SessionCleared]) -> None:
        sessions.append(envelope)

    async def on_license(envelope: EventEnvelope[LicenseRevoked]) -> None:
        licenses.append(envelope)

    consumer.subscribe(SessionCleared, on_session)
    consumer.subscribe(LicenseRevoked, on_license)
    consumer.install()
    consumer.install()  # idempotent: still one group member

    assert len(broker.subscribers) == 1, "one Kafka consumer serves all the service's topics"
    cleared, revoked = session_cleared(), license_revoked()
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(cleared.to_json_bytes(), PREFIX + "session.cleared", headers=dict(_str_headers()))
        await test_broker.publish(revoked.to_json_bytes(), PREFIX + "license.revoked", headers=dict(_str_headers()))
        await test_broker.publish(cleared.to_json_bytes(), "session.cleared")  # another deployment's topic

    assert sessions == [cleared]
    assert isinstance(sessions[0].data, SessionCleared)
    assert licenses == [revoked]
    assert isinstance(licenses[0].data, LicenseRevoked)
    assert consumer.stats.by_topic == {"session.cleared": 1, "license.revoked": 1}


async def test_an_unreachable_store_is_raised_out_of_the_subscriber_so_faststream_nacks() -> None:
    broker = KafkaBroker()
    consumer = EventConsumer(broker, settings(), FakeInbox(), DeadLetterPublisher(broker, settings().platform))
    dead = dead_letter_capture(broker)

    async def handle(envelope: EventEnvelope[SessionCleared]) -> None:
        raise AutoReconnect("connection refused")

    consumer.subscribe(SessionCleared, handle)
    consumer.install()
    async with TestKafkaBroker(broker) as test_broker:
        with pytest.raises(AutoReconnect):
            await test_broker.publish(session_cleared().to_json_bytes(), PREFIX + "session.cleared")

    assert dead == []


def test_subscribing_after_the_consumer_is_installed_is_refused() -> None:
    consumer = EventConsumer(
        KafkaBroker(), settings(), FakeInbox(), DeadLetterPublisher(KafkaBroker(), settings().platform)
    )

    async def handle(envelope: EventEnvelope[SessionCleared]) -> None:
        pass

    consumer.subscribe(SessionCleared, handle)
    consumer.install()
    with pytest.raises(RuntimeError, match="subscribe before the service starts"):
        consumer.subscribe("instance.extended", handle)
    assert consumer.topics == ["session.cleared"]


async def test_a_malformed_record_reaches_the_dead_letter_topic_as_it_was_with_the_dlq_headers() -> None:
    broker = KafkaBroker()
    consumer = EventConsumer(broker, settings(), FakeInbox(), DeadLetterPublisher(broker, settings().platform))
    dead = dead_letter_capture(broker)

    async def handle(envelope: EventEnvelope[SessionCleared]) -> None:
        pass

    consumer.subscribe(SessionCleared, handle)
    consumer.install()
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(
            b"not an event", PREFIX + "session.cleared", key=b"ins-1", headers=dict(_str_headers())
        )

    (record,) = dead
    assert record.value == b"not an event"
    assert record.key == b"ins-1"
    headers = {name: bytes(value).decode() for name, value in record.headers}
    assert set(DEADLETTER_HEADERS) <= set(headers)
    assert headers["content-type"] == CONTENT_TYPE
    assert headers["dlq-original-topic"] == PREFIX + "session.cleared"
    assert headers["dlq-consumer-group"] == "cg-wiring"
    assert headers["dlq-attempts"] == "1"
    assert headers["dlq-error"].startswith("MalformedEvent: not an event envelope")


async def test_the_dead_letter_publisher_bounds_the_error_and_keeps_a_missing_content_type_empty() -> None:
    broker = KafkaBroker()
    dead = dead_letter_capture(broker)
    failed = FailedMessage(
        topic=PREFIX + "session.cleared",
        partition=2,
        offset=99,
        key=None,
        value=b"\x00raw",
        consumer_group="cg-wiring",
        attempts=3,
        error="E" * (MAX_ERROR_CHARS + 500),
    )
    async with TestKafkaBroker(broker):
        await DeadLetterPublisher(broker, settings().platform).send(failed)

    (record,) = dead
    headers = {name: bytes(value).decode() for name, value in record.headers}
    assert record.value == b"\x00raw"
    assert headers["dlq-error"] == "E" * MAX_ERROR_CHARS
    assert (headers["dlq-original-partition"], headers["dlq-original-offset"]) == ("2", "99")
    assert headers["content-type"] == ""


def _str_headers() -> list[tuple[str, str]]:
    """The event headers as FastStream's publish takes them."""
    return [(name, value.decode()) for name, value in KAFKA_HEADERS]
