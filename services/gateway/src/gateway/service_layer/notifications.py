"""Live notifications (R-06): events of the user's partners, pushed over SSE and Web Push.

Every gateway replica consumes the notification topics (its own consumer group) and fans the
events out to the streams it holds. The events are also kept for a while, once per event id, in
a log ordered by `seq`: a client reconnecting with `Last-Event-ID` gets what it missed from there.
`seq` is stamped by the replica that stores an event first, from its clock (kept monotonic in
the process): with one replica a resume is exact; with several, an event another replica stored
within their clocks' skew before the client's last one could be skipped — notifications are hints
to refresh a screen, the data itself stays in the services.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from contracts import EventEnvelope

log = logging.getLogger(__name__)

NOTIFIED_TOPICS = (
    "message.posted",
    "instance.provisioned",
    "instance.updated",
    "instance.extended",
    "instance.cancellation_requested",
    "license.added",
    "license.revoked",
    "license.released",
    "session.cleared",
)
# Only what a client needs to refresh the right screen: ids, and a message's preview. No PINs or
# e-mails of their own; a system note's code and parameters say what its preview says, for each
# reader to read it in their language.
_FIELDS = (
    "thread_id", "company_id", "instance_id", "license_id", "message_id", "author_id", "author_side", "preview",
    "code", "params",
)  # fmt: skip
QUEUE_LIMIT = 1000
REPLAY_LIMIT = 500


@dataclass(frozen=True)
class Notification:
    id: str
    """Event id: stable across replicas and redeliveries."""
    seq: int
    """Microseconds since the epoch when first stored; orders the log."""
    type: str
    partner_id: str
    subject: str | None
    time: datetime
    data: dict[str, Any]

    @property
    def stream_id(self) -> str:
        """The SSE `id`: sortable, and enough to resume from."""
        return f"{self.seq:016d}-{self.id}"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "partner_id": self.partner_id,
            "subject": self.subject,
            "time": self.time.isoformat(),
            "data": self.data,
        }


def parse_stream_id(text: str) -> tuple[int, str] | None:
    seq, dash, event_id = text.partition("-")
    if not dash or not (seq.isascii() and seq.isdigit()) or len(seq) > 18 or not event_id or len(event_id) > 64:
        return None
    return int(seq), event_id


def notification_of(event: EventEnvelope[Any], seq: int) -> Notification | None:
    payload = event.data.model_dump(mode="json")
    partner_id = payload.get("partner_id")
    if not isinstance(partner_id, str):
        return None
    return Notification(
        id=str(event.id),
        seq=seq,
        type=event.type,
        partner_id=partner_id,
        subject=event.subject,
        time=event.time,
        data={key: payload[key] for key in _FIELDS if payload.get(key) is not None},
    )


class NotificationLog(Protocol):
    async def add(self, notification: Notification) -> tuple[Notification, bool]:
        """Store it once per id; returns the stored one (an earlier copy wins, with its seq) and
        whether this call inserted it."""

    async def since(self, partner_ids: tuple[str, ...], seq: int, limit: int) -> list[Notification]: ...

    async def forget_before(self, moment: datetime) -> int: ...


class PushSender(Protocol):
    async def notify_partner(self, notification: Notification) -> None:
        """Web Push to the partner's subscribed devices (R-06), except the author's."""


@dataclass(eq=False)  # identity: each stream is its own listener
class _Listener:
    partner_ids: frozenset[str]
    queue: asyncio.Queue[Notification] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))
    overflowed: bool = False


class NotificationHub:
    def __init__(
        self,
        log_store: NotificationLog,
        push: PushSender | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._log = log_store
        self._push = push
        self._clock = clock
        self._listeners: set[_Listener] = set()
        self._last_seq = 0

    def _next_seq(self) -> int:
        now = int(self._clock().timestamp() * 1_000_000)
        self._last_seq = max(self._last_seq + 1, now)
        return self._last_seq

    async def on_events(self, events: Iterable[EventEnvelope[Any]]) -> None:
        for event in events:
            notification = notification_of(event, self._next_seq())
            if notification is None:
                continue
            stored, inserted = await self._log.add(notification)
            self._fan_out(stored)
            if self._push is not None and stored.type == "message.posted" and inserted:
                # Only the replica that stored it first pushes, so a device is not notified once per replica.
                try:
                    await self._push.notify_partner(stored)
                except Exception:  # a push service being down must not stop the stream
                    log.exception("web push failed for %s", stored.id)

    def _fan_out(self, notification: Notification) -> None:
        for listener in list(self._listeners):
            if notification.partner_id not in listener.partner_ids:
                continue
            try:
                listener.queue.put_nowait(notification)
            except asyncio.QueueFull:
                listener.overflowed = True  # the stream ends; the client resumes from the log

    @contextlib.asynccontextmanager
    async def listen(self, partner_ids: frozenset[str]) -> AsyncIterator[_Listener]:
        listener = _Listener(partner_ids)
        self._listeners.add(listener)
        try:
            yield listener
        finally:
            self._listeners.discard(listener)

    async def stream(
        self, partner_ids: frozenset[str], last_event_id: str | None, *, keepalive_seconds: float, until: datetime
    ) -> AsyncIterator[Notification | None]:
        """What the client missed since `last_event_id`, then live notifications; None = keep-alive.

        Ends at `until` (the access token's expiry): the client reconnects with a fresh token.
        """
        async with self.listen(partner_ids) as listener:
            sent: set[str] = set()
            resume = parse_stream_id(last_event_id) if last_event_id else None
            if resume is not None:
                seq, seen_id = resume
                sent.add(seen_id)
                for missed in await self._log.since(tuple(sorted(partner_ids)), seq, REPLAY_LIMIT):
                    if missed.id not in sent:
                        sent.add(missed.id)
                        yield missed
            while not listener.overflowed:
                remaining = (until - self._clock()).total_seconds()
                if remaining <= 0:
                    return
                try:
                    notification = await asyncio.wait_for(listener.queue.get(), min(keepalive_seconds, remaining))
                except TimeoutError:
                    yield None
                    continue
                if notification.id in sent:
                    continue
                sent.add(notification.id)
                if len(sent) > 2 * REPLAY_LIMIT:
                    sent.clear()
                yield notification

    async def prune(self, retention: timedelta) -> int:
        return await self._log.forget_before(self._clock() - retention)
