"""What Kafka delivers to the instances service: nothing; it only publishes (through its outbox)."""

from __future__ import annotations

from servicekit.handlers import EventHandlerTable


class InstanceEventHandlers:
    """No topic is consumed: the other services react to the instances' events, not the reverse."""


EVENT_HANDLERS: EventHandlerTable = {}
