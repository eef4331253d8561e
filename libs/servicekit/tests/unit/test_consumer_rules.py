"""EventConsumer's rules in memory: records built here, a fake inbox and a fake dead-letter topic.

Decode (a structured-mode CloudEvent reaches its handler with the catalogue's payload; what is not
one is dead-lettered at once), the inbox (an applied event id is not applied again), retries (a
failing handler is tried `consumer_max_attempts` times, then dead-lettered; an unreachable store is
never the message's fault, so the batch comes again) and the batch split (a batch that keeps failing
is applied event by event, so only the bad one is dead-lettered). The same rules against the real
Kafka: tests/integration/test_consumer.py.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from faststream.kafka import KafkaBroker
from pymongo.errors import AutoReconnect, ConnectionFailure

from contracts import CONTENT_TYPE, KAFKA_HEADERS, EventEnvelope, envelope_for
from contracts.events.common import Actor
from contracts.events.instances import SessionCleared
from contracts.events.licenses import LicenseRevoked
from servicekit.consumer import EventConsumer
from servicekit.deadletter import FailedMessage
from servicekit.handlers import Delivered
from servicekit.settings import PlatformSettings, ServiceSettings

pytestmark = pytest.mark.unit

PREFIX = "unit-test."
GROUP = "cg-unit"
MAX_ATTEMPTS = 3


class FakeInbox:
    """The applied (consumer, event id) pairs, in memory."""

    def __init__(self, applied: Iterable[tuple[str, str]] = ()) -> None:
        self.applied = set(applied)

    async def seen(self, consumer: str, event_id: str) -> bool:
        return (consumer, event_id) in self.applied

    async def remember(self, consumer: str, event_id: str) -> None:
        self.applied.add((consumer, event_id))


@dataclass
class FakeDeadLetters:
    """Records what would go to the dead-letter topic; `failure` makes the publish itself fail."""

    sent: list[FailedMessage] = field(default_factory=list)
    failure: Exception | None = None

    async def send(self, failed: FailedMessage) -> None:
        if self.failure is not None:
            raise self.failure
        self.sent.append(failed)


@dataclass
class Rig:
    consumer: EventConsumer
    inbox: FakeInbox
    dead_letters: FakeDeadLetters


def rig(inbox: FakeInbox | None = None, dead_letters: FakeDeadLetters | None = None) -> Rig:
    settings = ServiceSettings(
        mongo_database="unit",
        consumer_group=GROUP,
        consumer_max_attempts=MAX_ATTEMPTS,
        platform=PlatformSettings(topic_prefix=PREFIX),
    )
    inbox, dead_letters = inbox or FakeInbox(), dead_letters or FakeDeadLetters()
    # The broker is never connected: `process` is what FastStream would call with each batch.
    consumer = EventConsumer(KafkaBroker(), settings, inbox, dead_letters, retry_backoff_seconds=0)
    return Rig(consumer, inbox, dead_letters)


def revoked(license_id: str = "lic-1") -> EventEnvelope[Any]:
    data = LicenseRevoked(
        license_id=license_id,
        instance_id="ins-1",
        partner_id="ptn-acme",
        company_id="cmp-1",
        pin="4821",
        serial="R58N123ABC",
        reason="Employee left the company.",
        revoked_by=Actor(user_id="usr-1", role="partner"),
    )
    return envelope_for(data, source="instances")


def cleared() -> EventEnvelope[Any]:
    data = SessionCleared(
        instance_id="ins-1", partner_id="ptn-acme", session_epoch=2, cleared_by=Actor(user_id="u", role="partner")
    )
    return envelope_for(data, source="instances")


def record(
    value: bytes,
    topic_name: str = "license.revoked",
    *,
    offset: int = 0,
    partition: int = 1,
    key: bytes = b"ins-1",
    headers: Sequence[tuple[str, bytes]] = KAFKA_HEADERS,
) -> ConsumerRecord[bytes, bytes]:
    """A record as aiokafka hands it over, read from the deployment's prefixed topic."""
    return ConsumerRecord(
        topic=PREFIX + topic_name,
        partition=partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key),
        serialized_value_size=len(value),
        headers=list(headers),
    )


def records_of(
    events: Sequence[EventEnvelope[Any]], topic_name: str = "license.revoked"
) -> list[ConsumerRecord[bytes, bytes]]:
    return [record(event.to_json_bytes(), topic_name, offset=n) for n, event in enumerate(events)]


def with_fields(event: EventEnvelope[Any], **changes: Any) -> bytes:
    """The event's wire form with some attributes changed, as another producer might write it."""
    wire = json.loads(event.to_json_bytes())
    wire.update(changes)
    return json.dumps(wire).encode()


# ---------------------------------------------------------------- decode and dispatch


async def test_a_structured_cloudevent_reaches_its_handler_with_the_catalogues_payload() -> None:
    r = rig()
    event = revoked()
    received: list[EventEnvelope[LicenseRevoked]] = []

    async def handle(envelope: EventEnvelope[LicenseRevoked]) -> None:
        received.append(envelope)

    r.consumer.subscribe(LicenseRevoked, handle)
    await r.consumer.process([record(event.to_json_bytes())])

    (envelope,) = received
    assert isinstance(envelope.data, LicenseRevoked)
    assert envelope.data.reason == "Employee left the company."
    assert envelope == event
    assert r.inbox.applied == {(f"{GROUP}.license.revoked", str(event.id))}
    assert r.consumer.stats.handled == 1
    assert r.consumer.stats.by_topic == {"license.revoked": 1}
    assert r.dead_letters.sent == []


def test_subscribing_by_payload_class_subscribes_to_its_catalogue_topic() -> None:
    r = rig()

    async def handle(envelope: EventEnvelope[LicenseRevoked]) -> None:
        pass

    async def handle_batch(envelopes: list[EventEnvelope[SessionCleared]]) -> None:
        pass

    r.consumer.subscribe(LicenseRevoked, handle)
    r.consumer.subscribe_batch(SessionCleared, handle_batch)
    assert r.consumer.topics == ["license.revoked", "session.cleared"]


def test_a_payload_class_outside_the_catalogue_is_refused_when_subscribing() -> None:
    r = rig()

    async def handle(envelope: EventEnvelope[Actor]) -> None:
        pass

    with pytest.raises(KeyError, match="not the payload of any catalogued topic"):
        r.consumer.subscribe(Actor, handle)
    assert r.consumer.topics == []


async def test_each_topic_of_a_batch_goes_to_its_own_subscription() -> None:
    r = rig()
    licenses, sessions = [revoked("lic-1"), revoked("lic-2")], [cleared()]
    got: dict[str, list[uuid.UUID]] = {"license": [], "session": []}

    async def on_license(envelope: EventEnvelope[LicenseRevoked]) -> None:
        got["license"].append(envelope.id)

    async def on_sessions(envelopes: list[EventEnvelope[SessionCleared]]) -> None:
        got["session"].extend(envelope.id for envelope in envelopes)

    r.consumer.subscribe(LicenseRevoked, on_license)
    r.consumer.subscribe_batch(SessionCleared, on_sessions)
    mixed = [*records_of(licenses[:1]), *records_of(sessions, "session.cleared"), *records_of(licenses[1:])]
    await r.consumer.process(mixed)

    assert got == {"license": [e.id for e in licenses], "session": [sessions[0].id]}
    assert r.consumer.stats.by_topic == {"license.revoked": 2, "session.cleared": 1}


# ---------------------------------------------------------------- what is no valid event


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"not json at all", "MalformedEvent: not an event envelope"),
        (
            with_fields(revoked(), schemaversion=2),
            "MalformedEvent: schema_version 2 of 'license.revoked' is not understood",
        ),
        (
            with_fields(revoked(), type="license.added"),
            "MalformedEvent: envelope type 'license.added' on topic 'license.revoked'",
        ),
        (with_fields(revoked(), data={"license_id": "lic-1"}), "MalformedEvent: invalid license.revoked payload"),
    ],
    ids=["not-an-envelope", "unknown-schema-version", "other-type-on-the-topic", "invalid-payload"],
)
async def test_a_record_that_is_no_valid_event_is_dead_lettered_once_with_its_reason(value: bytes, reason: str) -> None:
    r = rig()
    calls = 0

    async def handle(envelope: EventEnvelope[LicenseRevoked]) -> None:
        nonlocal calls
        calls += 1

    r.consumer.subscribe(LicenseRevoked, handle)
    bad = record(value, offset=41, key=b"ins-9")
    await r.consumer.process([bad])  # returns: the batch is committed, the record is never retried

    assert calls == 0
    (failed,) = r.dead_letters.sent
    assert failed.error.startswith(reason)
    assert failed.attempts == 1, "retrying cannot fix it"
    assert failed.value == value, "the original bytes, replayable"
    assert (failed.topic, failed.partition, failed.offset, failed.key) == (PREFIX + "license.revoked", 1, 41, b"ins-9")
    assert failed.consumer_group == GROUP
    assert failed.content_type == CONTENT_TYPE, "the original content-type is kept"
    assert r.consumer.stats.dead_lettered == 1
    assert r.consumer.stats.handled == 0
    assert r.inbox.applied == set()


async def test_a_record_without_content_type_is_dead_lettered_without_one() -> None:
    r = rig()

    async def handle(envelope: EventEnvelope[LicenseRevoked]) -> None:
        pass

    r.consumer.subscribe(LicenseRevoked, handle)
    await r.consumer.process([record(b"{}", headers=[("traceparent", b"00-abc")])])

    (failed,) = r.dead_letters.sent
    assert failed.content_type is None


async def test_a_malformed_record_does_not_hold_up_the_good_ones_of_its_batch() -> None:
    r = rig()
    good = [revoked("lic-1"), revoked("lic-2")]
    applied: list[uuid.UUID] = []

    async def handle(envelope: EventEnvelope[LicenseRevoked]) -> None:
        applied.append(envelope.id)

    r.consumer.subscribe(LicenseRevoked, handle)
    batch = [
        record(good[0].to_json_bytes(), offset=0),
        record(b"garbage", offset=1),
        record(good[1].to_json_bytes(), offset=2),
    ]
    await r.consumer.process(batch)

    assert applied == [e.id for e in good]
    assert [failed.offset for failed in r.dead_letters.sent] == [1]


# ---------------------------------------------------------------- the inbox


async def test_an_event_already_in_the_inbox_is_not_applied_again() -> None:
    event = revoked()
    r = rig(inbox=FakeInbox({(f"{GROUP}.license.revoked", str(event.id))}))
    calls = 0

    async def handle(envelope: EventEnvelope[LicenseRevoked]) -> None:
        nonlocal calls
        calls += 1

    r.consumer.subscribe(LicenseRevoked, handle)
    await r.consumer.process([record(event.to_json_bytes())])

    assert calls == 0
    assert r.consumer.stats.duplicates == 1
    assert r.consumer.stats.handled == 0
    assert r.dead_letters.sent == []


async def test_a_redelivered_event_is_applied_once_even_within_one_batch() -> None:
    r = rig()
    event = revoked()
    calls = 0

    async def handle(envelope: EventEnvelope[LicenseRevoked]) -> None:
        nonlocal calls
        calls += 1

    r.consumer.subscribe(LicenseRevoked, handle)
    await r.consumer.process([record(event.to_json_bytes(), offset=0), record(event.to_json_bytes(), offset=1)])
    await r.consumer.process([record(event.to_json_bytes(), offset=0)])  # the batch again, after a restart

    assert calls == 1
    assert r.consumer.stats.duplicates == 2


async def test_the_inbox_is_kept_per_consumer_name() -> None:
    event = revoked()
    r = rig(inbox=FakeInbox({("another-consumer", str(event.id))}))
    applied: list[uuid.UUID] = []

    async def handle(envelope: EventEnvelope[LicenseRevoked]) -> None:
        applied.append(envelope.id)

    r.consumer.subscribe(LicenseRevoked, handle, name="support.revocations")
    await r.consumer.process([record(event.to_json_bytes())])

    assert applied == [event.id]
    assert ("support.revocations", str(event.id)) in r.inbox.applied


# ---------------------------------------------------------------- retries and dead letters


async def test_a_handler_that_keeps_failing_is_dead_lettered_after_the_configured_attempts() -> None:
    r = rig()
    bad, good = revoked("lic-bad"), revoked("lic-good")
    calls: dict[uuid.UUID, int] = {}

    async def handle(envelope: EventEnvelope[LicenseRevoked]) -> None:
        calls[envelope.id] = calls.get(envelope.id, 0) + 1
        if envelope.data.license_id == "lic-bad":
            raise ValueError("expiry rule violated")

    r.consumer.subscribe(LicenseRevoked, handle)
    await r.consumer.process(records_of([bad, good]))

    assert calls == {bad.id: MAX_ATTEMPTS, good.id: 1}
    (failed,) = r.dead_letters.sent
    assert failed.attempts == MAX_ATTEMPTS
    assert failed.error == "ValueError: expiry rule violated"
    assert failed.value == bad.to_json_bytes()
    assert failed.content_type == CONTENT_TYPE
    assert r.inbox.applied == {(f"{GROUP}.license.revoked", str(good.id))}, "a dead-lettered event is not remembered"
    assert r.consumer.stats.retries == MAX_ATTEMPTS - 1
    assert (r.consumer.stats.handled, r.consumer.stats.dead_lettered) == (1, 1)


async def test_a_handler_that_fails_once_is_retried_and_applied() -> None:
    r = rig()
    event = revoked()
    calls = 0

    async def handle(envelope: EventEnvelope[LicenseRevoked]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("optimistic lock lost")

    r.consumer.subscribe(LicenseRevoked, handle)
    await r.consumer.process([record(event.to_json_bytes())])

    assert calls == 2
    assert r.dead_letters.sent == []
    assert r.consumer.stats.retries == 1
    assert r.inbox.applied == {(f"{GROUP}.license.revoked", str(event.id))}


@pytest.mark.parametrize(
    "outage",
    [AutoReconnect("connection refused"), ConnectionFailure("store down"), KafkaConnectionError(), KafkaTimeoutError()],
    ids=["mongo-auto-reconnect", "mongo-connection-failure", "kafka-connection", "kafka-timeout"],
)
async def test_an_unreachable_store_or_broker_redelivers_instead_of_dead_lettering(outage: Exception) -> None:
    r = rig()
    event = revoked()
    calls = 0

    async def handle(envelope: EventEnvelope[LicenseRevoked]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise outage

    r.consumer.subscribe(LicenseRevoked, handle)
    # Raising out of the batch is what makes FastStream (NACK_ON_ERROR) seek back: nothing committed.
    with pytest.raises(type(outage)):
        await r.consumer.process([record(event.to_json_bytes())])
    assert calls == 1, "no retries against an unreachable store: the whole batch comes again"
    assert r.dead_letters.sent == []
    assert r.inbox.applied == set()

    await r.consumer.process([record(event.to_json_bytes())])  # the redelivery, once the store is back

    assert calls == 2
    assert r.inbox.applied == {(f"{GROUP}.license.revoked", str(event.id))}
    assert r.consumer.stats.dead_lettered == 0


async def test_a_dead_letter_that_cannot_be_published_makes_the_batch_come_again() -> None:
    r = rig(dead_letters=FakeDeadLetters(failure=KafkaConnectionError()))

    async def handle(envelope: EventEnvelope[LicenseRevoked]) -> None:
        raise ValueError("always")

    r.consumer.subscribe(LicenseRevoked, handle)
    with pytest.raises(KafkaConnectionError):
        await r.consumer.process([record(revoked().to_json_bytes())])
    with pytest.raises(KafkaConnectionError):
        await r.consumer.process([record(b"garbage")])
    assert r.consumer.stats.dead_lettered == 0


# ---------------------------------------------------------------- batches


async def test_a_batch_with_one_bad_event_is_split_so_the_good_ones_are_applied_once() -> None:
    r = rig()
    first, bad, last = revoked("lic-1"), revoked("lic-bad"), revoked("lic-3")
    calls: list[list[str]] = []
    applied: list[str] = []

    async def bulk_insert(batch: list[Delivered[LicenseRevoked]]) -> None:
        ids = [delivered.event.data.license_id for delivered in batch]
        calls.append(ids)
        if "lic-bad" in ids:
            raise ValueError("duplicate serial in lic-bad")
        applied.extend(ids)  # all or nothing, like one bulk write

    r.consumer.subscribe_deliveries(LicenseRevoked, bulk_insert)
    await r.consumer.process(records_of([first, bad, last]))

    whole = ["lic-1", "lic-bad", "lic-3"]
    assert calls == [whole] * MAX_ATTEMPTS + [["lic-1"]] + [["lic-bad"]] * MAX_ATTEMPTS + [["lic-3"]]
    assert applied == ["lic-1", "lic-3"]
    (failed,) = r.dead_letters.sent
    assert failed.value == bad.to_json_bytes()
    assert failed.offset == 1
    assert failed.attempts == MAX_ATTEMPTS
    assert failed.error == "ValueError: duplicate serial in lic-bad"
    assert (r.consumer.stats.handled, r.consumer.stats.dead_lettered) == (2, 1)


async def test_a_batch_handler_gets_each_event_with_its_partition_and_offset() -> None:
    r = rig()
    events = [revoked("lic-1"), revoked("lic-2")]
    got: list[tuple[str, int, int]] = []

    async def deliveries(batch: list[Delivered[LicenseRevoked]]) -> None:
        got.extend((d.event.data.license_id, d.partition, d.offset) for d in batch)

    r.consumer.subscribe_deliveries(LicenseRevoked, deliveries)
    await r.consumer.process(
        [
            record(events[0].to_json_bytes(), partition=2, offset=7),
            record(events[1].to_json_bytes(), partition=0, offset=3),
        ]
    )

    assert got == [("lic-1", 2, 7), ("lic-2", 0, 3)]


async def test_batch_handlers_skip_the_inbox_and_are_given_every_event() -> None:
    event = revoked()
    r = rig(inbox=FakeInbox({(f"{GROUP}.license.revoked", str(event.id))}))
    got: list[list[uuid.UUID]] = []

    async def on_events(envelopes: list[EventEnvelope[LicenseRevoked]]) -> None:
        got.append([envelope.id for envelope in envelopes])

    r.consumer.subscribe_batch(LicenseRevoked, on_events)
    await r.consumer.process(records_of([event, event]))

    assert got == [[event.id, event.id]], "one call for the batch; idempotence is the handler's"
    assert r.inbox.applied == {(f"{GROUP}.license.revoked", str(event.id))}, "batch handlers write no inbox entries"
    assert r.consumer.stats.duplicates == 0


async def test_a_batch_is_not_split_when_the_store_is_unreachable() -> None:
    r = rig()
    calls = 0

    async def on_events(envelopes: list[EventEnvelope[LicenseRevoked]]) -> None:
        nonlocal calls
        calls += 1
        raise AutoReconnect("connection refused")

    r.consumer.subscribe_batch(LicenseRevoked, on_events)
    with pytest.raises(AutoReconnect):
        await r.consumer.process(records_of([revoked("lic-1"), revoked("lic-2")]))
    assert calls == 1
    assert r.dead_letters.sent == []


async def test_a_malformed_record_is_dead_lettered_and_the_rest_of_the_batch_handled_together() -> None:
    r = rig()
    good = [revoked("lic-1"), revoked("lic-2")]
    got: list[list[uuid.UUID]] = []

    async def on_events(envelopes: list[EventEnvelope[LicenseRevoked]]) -> None:
        got.append([envelope.id for envelope in envelopes])

    r.consumer.subscribe_batch(LicenseRevoked, on_events)
    batch = [
        record(good[0].to_json_bytes(), offset=0),
        record(b"{", offset=1),
        record(good[1].to_json_bytes(), offset=2),
    ]
    await r.consumer.process(batch)

    assert got == [[e.id for e in good]]
    (failed,) = r.dead_letters.sent
    assert (failed.offset, failed.attempts) == (1, 1)


# ---------------------------------------------------------------- U+0000, which no store keeps


def with_data(event: EventEnvelope[Any], **changes: Any) -> bytes:
    wire = json.loads(event.to_json_bytes())
    wire["data"].update(changes)
    return json.dumps(wire).encode()


@pytest.mark.parametrize("single", [True, False], ids=["one-by-one", "batch"])
@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"reason": "Left\x00the company."}, "data.reason"),
        ({"serial": "\x00"}, "data.serial"),
        ({"extra\x00key": "x"}, "data.extra\\u0000key"),
    ],
    ids=["in-a-value", "the-whole-value", "in-a-key"],
)
async def test_an_event_holding_a_nul_is_dead_lettered_at_once_naming_where_and_the_rest_applied(
    changes: dict[str, Any], where: str, single: bool
) -> None:
    r = rig()
    good = [revoked("lic-1"), revoked("lic-2")]
    applied: list[uuid.UUID] = []
    calls = 0

    async def handle(envelope: EventEnvelope[LicenseRevoked]) -> None:
        nonlocal calls
        calls += 1
        applied.append(envelope.id)

    async def on_events(envelopes: list[EventEnvelope[LicenseRevoked]]) -> None:
        nonlocal calls
        calls += 1
        applied.extend(envelope.id for envelope in envelopes)

    if single:
        r.consumer.subscribe(LicenseRevoked, handle)
    else:
        r.consumer.subscribe_batch(LicenseRevoked, on_events)
    bad = with_data(revoked("lic-bad"), **changes)
    assert b"\\u0000" in bad, "JSON writes U+0000 as an escape"
    await r.consumer.process(
        [record(good[0].to_json_bytes(), offset=0), record(bad, offset=1), record(good[1].to_json_bytes(), offset=2)]
    )

    assert applied == [e.id for e in good]
    assert calls == (2 if single else 1), "the bad event never reaches a handler, nor splits the batch"
    (failed,) = r.dead_letters.sent
    assert failed.error == f"MalformedEvent: U+0000 (NUL) in {where}, which the store cannot keep"
    assert (failed.offset, failed.attempts, failed.value) == (1, 1, bad), "at once, the original bytes"
    assert r.consumer.stats.retries == 0


async def test_the_text_backslash_u0000_is_no_nul_and_is_applied() -> None:
    r = rig()
    applied: list[str] = []

    async def handle(envelope: EventEnvelope[LicenseRevoked]) -> None:
        applied.append(envelope.data.reason)

    r.consumer.subscribe(LicenseRevoked, handle)
    await r.consumer.process([record(with_data(revoked(), reason="typed \\u0000 by hand"))])

    assert applied == ["typed \\u0000 by hand"]
    assert r.dead_letters.sent == []
