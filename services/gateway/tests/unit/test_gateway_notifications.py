"""Live notifications: what an event becomes (no PINs or e-mails), the SSE ids, and the use cases'
fan-out, log, replay, keep-alives and Web Push, against an in-memory log and a controllable clock."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from contracts import EventEnvelope, envelope_for
from contracts.events.common import Actor, InstanceType
from contracts.events.instances import InstanceUpdated, SessionCleared
from contracts.events.licenses import LicenseAdded, LicenseReleased, LicenseRevoked
from contracts.events.support import AuthorSide, MessagePosted
from gateway.domain import notifications
from gateway.domain.notifications import Notification, notification_of, parse_stream_id
from gateway.service_layer.testing import UseCases, use_cases

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
WHO = Actor(user_id="usr-ana", role="partner")
P1, P2 = "ptn-1", "ptn-2"
WAIT = 1.0  # seconds a test waits for something that should come at once


# --------------------------------------------------------------------------------- builders


def message(partner_id: str = P1, n: int = 1) -> EventEnvelope[Any]:
    return envelope_for(
        MessagePosted(
            message_id=f"msg-{n}",
            thread_id="thr-cmp-1",
            partner_id=partner_id,
            company_id="cmp-1",
            author_id="usr-ana",
            author_side=AuthorSide.PARTNER,
            preview="The terminal does not sync",
            posted_at=NOW,
        ),
        source="support",
        time=NOW,
    )


def license_added(partner_id: str = P1) -> EventEnvelope[Any]:
    return envelope_for(
        LicenseAdded(
            license_id="lic-1",
            instance_id="ins-1",
            partner_id=partner_id,
            company_id="cmp-1",
            user_name="Luis Pérez",
            email="luis@acme.example",
            pin="4321",
            serial="SER-1",
            added_by=WHO,
        ),
        source="instances",
        time=NOW,
    )


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class FakeNotificationLog:
    """Stores once per id (an earlier copy wins), like the Mongo log with `_id` = event id."""

    def __init__(self) -> None:
        self.by_id: dict[str, Notification] = {}
        self.on_since: Callable[[], Awaitable[None]] | None = None
        self.forgotten_before: datetime | None = None

    async def add(self, notification: Notification) -> tuple[Notification, bool]:
        stored = self.by_id.setdefault(notification.id, notification)
        return stored, stored is notification

    async def since(self, partner_ids: tuple[str, ...], seq: int, limit: int) -> list[Notification]:
        if self.on_since is not None:
            await self.on_since()
        found = [n for n in self.by_id.values() if n.partner_id in partner_ids and n.seq > seq]
        return sorted(found, key=lambda n: n.seq)[:limit]

    async def forget_before(self, moment: datetime) -> int:
        self.forgotten_before = moment
        old = [key for key, n in self.by_id.items() if n.time < moment]
        for key in old:
            del self.by_id[key]
        return len(old)


class FakePush:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.pushed: list[str] = []

    async def notify_partner(self, notification: Notification) -> None:
        self.pushed.append(notification.id)
        if self.fail:
            raise RuntimeError("push service down")


def hub_with(
    log: FakeNotificationLog | None = None, push: FakePush | None = None, clock: Clock | None = None
) -> UseCases:
    """The notification use cases of one replica: its event handlers, stream and pruning share its live streams."""
    return use_cases(notification_log=log or FakeNotificationLog(), push=push, clock=clock or Clock())


async def next_of(stream: AsyncIterator[Notification | None]) -> Notification | None:
    return await asyncio.wait_for(anext(stream), WAIT)


async def listening(hub: UseCases, count: int = 1) -> None:
    """Lets started streams run until they are registered and waiting."""
    for _ in range(100):
        if len(hub.live._listeners) >= count:
            return
        await asyncio.sleep(0)
    raise AssertionError("the stream never started listening")


# --------------------------------------------------------------------------- notification_of


def test_a_message_keeps_the_ids_and_preview_a_client_needs() -> None:
    event = message()

    notification = notification_of(event, seq=42)

    assert notification is not None
    assert (notification.id, notification.seq, notification.type) == (str(event.id), 42, "message.posted")
    assert (notification.partner_id, notification.subject, notification.time) == (P1, event.subject, NOW)
    assert notification.data == {
        "thread_id": "thr-cmp-1",
        "company_id": "cmp-1",
        "message_id": "msg-1",
        "author_id": "usr-ana",
        "author_side": "partner",
        "preview": "The terminal does not sync",
    }


def test_a_system_note_keeps_its_code_and_values_for_each_reader_to_word_it() -> None:
    params = {"instance_id": "ins-1", "reason": "Cierre"}
    note = MessagePosted(
        message_id="note-1", thread_id="thr-cmp-1", partner_id=P1, company_id="cmp-1", author_id="system",
        author_side=AuthorSide.SYSTEM, preview="Se ha solicitado la cancelación de la instancia ins-1. Motivo: Cierre",
        posted_at=NOW, code="cancellation_requested", params=params,
    )  # fmt: skip

    notification = notification_of(envelope_for(note, source="support", time=NOW), seq=1)

    assert notification is not None
    assert (notification.data["code"], notification.data["params"]) == ("cancellation_requested", params)
    plain = notification_of(message(), seq=2)
    assert plain is not None and "code" not in plain.data and "params" not in plain.data


@pytest.mark.parametrize(
    "payload",
    [
        LicenseAdded(
            license_id="lic-1",
            instance_id="ins-1",
            partner_id=P1,
            company_id="cmp-1",
            user_name="Luis",
            email="luis@acme.example",
            pin="4321",
            added_by=WHO,
        ),
        LicenseRevoked(
            license_id="lic-1",
            instance_id="ins-1",
            partner_id=P1,
            company_id="cmp-1",
            pin="4321",
            reason="x",
            revoked_by=WHO,
        ),
        LicenseReleased(
            license_id="lic-1",
            instance_id="ins-1",
            partner_id=P1,
            company_id="cmp-1",
            pin="4321",
            serial="SER-1",
            released_by=WHO,
        ),
    ],
    ids=["added", "revoked", "released"],
)
def test_license_notifications_never_carry_the_pin_or_the_email(payload: BaseModel) -> None:
    notification = notification_of(envelope_for(payload, source="instances", time=NOW), seq=1)

    assert notification is not None
    assert notification.data == {"license_id": "lic-1", "instance_id": "ins-1", "company_id": "cmp-1"}
    text = str(notification.as_json())
    assert "4321" not in text and "luis@acme.example" not in text and "SER-1" not in text


def test_fields_absent_from_the_payload_are_left_out_and_free_form_changes_are_not_copied() -> None:
    cleared = notification_of(
        envelope_for(
            SessionCleared(instance_id="ins-1", partner_id=P1, session_epoch=3, cleared_by=WHO), source="instances"
        ),
        seq=1,
    )
    updated = notification_of(
        envelope_for(
            InstanceUpdated(
                instance_id="ins-1",
                partner_id=P1,
                company_id="cmp-1",
                type=InstanceType.WDS,
                changes={"admin_pin": "9999", "expiry": date(2027, 1, 1).isoformat()},
                updated_by=WHO,
            ),
            source="instances",
        ),
        seq=2,
    )

    assert cleared is not None and cleared.data == {"instance_id": "ins-1"}
    assert updated is not None and updated.data == {"instance_id": "ins-1", "company_id": "cmp-1"}


def test_an_event_without_a_partner_is_not_a_notification() -> None:
    class Orphan(BaseModel):
        thread_id: str = "thr-1"

    event = EventEnvelope[Any](id=uuid.uuid4(), type="orphan", source="test", time=NOW, subject="x", data=Orphan())

    assert notification_of(event, seq=1) is None


# --------------------------------------------------------------------------- parse_stream_id


def test_a_stream_id_round_trips_even_with_dashes_in_the_event_id() -> None:
    notification = notification_of(message(), seq=1_741_599_000_000_123)
    assert notification is not None

    assert notification.stream_id == f"1741599000000123-{notification.id}"
    assert "-" in notification.id
    assert parse_stream_id(notification.stream_id) == (1_741_599_000_000_123, notification.id)
    small = Notification("evt-1", 42, "message.posted", P1, None, NOW, {})
    assert small.stream_id == "0000000000000042-evt-1"  # zero-padded: sorts as text too
    assert parse_stream_id(small.stream_id) == (42, "evt-1")


@pytest.mark.parametrize(
    "text",
    ["", "123", "abc-evt", "-evt", "12-", "1" * 19 + "-evt", "12-" + "e" * 65, "+12-evt"],
    ids=["empty", "no-dash", "not-digits", "no-seq", "no-event", "seq-too-long", "event-too-long", "signed"],
)
def test_malformed_stream_ids_are_ignored(text: str) -> None:
    assert parse_stream_id(text) is None


def test_a_stream_id_with_superscript_digits_is_ignored_not_a_crash() -> None:
    assert parse_stream_id("²-evt") is None


# ---------------------------------------------------------------------------------- fan-out


async def test_events_go_only_to_listeners_of_their_partner() -> None:
    hub = hub_with()
    async with hub.live.listen(frozenset({P1})) as first, hub.live.listen(frozenset({P2})) as second:
        async with hub.live.listen(frozenset({P1, P2})) as staff:
            await hub.events.on_notified_events([message(P1), license_added(P2)])

            assert [first.queue.get_nowait().partner_id for _ in range(first.queue.qsize())] == [P1]
            assert [second.queue.get_nowait().partner_id for _ in range(second.queue.qsize())] == [P2]
            assert staff.queue.qsize() == 2


async def test_each_event_is_logged_once_and_keeps_its_first_seq() -> None:
    log = FakeNotificationLog()
    clock = Clock()
    hub = hub_with(log, clock=clock)
    event = message()

    await hub.events.on_notified_events([event])
    first_seq = log.by_id[str(event.id)].seq
    clock.advance(timedelta(seconds=5))
    await hub.events.on_notified_events([event])  # redelivered

    assert list(log.by_id) == [str(event.id)]
    assert log.by_id[str(event.id)].seq == first_seq == int(NOW.timestamp() * 1_000_000)


async def test_seqs_increase_even_when_the_clock_does_not() -> None:
    log = FakeNotificationLog()
    events = [message(n=n) for n in range(3)]

    await hub_with(log).events.on_notified_events(events)

    seqs = [log.by_id[str(e.id)].seq for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3


async def test_prune_forgets_what_is_older_than_the_retention() -> None:
    log = FakeNotificationLog()
    hub = hub_with(log, clock=Clock(NOW + timedelta(days=8)))
    await hub.events.on_notified_events([message()])

    assert await hub.commands.prune_notifications(timedelta(days=7)) == 1
    assert log.forgotten_before == NOW + timedelta(days=1)


# ------------------------------------------------------------------------------------- push


async def test_only_new_messages_are_pushed_and_only_once() -> None:
    push = FakePush()
    clock = Clock()
    hub = hub_with(push=push, clock=clock)
    posted = message()

    await hub.events.on_notified_events([posted, license_added()])
    clock.advance(timedelta(seconds=1))
    await hub.events.on_notified_events([posted])  # redelivered to this replica

    assert push.pushed == [str(posted.id)]


async def test_only_the_replica_that_stored_the_message_pushes_it() -> None:
    shared = FakeNotificationLog()
    first_push, second_push = FakePush(), FakePush()
    first = hub_with(shared, first_push, Clock(NOW))
    second = hub_with(shared, second_push, Clock(NOW + timedelta(milliseconds=3)))
    posted = message()

    await first.events.on_notified_events([posted])
    async with second.live.listen(frozenset({P1})) as listener:
        await second.events.on_notified_events([posted])
        assert listener.queue.get_nowait().seq == int(NOW.timestamp() * 1_000_000)  # the stored copy

    assert (first_push.pushed, second_push.pushed) == ([str(posted.id)], [])


async def test_replicas_stamping_the_same_microsecond_still_push_once() -> None:
    shared = FakeNotificationLog()
    first_push, second_push = FakePush(), FakePush()
    posted = message()

    await hub_with(shared, first_push, Clock(NOW)).events.on_notified_events([posted])
    await hub_with(shared, second_push, Clock(NOW)).events.on_notified_events([posted])

    assert len(first_push.pushed) + len(second_push.pushed) == 1


async def test_a_failing_push_does_not_stop_the_notifications() -> None:
    push = FakePush(fail=True)
    hub = hub_with(push=push)
    async with hub.live.listen(frozenset({P1})) as listener:
        await hub.events.on_notified_events([message(n=1), message(n=2)])

        assert listener.queue.qsize() == 2
    assert len(push.pushed) == 2


# ----------------------------------------------------------------------------------- stream


async def test_stream_replays_what_was_missed_then_goes_live_without_duplicates() -> None:
    log = FakeNotificationLog()
    clock = Clock()
    hub = hub_with(log, clock=clock)
    missed = [message(P1, n) for n in range(3)]
    for event in [*missed, message(P2, 9)]:
        await hub.events.on_notified_events([event])
        clock.advance(timedelta(seconds=10))
    seen = log.by_id[str(missed[0].id)]

    stream = await hub.queries.notification_stream(
        frozenset({P1}), seen.stream_id, keepalive_seconds=5, until=NOW + timedelta(hours=1)
    )
    replayed = [await next_of(stream), await next_of(stream)]
    live = message(P1, 7)
    await hub.events.on_notified_events([missed[2], live])  # a redelivery of a replayed one, and a new one

    assert [n.id for n in replayed if n] == [str(missed[1].id), str(missed[2].id)]
    nxt = await next_of(stream)
    assert nxt is not None and nxt.id == str(live.id)
    await stream.aclose()
    assert not hub.live._listeners


async def test_resuming_replays_exactly_what_was_stored_after_the_last_seen_one() -> None:
    log = FakeNotificationLog()
    hub = hub_with(log)
    base = int(NOW.timestamp() * 1_000_000)

    def stored(event_id: str, seq: int) -> Notification:
        return Notification(event_id, seq, "message.posted", P1, "msg", NOW, {})

    for n in (stored("seen", base), stored("slightly-earlier", base - 1_000_000), stored("long-ago", base - 3_000_000)):
        await log.add(n)

    stream = await hub.queries.notification_stream(
        frozenset({P1}), f"{base:016d}-seen", keepalive_seconds=0.01, until=NOW + timedelta(hours=1)
    )

    assert await next_of(stream) is None  # nothing stored after it: no earlier one, not the seen one again
    await stream.aclose()


async def test_an_event_arriving_during_the_replay_is_delivered_once() -> None:
    log = FakeNotificationLog()
    clock = Clock()
    hub = hub_with(log, clock=clock)
    await hub.events.on_notified_events([message(P1, 0)])
    seen = next(iter(log.by_id.values()))
    during = message(P1, 1)

    async def arrives_meanwhile() -> None:
        clock.advance(timedelta(seconds=1))
        await hub.events.on_notified_events([during])  # fanned out to the queue and visible in the log

    log.on_since = arrives_meanwhile
    stream = await hub.queries.notification_stream(
        frozenset({P1}), seen.stream_id, keepalive_seconds=0.01, until=NOW + timedelta(hours=1)
    )

    assert (await next_of(stream)).id == str(during.id)  # type: ignore[union-attr]
    assert await next_of(stream) is None
    await stream.aclose()


async def test_an_unparsable_last_event_id_just_starts_live() -> None:
    log = FakeNotificationLog()
    hub = hub_with(log)
    await hub.events.on_notified_events([message()])

    stream = await hub.queries.notification_stream(
        frozenset({P1}), "garbage", keepalive_seconds=0.01, until=NOW + timedelta(hours=1)
    )

    assert await next_of(stream) is None
    await stream.aclose()


async def test_stream_sends_keep_alives_and_ends_at_the_deadline() -> None:
    clock = Clock()
    hub = hub_with(clock=clock)
    stream = await hub.queries.notification_stream(
        frozenset({P1}), None, keepalive_seconds=0.01, until=NOW + timedelta(minutes=5)
    )

    assert await next_of(stream) is None
    assert await next_of(stream) is None
    clock.advance(timedelta(minutes=5))

    with pytest.raises(StopAsyncIteration):
        await next_of(stream)
    assert not hub.live._listeners


async def test_live_stream_skips_redeliveries_and_other_partners() -> None:
    hub = hub_with()
    stream = await hub.queries.notification_stream(
        frozenset({P1}), None, keepalive_seconds=5, until=NOW + timedelta(hours=1)
    )
    pending = asyncio.ensure_future(next_of(stream))
    await listening(hub)
    first, second = message(P1, 1), message(P1, 2)

    await hub.events.on_notified_events([first, message(P2, 3), first, second])

    assert (await pending).id == str(first.id)  # type: ignore[union-attr]
    assert (await next_of(stream)).id == str(second.id)  # type: ignore[union-attr]
    await stream.aclose()


async def test_a_stream_whose_queue_overflowed_ends_so_the_client_resumes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notifications, "QUEUE_LIMIT", 2)
    hub = hub_with()
    stream = await hub.queries.notification_stream(
        frozenset({P1}), None, keepalive_seconds=5, until=NOW + timedelta(hours=1)
    )
    pending = asyncio.ensure_future(next_of(stream))
    await listening(hub)

    sent = [message(P1, n) for n in range(5)]
    await hub.events.on_notified_events(sent)

    async def rest() -> list[Notification | None]:
        return [item async for item in stream]

    received = [await pending, *await asyncio.wait_for(rest(), WAIT)]  # ends at once: no keep-alive, no deadline
    assert received[0] is not None and received[0].id == str(sent[0].id)
    assert len(received) < len(sent)  # the rest comes from the log when the client reconnects
    assert not hub.live._listeners
