"""Activity storage designed for the search: a terminal's records in a time window.

Records live in one collection per UTC day and shard of serials: `records_YYYYMMDD_SS` (16
shards). A search by serial touches one small collection per day of its window; retention drops
whole days. Why not one collection with a compound index: FerretDB 1.x (SQLite) evaluates every
filter but `_id` equality in Go after reading the whole collection, and even `_id` equality scans
(measured on 100 000 documents: 3.0 s for `{serial, day}`, 0.34 s for `_id`). Small collections
keep that scan small; on MongoDB each day collection also carries the compound indexes, so the
same queries are index look-ups there.

A record's `_id` is its event id: a redelivered event fails on the primary key, so it is stored
once. The latest state of each serial lives in `terminals`; which serials a PIN used, in `pins`.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from aiokafka.partitioner import murmur2
from pymongo import IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from activity.domain.model import ActivityRecord, RecordKind, Terminal, parse_record_id, shard_of
from activity.service_layer.ports import IngestKey, RecordQuery
from contracts import topic
from servicekit.concurrency import together
from servicekit.mongo import Document, DocumentLocks, IndexSpec
from servicekit.pagination import InvalidCursor, Page, Sort, after_cursor, decode_cursor, encode_cursor

TERMINALS = "terminals"
PINS = "pins"
INGEST_KEYS = "ingest_keys"
RECORD_PREFIX = "records_"
DUPLICATE_KEY = 11000

INDEXES: list[IndexSpec] = []  # terminals and pins are read by _id only
RECORD_INDEXES = [
    IndexModel([("serial", 1), ("occurred_at", -1)], name="serial_time"),
    IndexModel([("partner_id", 1), ("pin", 1), ("occurred_at", -1)], name="partner_pin_time"),
]
NEWEST_FIRST = Sort("occurred_at", descending=True)


def collection_name(day: str, shard: int) -> str:
    return f"{RECORD_PREFIX}{day}_{shard:02d}"


class MongoActivityStore:
    def __init__(self, db: AsyncDatabase[Document], terminals: MongoTerminalStore) -> None:
        self._db = db
        self._terminals = terminals
        self._indexed: set[str] = set()

    async def add_records(self, records: list[ActivityRecord]) -> tuple[int, int]:
        by_collection: dict[str, list[Document]] = {}
        for record in records:
            by_collection.setdefault(collection_name(record.day, record.shard), []).append(_document(record))
        # One insert per collection, all at once: the consumer otherwise spent most of its time
        # waiting for one store round trip after another (bench/results/reference.md).
        counts = await together(*(self._insert(name, documents) for name, documents in by_collection.items()))
        return sum(stored for stored, _ in counts), sum(duplicates for _, duplicates in counts)

    async def _insert(self, name: str, documents: list[Document]) -> tuple[int, int]:
        """(stored, duplicates): a redelivered event fails on the primary key and is not stored again."""
        await self._ensure_indexes(name)
        try:
            result = await self._db[name].insert_many(documents, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            return len(documents) - len(errors), len(errors)
        return len(result.inserted_ids), 0

    async def _ensure_indexes(self, name: str) -> None:
        if name not in self._indexed:
            for index in RECORD_INDEXES:  # one per command: see servicekit.mongo.ensure_indexes
                await self._db[name].create_indexes([index])
            self._indexed.add(name)

    async def get(self, record_id: str) -> ActivityRecord | None:
        parsed = parse_record_id(record_id)
        if parsed is None:
            return None
        day, shard, event_id = parsed
        document = await self._db[collection_name(day, shard)].find_one({"_id": event_id})
        return _record(document) if document else None

    async def search(self, query: RecordQuery) -> Page[ActivityRecord]:
        serials = (
            [query.serial] if query.serial else await self._terminals.serials_of_pin(query.partner_id, query.pin or "")
        )
        if not serials:
            return Page([], None)
        match: dict[str, Any] = {
            "partner_id": query.partner_id,
            "occurred_at": {"$gte": query.window.start, "$lt": query.window.end},
        }
        if query.serial:
            match["serial"] = query.serial
        if query.pin:
            match["pin"] = query.pin
            match["serial"] = {"$in": serials}
        if query.action:
            match["action"] = query.action
        if query.kind:
            match["kind"] = query.kind.value
        keyset = after_cursor(NEWEST_FIRST, query.cursor)
        condition = {"$and": [match, keyset]} if keyset else match
        shards = sorted({shard_of(s) for s in serials})
        found: list[Document] = []
        # Newest day first, one after the other, stopping once a page is full: reading a window's
        # two days together was measured slower (bench/results/reference.md), as the older day's
        # documents are then decoded even when the newer day fills the page.
        for day in query.window.days():
            for shard in shards:
                cursor = self._db[collection_name(day, shard)].find(condition)
                found += [d async for d in cursor.sort(NEWEST_FIRST.mongo_sort()).limit(query.limit + 1)]
            if len(found) > query.limit:
                break
        found.sort(key=lambda d: (d["occurred_at"], d["_id"]), reverse=True)
        page = found[: query.limit]
        next_cursor = None
        if len(found) > query.limit:
            last = page[-1]
            next_cursor = encode_cursor(last["occurred_at"], last["_id"])
        return Page([_record(d) for d in page], next_cursor)

    async def drop_days_before(self, day: str) -> int:
        dropped = 0
        for name in await self._db.list_collection_names():
            if name.startswith(RECORD_PREFIX) and name[len(RECORD_PREFIX) : len(RECORD_PREFIX) + 8] < day:
                await self._db.drop_collection(name)
                self._indexed.discard(name)
                dropped += 1
        return dropped


class MongoTerminalStore:
    """The latest state of every terminal, grouped like the telemetry's Kafka partitions.

    One document per partition of `terminal.activity` holds the states of the serials that
    partition carries (`t.<serial>`). A batch therefore writes at most one document per
    partition instead of one per terminal (on FerretDB each write reads the whole collection
    and commits on its own: per-terminal writes capped the consumer at about 600 events/s),
    and only the consumer that owns a partition writes its document, so consumers in several
    processes never update the same document at once.
    """

    def __init__(self, db: AsyncDatabase[Document], locks: DocumentLocks) -> None:
        self._terminals = db[TERMINALS]
        self._pins = db[PINS]
        self._locks = locks
        self._known_pins: set[tuple[str, str, str]] = set()

    async def advance(self, records: list[ActivityRecord]) -> None:
        latest: dict[str, ActivityRecord] = {}
        pins: set[tuple[str, str, str]] = set()
        for record in records:
            current = latest.get(record.serial)
            if current is None or record.occurred_at >= current.occurred_at:
                latest[record.serial] = record
            if record.pin and (record.partner_id, record.pin, record.serial) not in self._known_pins:
                pins.add((record.partner_id, record.pin, record.serial))
        by_group: dict[str, list[ActivityRecord]] = {}
        for serial, record in latest.items():
            by_group.setdefault(group_of(serial), []).append(record)
        # One write after another: on FerretDB's SQLite backend concurrent updates (a read, then
        # a write, in one transaction) fail at once with SQLITE_BUSY instead of waiting.
        for pin in sorted(pins):
            await self._remember_pin(*pin)
        for group, group_records in sorted(by_group.items()):
            await self._advance_group(group, group_records)

    async def _advance_group(self, group: str, records: list[ActivityRecord]) -> None:
        async with self._locks.lock(TERMINALS, group):
            document = await self._terminals.find_one({"_id": group}) or {}
            states = document.get("t", {})
            changes = {}
            for record in records:
                key = _field(record.serial)
                before = _terminal(record.serial, states[key], None) if key in states else None
                if before is not None and before.last_seen > record.occurred_at:
                    continue  # an older record arriving late: the state stays the newest one
                changes[f"t.{key}"] = _terminal_document(Terminal.from_record(record, before))
            if changes:
                await self._terminals.update_one({"_id": group}, {"$set": changes}, upsert=True)

    async def _remember_pin(self, partner_id: str, pin: str, serial: str) -> None:
        key = f"{partner_id}~{pin}"
        async with self._locks.lock(PINS, key):
            with contextlib.suppress(DuplicateKeyError):
                await self._pins.update_one(
                    {"_id": key},
                    {"$addToSet": {"serials": serial}, "$setOnInsert": {"partner_id": partner_id, "pin": pin}},
                    upsert=True,
                )
        self._known_pins.add((partner_id, pin, serial))

    async def bind_license(self, serial: str, license_id: str | None) -> None:
        group, key = group_of(serial), _field(serial)
        update = {"$set": {f"l.{key}": license_id}} if license_id else {"$unset": {f"l.{key}": ""}}
        async with self._locks.lock(TERMINALS, group):
            await self._terminals.update_one({"_id": group}, update, upsert=True)

    async def get(self, partner_id: str, serial: str) -> Terminal | None:
        key = _field(serial)
        document = await self._terminals.find_one({"_id": group_of(serial)}, {f"t.{key}": 1, f"l.{key}": 1})
        state = (document or {}).get("t", {}).get(key)
        if state is None or state["partner_id"] != partner_id:
            return None
        return _terminal(serial, state, (document or {}).get("l", {}).get(key))

    async def _all(self) -> list[Terminal]:
        return [
            _terminal(_serial(key), state, document.get("l", {}).get(key))
            async for document in self._terminals.find({})
            for key, state in document.get("t", {}).items()
        ]

    async def latest(self, partner_id: str, limit: int, cursor: str | None) -> Page[Terminal]:
        mine = sorted(
            (t for t in await self._all() if t.partner_id == partner_id),
            key=lambda t: (t.last_seen, t.serial),
            reverse=True,
        )
        if cursor is not None:
            last_seen, serial = decode_cursor(cursor)
            if not isinstance(last_seen, datetime):  # a cursor of another list, or forged
                raise InvalidCursor("the cursor is not one this API returned")
            mine = [t for t in mine if (t.last_seen, t.serial) < (last_seen, serial)]
        page = mine[:limit]
        next_cursor = encode_cursor(page[-1].last_seen, page[-1].serial) if len(mine) > limit else None
        return Page(page, next_cursor)

    async def serials_of_instance(self, instance_id: str) -> list[str]:
        return [t.serial for t in await self._all() if t.instance_id == instance_id]

    async def serials_of_pin(self, partner_id: str, pin: str) -> list[str]:
        document = await self._pins.find_one({"_id": f"{partner_id}~{pin}"})
        return list(document.get("serials", [])) if document else []


TELEMETRY_PARTITIONS = topic("terminal.activity").partitions


def group_of(serial: str) -> str:
    """The Kafka partition the serial's telemetry goes to (the producer's default partitioner)."""
    return f"partition-{(murmur2(serial.encode()) & 0x7FFFFFFF) % TELEMETRY_PARTITIONS}"


def _field(serial: str) -> str:
    """A serial as a field name: no dots (they would be paths)."""
    return serial.replace("%", "%25").replace(".", "%2E")


def _serial(field: str) -> str:
    return field.replace("%2E", ".").replace("%25", "%")


class MongoIngestKeyStore:
    def __init__(self, db: AsyncDatabase[Document], locks: DocumentLocks) -> None:
        self._keys = db[INGEST_KEYS]
        self._locks = locks

    async def put(self, key: IngestKey) -> None:
        async with self._locks.lock(INGEST_KEYS, key.instance_id):
            await self._keys.replace_one(
                {"_id": key.instance_id},
                {"partner_id": key.partner_id, "key_sha256": key.key_sha256, "updated_at": datetime.now(UTC)},
                upsert=True,
            )

    async def get(self, instance_id: str) -> IngestKey | None:
        document = await self._keys.find_one({"_id": instance_id})
        return IngestKey(instance_id, document["partner_id"], document["key_sha256"]) if document else None


# ---------------------------------------------------------------------------- mapping


def _document(record: ActivityRecord) -> Document:
    return {
        "_id": record.event_id,
        "serial": record.serial,
        "instance_id": record.instance_id,
        "partner_id": record.partner_id,
        "action": record.action,
        "kind": record.kind.value,
        "occurred_at": record.occurred_at,
        "received_at": record.received_at,
        "pin": record.pin,
        "device": record.device,
        "battery_pct": record.battery_pct,
        "location": record.location,
        "details": record.details,
    }


def _record(document: Document) -> ActivityRecord:
    return ActivityRecord(
        event_id=str(document["_id"]),
        serial=document["serial"],
        instance_id=document["instance_id"],
        partner_id=document["partner_id"],
        action=document["action"],
        occurred_at=document["occurred_at"],
        received_at=document["received_at"],
        kind=RecordKind(document.get("kind", RecordKind.TELEMETRY.value)),
        pin=document.get("pin"),
        device=document.get("device"),
        battery_pct=document.get("battery_pct"),
        location=document.get("location"),
        details=document.get("details") or {},
    )


def _terminal_document(terminal: Terminal) -> Document:
    fields = dict(vars(terminal))
    fields.pop("serial")
    fields.pop("license_id")  # kept apart (`l.<serial>`): it changes with license events, not telemetry
    return fields


def _terminal(serial: str, state: Document, license_id: str | None) -> Terminal:
    return Terminal(serial=serial, license_id=license_id, **{k: v for k, v in state.items() if k != "license_id"})
