from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from activity.domain.model import ActivityRecord
from servicekit.mongo import Document, IndexSpec

EVENTS = "activity_events"

# The event id is the document id: storing a redelivered event fails on the primary key, which
# is what makes the consumer idempotent even across a crash.
INDEXES = [IndexSpec(EVENTS, [("partner_id", 1), ("serial", 1), ("occurred_at", -1)], name="partner_serial_time")]


class MongoActivityRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._events = db[EVENTS]

    async def add(self, record: ActivityRecord) -> bool:
        document = asdict(record)
        document["_id"] = document.pop("event_id")
        try:
            await self._events.insert_one(document)
        except DuplicateKeyError:
            return False
        return True

    async def get(self, event_id: str) -> ActivityRecord | None:
        document = await self._events.find_one({"_id": event_id})
        return _to_record(document) if document else None


def _to_record(document: dict[str, Any]) -> ActivityRecord:
    fields = {key: value for key, value in document.items() if key != "_id"}
    return ActivityRecord(event_id=str(document["_id"]), **fields)
