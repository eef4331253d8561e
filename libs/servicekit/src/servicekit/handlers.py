"""Handler tables: how a service's use cases are found and wired.

Every service's `service_layer` holds three modules, each ending with its table (as
cosmicpython's `handlers.py` does): `commands.py` → `COMMAND_HANDLERS` (writes), `queries.py` →
`QUERY_HANDLERS` (reads), `event_handlers.py` → `EVENT_HANDLERS` (what Kafka delivers, by topic).
A table maps a name to a method of the module's use-case class; the composition root binds the
event table to the class's instance and subscribes it (`subscribe_table`), and each service's
tests check with `missing_from_table` that no use case is left out of its table.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol

from typing_extensions import TypeVar

from contracts import EventEnvelope

# No framework or driver imported here: service layers import these tables' types.

UseCase = Callable[..., Awaitable[Any]]

DeliveredPayload = TypeVar("DeliveredPayload", default=Any)
"""Defaults to `Any`, so a bare `Delivered` (untyped handlers) stays valid."""


@dataclass(frozen=True)
class Delivered(Generic[DeliveredPayload]):
    """An event with its place in the topic: what a batch handler needs to be idempotent by offset
    (`InBatches(..., with_offsets=True)`)."""

    event: EventEnvelope[DeliveredPayload]
    partition: int
    offset: int


@dataclass(frozen=True)
class InBatches:
    """An `EVENT_HANDLERS` entry whose method takes a list of events at once (e.g. one bulk
    insert); it skips the inbox, so it must be idempotent by event id itself."""

    method: UseCase
    with_offsets: bool = False
    """The method takes `servicekit.consumer.Delivered` items (event, partition, offset)."""


EventTableEntry = UseCase | InBatches
HandlerTable = Mapping[str, UseCase]
EventHandlerTable = Mapping[str, EventTableEntry]


class Subscriber(Protocol):
    """What `subscribe_table` needs of `servicekit.consumer.EventConsumer`."""

    def subscribe(self, event_type: Any, handler: Any) -> None: ...

    def subscribe_batch(self, event_type: Any, handler: Any) -> None: ...

    def subscribe_deliveries(self, event_type: Any, handler: Any) -> None: ...


def subscribe_table(consumer: Subscriber, table: EventHandlerTable, owner: object) -> None:
    """Subscribe each topic of `table` to its method, bound to `owner` (the use-case instance)."""
    for topic, entry in table.items():
        if isinstance(entry, InBatches):
            method = getattr(owner, entry.method.__name__)
            if entry.with_offsets:
                consumer.subscribe_deliveries(topic, method)
            else:
                consumer.subscribe_batch(topic, method)
        else:
            consumer.subscribe(topic, getattr(owner, entry.__name__))


def missing_from_table(table: Mapping[str, EventTableEntry], owner_class: type[Any]) -> list[str]:
    """The public coroutine methods of `owner_class` that no table entry names (a test asserts none)."""
    listed = {(entry.method if isinstance(entry, InBatches) else entry).__name__ for entry in table.values()}
    return sorted(
        name
        for name, member in inspect.getmembers(owner_class, inspect.iscoroutinefunction)
        if not name.startswith("_") and name not in listed
    )
