"""Live notifications (R-06): what an event of the user's partners becomes, the SSE ids, and the
streams this process holds open.

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
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contracts import EventEnvelope

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


@dataclass(eq=False)  # identity: each stream is its own listener
class Listener:
    partner_ids: frozenset[str]
    queue: asyncio.Queue[Notification] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))
    overflowed: bool = False


class LiveStreams:
    """The streams this process holds open: what the event handlers fan out to, what the
    notification stream listens on."""

    def __init__(self) -> None:
        self._listeners: set[Listener] = set()

    def fan_out(self, notification: Notification) -> None:
        for listener in list(self._listeners):
            if notification.partner_id not in listener.partner_ids:
                continue
            try:
                listener.queue.put_nowait(notification)
            except asyncio.QueueFull:
                listener.overflowed = True  # the stream ends; the client resumes from the log

    @contextlib.asynccontextmanager
    async def listen(self, partner_ids: frozenset[str]) -> AsyncIterator[Listener]:
        listener = Listener(partner_ids)
        self._listeners.add(listener)
        try:
            yield listener
        finally:
            self._listeners.discard(listener)
