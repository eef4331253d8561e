"""Activity use cases with an in-memory repository (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from activity.domain.model import ActivityRecord
from activity.service_layer import handlers
from contracts import envelope_for
from contracts.events.activity import DeviceInfo, TerminalActivity

pytestmark = pytest.mark.unit


class InMemoryActivityRepository:
    def __init__(self) -> None:
        self.records: dict[str, ActivityRecord] = {}

    async def add(self, record: ActivityRecord) -> bool:
        if record.event_id in self.records:
            return False
        self.records[record.event_id] = record
        return True

    async def get(self, event_id: str) -> ActivityRecord | None:
        return self.records.get(event_id)


def event():  # type: ignore[no-untyped-def]
    now = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    data = TerminalActivity(
        serial="SER1", pin="1234", instance_id="ins-1", partner_id="ptn-a", action="clock_in",
        occurred_at=now, received_at=now, device=DeviceInfo(maker="Zebra", model="TC21"), battery_pct=50,
    )  # fmt: skip
    return envelope_for(data, source="activity")


async def test_an_event_is_recorded_once() -> None:
    repository = InMemoryActivityRepository()
    e = event()
    assert await handlers.record_activity(e, repository) is True
    assert await handlers.record_activity(e, repository) is False
    assert len(repository.records) == 1
    stored = repository.records[str(e.id)]
    assert stored.serial == "SER1"
    assert stored.device == {
        "maker": "Zebra",
        "model": "TC21",
        "os": None,
        "os_version": None,
        "app_version": None,
    }


async def test_a_record_is_visible_to_its_partner_only() -> None:
    repository = InMemoryActivityRepository()
    e = event()
    await handlers.record_activity(e, repository)
    assert await handlers.get_record(str(e.id), "ptn-a", repository) is not None
    assert await handlers.get_record(str(e.id), "ptn-b", repository) is None
    assert await handlers.get_record("missing", "ptn-a", repository) is None
