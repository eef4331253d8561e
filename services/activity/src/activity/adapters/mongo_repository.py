"""Activity storage designed for the search: a terminal's records in a time window.

Records live in one collection per UTC day and shard of serials: `records_YYYYMMDD_SS` (16
shards). A search by serial touches one small collection per day of its window; retention drops
whole days. Why not one collection with a compound index: FerretDB 1.x (SQLite) evaluates every
filter but `_id` equality in Go after reading the whole collection, and even `_id` equality scans
(measured on 100 000 documents: 3.0 s for `{serial, day}`, 0.34 s for `_id`). Small collections
keep that scan small; on MongoDB each day collection also carries the compound indexes, so the
same queries are index look-ups there.

A record's `_id` is its envelope's id (for telemetry, derived from the instance and the
terminal's event id: `contracts.events.activity.telemetry_event_id`): a redelivered or retried
event fails on the primary key, so it is stored once, and another instance's event never does.
The latest state of each partner's terminals lives in `terminals`; which serials a PIN used, in
`pins`. Serials arrive in their canonical form (`contracts.serials`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from aiokafka.partitioner import murmur2
from pymongo import IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from activity.domain.model import ActivityRecord, RecordKind, Terminal, parse_record_id, shard_of
from activity.service_layer.ports import IngestKey, RecordQuery
from contracts import topic
from contracts.serials import canonical_serial
from servicekit.concurrency import together
from servicekit.mongo import Document, DocumentLocks, IndexSpec
from servicekit.pagination import InvalidCursor, Page, Sort, after_cursor, decode_cursor, encode_cursor

TERMINALS = "terminals"
PINS = "pins"
INGEST_KEYS = "ingest_keys"
RECORD_PREFIX = "records_"
DUPLICATE_KEY = 11000
log = logging.getLogger(__name__)

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

    async def move_to_canonical_serials(self) -> int:
        """Records stored before serials had one form, with lower-case letters in their serial, sit in
        the bucket of that spelling, where a search by the canonical serial does not look: move them
        there, once. A record is written to its new bucket (once, by `_id`) before it leaves the old
        one, so an interrupted run is simply run again. Returns how many records moved."""
        moved = 0
        for name in sorted(await self._db.list_collection_names()):
            if not name.startswith(RECORD_PREFIX):
                continue
            day = name[len(RECORD_PREFIX) : len(RECORD_PREFIX) + 8]
            # Every document is read (by serial only): FerretDB would read them all for any filter.
            stale = [d["_id"] async for d in self._db[name].find({}, {"serial": 1}) if not _canonical(d)]
            for record_key in stale:
                document = await self._db[name].find_one({"_id": record_key})
                if document is None:
                    continue
                document["serial"] = canonical_serial(document["serial"])
                target = collection_name(day, shard_of(document["serial"]))
                if target == name:
                    await self._db[name].update_one({"_id": record_key}, {"$set": {"serial": document["serial"]}})
                else:
                    await self._ensure_indexes(target)
                    with contextlib.suppress(DuplicateKeyError):
                        await self._db[target].insert_one(document)
                    await self._db[name].delete_one({"_id": record_key})
                moved += 1
        return moved

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
    partition carries. A batch therefore writes at most one document per partition instead of
    one per terminal (on FerretDB each write reads the whole collection and commits on its own:
    per-terminal writes capped the consumer at about 600 events/s), and only the consumer that
    owns a partition writes its document, so consumers in several processes never update the
    same document at once.

    Inside it, terminals are kept per partner: `s.<partner>.<serial>` is the state and
    `b.<partner>.<serial>.<instance>` the license bound to the serial in that instance (or None)
    with the time of the event that said so. The same
    serial used by two partners is two terminals: one partner's events never reach the other's.
    Documents of the earlier shape (`t.<serial>`, `l.<serial>`, shared by every partner) are
    converted on first use (`_upgrade`).
    """

    def __init__(self, db: AsyncDatabase[Document], locks: DocumentLocks) -> None:
        self._terminals = db[TERMINALS]
        self._pins = db[PINS]
        self._locks = locks
        self._known_pins: set[tuple[str, str, str]] = set()
        self._upgraded = asyncio.Event()
        self._upgrading = asyncio.Lock()

    async def advance(self, records: list[ActivityRecord]) -> None:
        await self._upgrade()
        latest: dict[tuple[str, str], ActivityRecord] = {}
        pins: set[tuple[str, str, str]] = set()
        for record in records:
            current = latest.get((record.partner_id, record.serial))
            if current is None or record.occurred_at >= current.occurred_at:
                latest[(record.partner_id, record.serial)] = record
            if record.pin and (record.partner_id, record.pin, record.serial) not in self._known_pins:
                pins.add((record.partner_id, record.pin, record.serial))
        by_group: dict[str, list[ActivityRecord]] = {}
        for (_, serial), record in latest.items():
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
            changes = {}
            for record in records:
                path = _state_path(record.partner_id, record.serial)
                state = _at(document, path)
                before = _terminal(record.serial, state, None) if state else None
                if before is not None and before.last_seen > record.occurred_at:
                    continue  # an older record arriving late: the state stays the newest one
                changes[path] = _terminal_document(Terminal.from_record(record, before))
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

    async def bind_license(
        self, partner_id: str, instance_id: str, serial: str, license_id: str | None, at: datetime
    ) -> None:
        await self._upgrade()
        group, path = group_of(serial), _binding_path(partner_id, serial, instance_id)
        async with self._locks.lock(TERMINALS, group):
            current = _at(await self._terminals.find_one({"_id": group}, {path: 1}) or {}, path)
            # License events travel on three topics, in no set order between them: the newest
            # event wins, and a release is kept (as None) so that an older binding arriving late
            # does not come back.
            if isinstance(current, dict) and current["at"] > at:
                return
            await self._terminals.update_one(
                {"_id": group}, {"$set": {path: {"license_id": license_id, "at": at}}}, upsert=True
            )

    async def get(self, partner_id: str, serial: str) -> Terminal | None:
        await self._upgrade()
        state_path, bindings_path = _state_path(partner_id, serial), _bindings_path(partner_id, serial)
        document = await self._terminals.find_one({"_id": group_of(serial)}, {state_path: 1, bindings_path: 1}) or {}
        state = _at(document, state_path)
        if not state or state.get("partner_id") != partner_id:
            return None
        return _terminal(serial, state, _bound(state, _at(document, bindings_path)))

    async def get_many(self, partner_id: str, serials: list[str]) -> list[Terminal]:
        """One find of the serials' group documents, only their parts of them."""
        await self._upgrade()
        wanted = list(dict.fromkeys(serials))
        if not wanted:
            return []
        groups = sorted({group_of(serial) for serial in wanted})
        match: dict[str, Any] = {"_id": groups[0]} if len(groups) == 1 else {"_id": {"$in": groups}}
        projection = {
            path: 1
            for serial in wanted
            for path in (_state_path(partner_id, serial), _bindings_path(partner_id, serial))
        }
        documents = {document["_id"]: document async for document in self._terminals.find(match, projection)}
        found = []
        for serial in wanted:
            document = documents.get(group_of(serial)) or {}
            state = _at(document, _state_path(partner_id, serial))
            if state and state.get("partner_id") == partner_id:
                found.append(_terminal(serial, state, _bound(state, _at(document, _bindings_path(partner_id, serial)))))
        return found

    async def _of_partner(self, partner_id: str) -> list[Terminal]:
        """Every group document is read (there are as many as partitions), only this partner's part of it."""
        await self._upgrade()
        mine = _field(partner_id)
        terminals = []
        async for document in self._terminals.find({}, {f"s.{mine}": 1, f"b.{mine}": 1}):
            bindings = _at(document, f"b.{mine}") or {}
            for key, state in (_at(document, f"s.{mine}") or {}).items():
                if state.get("partner_id") == partner_id:
                    terminals.append(_terminal(_serial(key), state, _bound(state, bindings.get(key))))
        return terminals

    async def latest(self, partner_id: str, limit: int, cursor: str | None) -> Page[Terminal]:
        mine = sorted(await self._of_partner(partner_id), key=lambda t: (t.last_seen, t.serial), reverse=True)
        if cursor is not None:
            last_seen, serial = decode_cursor(cursor)
            if not isinstance(last_seen, datetime):  # a cursor of another list, or forged
                raise InvalidCursor("the cursor is not one this API returned")
            mine = [t for t in mine if (t.last_seen, t.serial) < (last_seen, serial)]
        page = mine[:limit]
        next_cursor = encode_cursor(page[-1].last_seen, page[-1].serial) if len(mine) > limit else None
        return Page(page, next_cursor)

    async def serials_of_instance(self, partner_id: str, instance_id: str) -> list[str]:
        return [t.serial for t in await self._of_partner(partner_id) if t.instance_id == instance_id]

    async def serials_of_pin(self, partner_id: str, pin: str) -> list[str]:
        document = await self._pins.find_one({"_id": f"{partner_id}~{pin}"})
        return list(document.get("serials", [])) if document else []

    async def canonical_pins(self) -> int:
        """The serials each PIN used, in their canonical form (see `move_to_canonical_serials`)."""
        fixed = 0
        async for document in self._pins.find({}):
            serials = sorted({canonical_serial(s) for s in document.get("serials", [])})
            if serials != sorted(document.get("serials", [])):
                async with self._locks.lock(PINS, document["_id"]):
                    await self._pins.update_one({"_id": document["_id"]}, {"$set": {"serials": serials}})
                fixed += 1
        self._known_pins.clear()
        return fixed

    async def _upgrade(self) -> None:
        """Convert documents of the earlier shape, once per process, before anything reads or writes.

        A state `t.<serial>` moves to its own partner (it names it) under the canonical serial; a
        binding `l.<serial>` had no partner and goes to the partner and instance of the state at the
        same serial, or is dropped when there is none (the next license event binds it again). The
        old fields are removed only after every new one is written, and a state already present in
        the new shape is never overwritten, so an interrupted conversion is simply done again."""
        if self._upgraded.is_set():
            return
        async with self._upgrading:
            if self._upgraded.is_set():
                return
            old = [d async for d in self._terminals.find({}) if "t" in d or "l" in d]
            moved: dict[str, dict[str, Any]] = {}
            for document in old:
                states, bindings = document.get("t") or {}, document.get("l") or {}
                for key, state in states.items():
                    serial = canonical_serial(_serial(key))
                    path = _state_path(state["partner_id"], serial)
                    changes = moved.setdefault(group_of(serial), {})
                    if path not in changes or changes[path]["last_seen"] < state["last_seen"]:
                        changes[path] = {k: v for k, v in state.items() if k != "license_id"}
                    if bindings.get(key):
                        binding = {"license_id": bindings[key], "at": EARLIEST}  # any license event is newer
                        changes[_binding_path(state["partner_id"], serial, state["instance_id"])] = binding
            for group, changes in sorted(moved.items()):
                async with self._locks.lock(TERMINALS, group):
                    current = await self._terminals.find_one({"_id": group}) or {}
                    fresh = {path: value for path, value in changes.items() if _at(current, path) is None}
                    if fresh:
                        await self._terminals.update_one({"_id": group}, {"$set": fresh}, upsert=True)
            for document in old:
                async with self._locks.lock(TERMINALS, document["_id"]):
                    await self._terminals.update_one({"_id": document["_id"]}, {"$unset": {"t": "", "l": ""}})
            if old:
                log.info("terminals: converted %d documents to the per-partner shape", len(old))
            self._upgraded.set()


TELEMETRY_PARTITIONS = topic("terminal.activity").partitions
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


def group_of(serial: str) -> str:
    """The Kafka partition the serial's telemetry goes to (the producer's default partitioner)."""
    return f"partition-{(murmur2(serial.encode()) & 0x7FFFFFFF) % TELEMETRY_PARTITIONS}"


def _field(value: str) -> str:
    """An id as a field name: no dots (they would be paths)."""
    return value.replace("%", "%25").replace(".", "%2E")


def _serial(field: str) -> str:
    return field.replace("%2E", ".").replace("%25", "%")


def _state_path(partner_id: str, serial: str) -> str:
    return f"s.{_field(partner_id)}.{_field(serial)}"


def _bindings_path(partner_id: str, serial: str) -> str:
    return f"b.{_field(partner_id)}.{_field(serial)}"


def _binding_path(partner_id: str, serial: str, instance_id: str) -> str:
    return f"{_bindings_path(partner_id, serial)}.{_field(instance_id)}"


def _canonical(record: Document) -> bool:
    return bool(record["serial"] == canonical_serial(record["serial"]))


def _at(document: Document, path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _bound(state: Document, bindings: dict[str, Document] | None) -> str | None:
    """The license bound to the serial in the instance the terminal last reported from."""
    binding = (bindings or {}).get(_field(state["instance_id"]))
    return binding["license_id"] if isinstance(binding, dict) else None


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
        "terminal_event_id": record.terminal_event_id,
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
        terminal_event_id=document.get("terminal_event_id"),
    )


def _terminal_document(terminal: Terminal) -> Document:
    fields = dict(vars(terminal))
    fields.pop("serial")
    fields.pop("license_id")  # kept apart (`l.<serial>`): it changes with license events, not telemetry
    return fields


def _terminal(serial: str, state: Document, license_id: str | None) -> Terminal:
    return Terminal(serial=serial, license_id=license_id, **{k: v for k, v in state.items() if k != "license_id"})
