"""Seats in MongoDB: one document per (partner, instance, serial), `_id` = `domain.seats.seat_id`.

Two kinds of write touch disjoint fields, so neither undoes the other: a license event sets the
binding fields (`bound`, `license_id`, `user`, `pin`, `bind_stamp`) and the seat's few license
events (`license_events`, replayed in stamp order), guarded by how many events it read
(compare-and-set, under this process's per-document lock for FerretDB); a telemetry batch raises
`last_seen_at` with `$max` in one bulk write (upserting terminals not bound yet). A seat created
by its binding starts at `NEVER_SEEN`. The query is equality on `bound` (and `instance_id`), the
partner scope, and `last_seen_at < cutoff`, sorted by (`last_seen_at`, `_id`): never seen first.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from reports.domain.seats import NEVER_SEEN, Binding, LicenseChange, Seat, holder, seat_id
from reports.service_layer.seats import SeatFilter, Seen
from servicekit.mongo import Document, DocumentLocks, IndexSpec
from servicekit.pagination import Page, Sort, after_cursor, encode_cursor

SEATS = "seats"
LONGEST_SILENT_FIRST = Sort("last_seen_at")
BATCH = 500

SEAT_INDEXES = [
    IndexSpec(SEATS, [("bound", 1), ("partner_id", 1), ("last_seen_at", 1)], name="bound_partner_seen"),
    IndexSpec(SEATS, [("instance_id", 1), ("bound", 1), ("last_seen_at", 1)], name="instance_bound_seen"),
]


class MongoSeatStore:
    def __init__(self, db: AsyncDatabase[Document], locks: DocumentLocks) -> None:
        self._seats = db[SEATS]
        self._locks = locks

    async def bind(self, partner_id: str, instance_id: str, serial: str, event: Binding, *, unbinding: bool) -> None:
        document_id = seat_id(partner_id, instance_id, serial)
        async with self._locks.lock(SEATS, document_id):
            while True:
                stored = await self._seats.find_one({"_id": document_id})
                known = _license_changes(stored)
                if any(c.binding.stamp == event.stamp for c in known):
                    return  # a redelivery
                changes = [*known, LicenseChange(event, unbinding)]
                new = holder(changes)
                fields = {
                    "bound": new is not None and new.license_id is not None,
                    "license_id": new.license_id if new else None,
                    "user": new.user if new else None,
                    "pin": new.pin if new else None,
                    "bind_stamp": new.stamp if new else None,
                    "license_events": [_change_document(c) for c in sorted(changes, key=lambda c: c.binding.stamp)],
                }
                if stored is None:
                    try:
                        await self._seats.insert_one(
                            {
                                "_id": document_id,
                                "partner_id": partner_id,
                                "instance_id": instance_id,
                                "serial": serial,
                                "last_seen_at": NEVER_SEEN,
                                "license_event_count": len(changes),
                                **fields,
                            }
                        )
                    except DuplicateKeyError:
                        continue  # its terminal reported meanwhile: bind that document
                    return
                # Compare-and-set on how many events the seat held when read (a seat its telemetry
                # created first has none, and no counter).
                guard = {"_id": document_id, "license_event_count": len(known) or None}
                update = {"$set": {**fields, "license_event_count": len(changes)}}
                if (await self._seats.update_one(guard, update)).matched_count:
                    return

    async def seen(self, sightings: list[Seen]) -> None:
        latest: dict[str, Seen] = {}
        for s in sightings:
            key = seat_id(s.partner_id, s.instance_id, s.serial)
            if key not in latest or s.at > latest[key].at:
                latest[key] = s
        changes = [
            UpdateOne(
                {"_id": key},
                {
                    "$max": {"last_seen_at": s.at.astimezone(UTC)},
                    "$setOnInsert": {"partner_id": s.partner_id, "instance_id": s.instance_id, "serial": s.serial},
                },
                upsert=True,
            )
            for key, s in sorted(latest.items())
        ]
        # FerretDB rewrites a whole document per update: hold the seats' locks (in order, so a
        # binding, which holds one, never waits in a cycle), or a binding written meanwhile is lost.
        keys = sorted(latest)
        for start in range(0, len(changes), BATCH):
            async with contextlib.AsyncExitStack() as held:
                for key in keys[start : start + BATCH]:
                    await held.enter_async_context(self._locks.lock(SEATS, key))
                await self._seats.bulk_write(changes[start : start + BATCH], ordered=False)

    def _match(self, query: SeatFilter) -> Document:
        match: dict[str, Any] = {"bound": True, "last_seen_at": {"$lt": query.silent_since}}
        if query.instance_id is not None:
            match["instance_id"] = query.instance_id
        if len(query.partner_ids) == 1:
            match["partner_id"] = query.partner_ids[0]
        else:
            match["partner_id"] = {"$in": list(query.partner_ids)}
        return match

    async def silent_page(self, query: SeatFilter, limit: int, cursor: str | None) -> Page[Seat]:
        keyset = after_cursor(LONGEST_SILENT_FIRST, cursor)
        match = self._match(query)
        condition = {"$and": [match, keyset]} if keyset else match
        found = self._seats.find(condition).sort(LONGEST_SILENT_FIRST.mongo_sort()).limit(limit + 1)
        documents = [d async for d in found]
        page = documents[:limit]
        next_cursor = None
        if len(documents) > limit:
            next_cursor = encode_cursor(_utc(page[-1]["last_seen_at"]), str(page[-1]["_id"]))
        return Page([_seat(d) for d in page], next_cursor)

    async def silent(self, query: SeatFilter) -> AsyncIterator[Seat]:
        found = self._seats.find(self._match(query)).sort(LONGEST_SILENT_FIRST.mongo_sort()).batch_size(BATCH)
        async for document in found:
            yield _seat(document)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _license_changes(document: Document | None) -> list[LicenseChange]:
    if document is None:
        return []
    return [
        LicenseChange(Binding(c.get("license_id"), c.get("user"), c.get("pin"), c["stamp"]), bool(c["unbinding"]))
        for c in document.get("license_events", [])
    ]


def _change_document(change: LicenseChange) -> Document:
    b = change.binding
    return {"license_id": b.license_id, "user": b.user, "pin": b.pin, "stamp": b.stamp, "unbinding": change.unbinding}


def _seat(document: Document) -> Seat:
    seen = _utc(document["last_seen_at"])
    return Seat(
        partner_id=document["partner_id"],
        instance_id=document["instance_id"],
        serial=document["serial"],
        license_id=document["license_id"],
        user=document.get("user"),
        last_seen_at=None if seen <= NEVER_SEEN else seen,
    )
