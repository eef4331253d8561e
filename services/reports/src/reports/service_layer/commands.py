"""The writes of the reports service. It is a read model: the live service writes only through its
event handlers (`event_handlers.py`); the one command is replaying the topics into a projection of
its own (the rebuild from offset 0, run by `entrypoints/rebuild.py`)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from contracts import MalformedEvent, decode_envelope
from reports.domain.model import CountResult
from reports.service_layer.event_handlers import EVENT_HANDLERS, ReportsEventHandlers
from reports.service_layer.ports import TopicRecord
from servicekit.handlers import Delivered, HandlerTable, InBatches

log = logging.getLogger(__name__)


@dataclass
class ReplayTally:
    """What a replay applied, skipped and refused, per topic."""

    events: Counter[str] = field(default_factory=Counter)
    malformed: int = 0
    failed: int = 0
    operations_counted: int = 0
    operations_skipped: int = 0


@dataclass
class ReportsCommands:
    handlers: ReportsEventHandlers
    stop_on: tuple[type[BaseException], ...] = ()
    """Failures of the infrastructure (the store down): they stop the replay instead of counting
    as an event not applied."""

    async def replay(self, topic_name: str, records: Sequence[TopicRecord], tally: ReplayTally) -> None:
        """Apply records of one topic with the live service's handlers (idempotent and
        order-independent, so no inbox is needed); what the live consumer would dead-letter is
        counted and skipped."""
        entry = EVENT_HANDLERS[topic_name]
        placed: list[Delivered] = []
        for record in records:
            try:
                event = decode_envelope(record.value or b"", expected_type=topic_name)
            except MalformedEvent:
                tally.malformed += 1  # the live consumer dead-lettered it
                continue
            tally.events[topic_name] += 1
            if isinstance(entry, InBatches):
                placed.append(Delivered(event, record.partition, record.offset))
                continue
            try:
                await getattr(self.handlers, entry.__name__)(event)
            except self.stop_on:
                raise
            except Exception:  # as the live consumer would dead-letter it: note and go on
                log.exception("event %s of %s not applied", event.id, topic_name)
                tally.failed += 1
        if isinstance(entry, InBatches) and placed:
            result: CountResult = await getattr(self.handlers, entry.method.__name__)(placed)
            tally.operations_counted += result.counted
            tally.operations_skipped += result.redelivered + result.resent


COMMAND_HANDLERS: HandlerTable = {
    "replay": ReportsCommands.replay,
}
