"""What Kafka delivers to the gateway: the events users are told about (R-06), logged once per
event id, fanned out to this process's live streams, and a new message pushed to devices."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from contracts import EventEnvelope
from contracts.events.instances import (
    InstanceCancellationRequested,
    InstanceExtended,
    InstanceProvisioned,
    InstanceUpdated,
    SessionCleared,
)
from contracts.events.licenses import LicenseAdded, LicenseReleased, LicenseRevoked
from contracts.events.support import MessagePosted
from gateway.domain.notifications import NOTIFIED_TOPICS, LiveStreams, notification_of
from gateway.domain.webhooks import DELIVERED_TOPICS
from gateway.service_layer.ports import NotificationLog, PushSender
from gateway.service_layer.webhooks import WebhookDispatcher
from servicekit.handlers import EventHandlerTable, InBatches

log = logging.getLogger(__name__)

NotifiedPayload = (
    MessagePosted
    | InstanceProvisioned
    | InstanceUpdated
    | InstanceExtended
    | InstanceCancellationRequested
    | LicenseAdded
    | LicenseRevoked
    | LicenseReleased
    | SessionCleared
)
"""The payloads of `NOTIFIED_TOPICS`, in that order."""


class GatewayEventHandlers:
    def __init__(
        self,
        log_store: NotificationLog,
        live: LiveStreams,
        push: PushSender | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._log = log_store
        self._live = live
        self._push = push
        self._clock = clock
        self._last_seq = 0

    async def on_notified_events(self, events: Iterable[EventEnvelope[NotifiedPayload]]) -> None:
        """Events of any of `NOTIFIED_TOPICS`: a notification keeps the fields a client needs of
        whichever payload it has."""
        for event in events:
            notification = notification_of(event, self._next_seq())
            if notification is None:
                continue
            stored, inserted = await self._log.add(notification)
            self._live.fan_out(stored)
            if self._push is not None and stored.type == "message.posted" and inserted:
                # Only the replica that stored it first pushes, so a device is not notified once per replica.
                try:
                    await self._push.notify_partner(stored)
                except Exception:  # a push service being down must not stop the stream
                    log.exception("web push failed for %s", stored.id)

    def _next_seq(self) -> int:
        now = int(self._clock().timestamp() * 1_000_000)
        self._last_seq = max(self._last_seq + 1, now)
        return self._last_seq


# Batches without the inbox: the notification log stores each event id once.
EVENT_HANDLERS: EventHandlerTable = {
    topic: InBatches(GatewayEventHandlers.on_notified_events) for topic in NOTIFIED_TOPICS
}


class WebhookEventHandlers:
    """What the webhook dispatcher consumes (its own consumer group, so its offsets are not the
    notifications'): each event becomes the deliveries of the subscriptions that want it."""

    def __init__(self, dispatcher: WebhookDispatcher) -> None:
        self._dispatcher = dispatcher

    async def on_delivered_events(self, events: Iterable[EventEnvelope[NotifiedPayload]]) -> None:
        await self._dispatcher.accept(events)


# Batches without the inbox: a delivery's id is derived from the event id, stored once.
WEBHOOK_EVENT_HANDLERS: EventHandlerTable = {
    topic: InBatches(WebhookEventHandlers.on_delivered_events) for topic in DELIVERED_TOPICS
}
