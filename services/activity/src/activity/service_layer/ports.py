from __future__ import annotations

from typing import Protocol

from activity.domain.model import ActivityRecord


class ActivityRepository(Protocol):
    async def add(self, record: ActivityRecord) -> bool:
        """Store the record; False when a record with that event id is already stored."""

    async def get(self, event_id: str) -> ActivityRecord | None: ...
