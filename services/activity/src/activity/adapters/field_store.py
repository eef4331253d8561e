"""Storage of the working-time record and the reads of a terminal's positions, shaped for
equality look-ups (FerretDB filters nothing but equality, and slowly: see `mongo_repository`).

The working-time record: the consumer keeps each worker's clock events (clock-in/out, break
start/end) of a UTC month in one document, `_id` = `<partner>~<instance>~<pin>`, in the collection
`wt_events_YYYYMM_SS` (the UTC month of the terminal's time; SS one of 16 shards by instance and PIN,
so every collection stays small). Each event is the field `e.<event id>` (the envelope id: instance
and the terminal's event id), so a redelivered batch sets the same field again and is never counted
twice. A month in any time zone is then at most three `_id` look-ups (the UTC months around it: a
night shift's clock-out may lie in the next one). The writes of a batch are one bulk write per
collection.

Corrections: `wt_corrections_YYYYMM` (the month of the corrected date), same `_id`, each one the field
`d.<YYYY-MM-DD>.<correction id>` (who, when, why, the new start, end and pauses): added beside the
terminal's events, which are never changed. Workers (`wt_workers_SS`): who clocks with a PIN in an
instance, named from `license.added`; a worker not there is not the partner's (404).

Retention: whole months are dropped, never before `Settings.working_time_retention_days` (four years
and a day at least: the record must be kept four years even where telemetry is kept less).

Positions are not copied: a terminal's points of a day are its records with a location, read from the
day-and-shard record collections by equality on (partner, serial) with only the fields a point needs.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from activity.adapters.mongo_repository import collection_name
from activity.domain.model import ActivityRecord, RecordKind, days_between, shard_of
from activity.domain.working_time import CLOCK_ACTIONS, ClockEvent, Correction, Span
from activity.service_layer.field_ports import PositionPoint, StoredCorrection, Worker, location_of
from servicekit.concurrency import together
from servicekit.mongo import Document

EVENTS_PREFIX = "wt_events_"
CORRECTIONS_PREFIX = "wt_corrections_"
WORKERS_PREFIX = "wt_workers_"
WT_SHARDS = 16


def worker_key(partner_id: str, instance_id: str, pin: str) -> str:
    return f"{partner_id}~{instance_id}~{pin}"


def wt_shard(instance_id: str, pin: str) -> int:
    return zlib.crc32(f"{instance_id}~{pin}".encode()) % WT_SHARDS


def events_collection(utc_month: str, instance_id: str, pin: str) -> str:
    return f"{EVENTS_PREFIX}{utc_month}_{wt_shard(instance_id, pin):02d}"


def utc_month_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m")


class MongoFieldStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db
        self._known_workers: set[str] = set()

    # ------------------------------------------------------------------- working time

    async def add_clock_events(self, records: list[ActivityRecord]) -> int:
        by_collection: dict[str, dict[str, dict[str, Any]]] = {}
        workers: dict[str, Worker] = {}
        count = 0
        for record in records:
            if record.kind != RecordKind.TELEMETRY or record.action not in CLOCK_ACTIONS or not record.pin:
                continue
            count += 1
            key = worker_key(record.partner_id, record.instance_id, record.pin)
            workers.setdefault(key, Worker(record.partner_id, record.instance_id, record.pin, None))
            name = events_collection(utc_month_of(record.occurred_at), record.instance_id, record.pin)
            fields = by_collection.setdefault(name, {}).setdefault(key, {})
            fields[f"e.{record.event_id}"] = {
                "a": record.action,
                "t": record.occurred_at,
                "r": record.received_at,
                "id": record.id,
                "s": record.serial,
            }
        for name, documents in sorted(by_collection.items()):
            await self._bulk(
                name,
                [
                    UpdateOne(
                        {"_id": key},
                        {"$set": fields, "$setOnInsert": _worker_fields(workers[key])},
                        upsert=True,
                    )
                    for key, fields in documents.items()
                ],
            )
        await self._remember(w for k, w in workers.items() if k not in self._known_workers)
        return count

    async def _bulk(self, name: str, updates: list[UpdateOne]) -> None:
        """Upserts; two consumers inserting the same worker's document at once: the loser retries."""
        for attempt in range(3):
            try:
                await self._db[name].bulk_write(updates, ordered=False)
                return
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                if attempt == 2 or any(e.get("code") != 11000 for e in errors):
                    raise

    async def _remember(self, workers: Iterable[Worker]) -> None:
        for worker in workers:
            key = worker_key(worker.partner_id, worker.instance_id, worker.pin)
            with contextlib.suppress(DuplicateKeyError):  # inserted meanwhile by another consumer
                await self._db[_workers(worker)].update_one(
                    {"_id": key}, {"$setOnInsert": _worker_fields(worker)}, upsert=True
                )
            self._known_workers.add(key)

    async def name_worker(self, partner_id: str, instance_id: str, pin: str, user_name: str) -> None:
        worker = Worker(partner_id, instance_id, pin, user_name)
        key = worker_key(partner_id, instance_id, pin)
        try:
            await self._db[_workers(worker)].update_one(
                {"_id": key},
                {"$set": {"user_name": user_name}, "$setOnInsert": _worker_fields(worker, name=False)},
                upsert=True,
            )
        except DuplicateKeyError:
            await self._db[_workers(worker)].update_one({"_id": key}, {"$set": {"user_name": user_name}})
        self._known_workers.add(key)

    async def worker(self, partner_id: str, instance_id: str, pin: str) -> Worker | None:
        probe = Worker(partner_id, instance_id, pin, None)
        document = await self._db[_workers(probe)].find_one({"_id": worker_key(partner_id, instance_id, pin)})
        if document is None or document.get("partner_id") != partner_id:
            return None
        return Worker(partner_id, instance_id, pin, document.get("user_name"))

    async def clock_events(self, worker: Worker, utc_months: list[str]) -> list[ClockEvent]:
        key = worker_key(worker.partner_id, worker.instance_id, worker.pin)
        shard = wt_shard(worker.instance_id, worker.pin)
        # The months' documents at once: one round trip's time instead of one per month.
        documents = await together(
            *(self._db[f"{EVENTS_PREFIX}{month}_{shard:02d}"].find_one({"_id": key}) for month in utc_months)
        )
        events = []
        for document in documents:
            for event_id, e in ((document or {}).get("e") or {}).items():
                events.append(ClockEvent(event_id, e["a"], _aware(e["t"]), _aware(e["r"]), e.get("id")))
        return events

    async def corrections(self, worker: Worker, month: str) -> dict[date, list[StoredCorrection]]:
        key = worker_key(worker.partner_id, worker.instance_id, worker.pin)
        document = await self._db[_corrections(month)].find_one({"_id": key}) or {}
        out: dict[date, list[StoredCorrection]] = {}
        for day, stored in (document.get("d") or {}).items():
            items = [_correction(date.fromisoformat(day), cid, c) for cid, c in stored.items()]
            out[date.fromisoformat(day)] = sorted(items, key=lambda s: (s.correction.corrected_at, s.correction_id))
        return out

    async def add_correction(self, worker: Worker, stored: StoredCorrection) -> StoredCorrection:
        c = stored.correction
        month = c.day.strftime("%Y-%m")
        key = worker_key(worker.partner_id, worker.instance_id, worker.pin)
        existing = (await self.corrections(worker, month)).get(c.day, [])
        for already in existing:
            if already.correction_id == stored.correction_id:
                return already  # a retry: stored once
        path = f"d.{c.day.isoformat()}.{stored.correction_id}"
        document = {
            "start": c.start,
            "end": c.end,
            "pauses": [{"start": p.start, "end": p.end} for p in c.pauses],
            "reason": c.reason,
            "by": c.corrected_by,
            "at": c.corrected_at,
        }
        update = {"$set": {path: document}, "$setOnInsert": _worker_fields(worker, name=False)}
        try:
            await self._db[_corrections(month)].update_one({"_id": key}, update, upsert=True)
        except DuplicateKeyError:
            await self._db[_corrections(month)].update_one({"_id": key}, {"$set": {path: document}})
        return stored

    async def drop_months_before(self, month: str) -> int:
        """Drop the event and correction collections of the UTC months before `month` (`YYYYMM`)."""
        dropped = 0
        for name in await self._db.list_collection_names():
            for prefix in (EVENTS_PREFIX, CORRECTIONS_PREFIX):
                if name.startswith(prefix) and name[len(prefix) : len(prefix) + 6] < month:
                    await self._db.drop_collection(name)
                    dropped += 1
        return dropped

    # ----------------------------------------------------------------------- positions

    async def positions(self, partner_id: str, serial: str, start: datetime, end: datetime) -> list[PositionPoint]:
        shard = shard_of(serial)
        points = []
        fields = {"occurred_at": 1, "received_at": 1, "location": 1, "action": 1}
        for day in sorted(days_between(start, end)):
            cursor = self._db[collection_name(day, shard)].find({"partner_id": partner_id, "serial": serial}, fields)
            async for d in cursor:
                where = location_of(d.get("location"))
                at = _aware(d["occurred_at"])
                if where is None or not start <= at < end:
                    continue
                record_id = f"{day}~{shard:02d}~{d['_id']}"
                points.append(PositionPoint(record_id, at, _aware(d["received_at"]), *where, d["action"]))
        points.sort(key=lambda p: (p.occurred_at, p.record_id))
        return points


def _workers(worker: Worker) -> str:
    return f"{WORKERS_PREFIX}{wt_shard(worker.instance_id, worker.pin):02d}"


def _corrections(month: str) -> str:
    return f"{CORRECTIONS_PREFIX}{month.replace('-', '')}"


def _worker_fields(worker: Worker, *, name: bool = True) -> Document:
    fields: Document = {"partner_id": worker.partner_id, "instance_id": worker.instance_id, "pin": worker.pin}
    if name:
        fields["user_name"] = worker.user_name
    return fields


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _correction(day: date, correction_id: str, c: Document) -> StoredCorrection:
    pauses = tuple(Span(_aware(p["start"]), _aware(p["end"])) for p in c.get("pauses") or [])
    end = _aware(c["end"]) if c.get("end") else None
    return StoredCorrection(
        correction_id,
        Correction(day, _aware(c["start"]), end, pauses, c["reason"], c["by"], _aware(c["at"])),
    )
