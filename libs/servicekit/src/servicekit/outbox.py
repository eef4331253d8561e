"""Transactional outbox without multi-document transactions.

FerretDB 1.x has none, so the pending events live inside the aggregate's own document and are
written by the same single-document update as the state change (`with_outbox`). A relay then
publishes each pending event and removes it. A crash after the state write leaves the event
pending; a crash after the publish and before the removal publishes it again with the same id,
which consumers deduplicate. So every event goes out, and is applied once.

The same way, audit records ("who did what, before/after") ride in the document's outbox and
the relay copies them into the service's `audit` collection: the record of a change cannot be
lost when the change was stored.

Document shape: `_outbox: {<id>: <envelope as JSON-compatible dict> | <audit entry>}` plus
`_outbox_pending: true|false`, a flag the relay finds documents by. An event also keeps the
trace context of the request that caused it (`_trace`, W3C `traceparent`): the relay sends it
later, from another task, as a child of that request, so one trace runs from the front-end's
call through Kafka to the consumers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Tracer
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts import EventEnvelope, decode_envelope
from servicekit.audit import AUDIT_COLLECTION, AUDIT_KIND, AuditEntry
from servicekit.mongo import Document, DocumentLocks, IndexSpec
from servicekit.publishing import EventPublisher

log = logging.getLogger(__name__)

OUTBOX_FIELD = "_outbox"
PENDING_FIELD = "_outbox_pending"
TRACE_FIELD = "_trace"


Pending = EventEnvelope[Any] | AuditEntry


def _pending_items(items: Iterable[Pending]) -> dict[str, dict[str, Any]]:
    trace_context: dict[str, str] = {}
    propagate.inject(trace_context)  # the current request's span, if any
    stored = {}
    for item in items:
        raw = item.model_dump(mode="json")
        if isinstance(item, EventEnvelope) and trace_context:
            raw[TRACE_FIELD] = trace_context
        stored[str(item.id)] = raw
    return stored


def with_outbox(update: Mapping[str, Any], events: Iterable[Pending]) -> dict[str, Any]:
    """Add `events` (and audit entries) to a MongoDB update document so they are stored atomically with it.

    `update` is an update document (`{"$set": {...}, ...}`); the result must be passed to a
    single `update_one`/`find_one_and_update` on the aggregate's document.
    """
    merged = {op: dict(fields) for op, fields in update.items()}
    pending = {f"{OUTBOX_FIELD}.{key}": value for key, value in _pending_items(events).items()}
    if pending:
        merged.setdefault("$set", {}).update({**pending, PENDING_FIELD: True})
    return merged


def new_document_with_outbox(document: Mapping[str, Any], events: Iterable[Pending]) -> Document:
    """An aggregate's first document, created together with its first events (and audit entries)."""
    outbox = _pending_items(events)
    return {**document, OUTBOX_FIELD: outbox, PENDING_FIELD: bool(outbox)}


def outbox_indexes(collections: Iterable[str]) -> list[IndexSpec]:
    """The pending flag of each aggregate collection, and the audit trail by partner and target."""
    return [
        *(IndexSpec(name, [(PENDING_FIELD, 1)], name="outbox_pending") for name in collections),
        IndexSpec(AUDIT_COLLECTION, [("partner_id", 1), ("target_id", 1), ("at", -1)], name="partner_target_at"),
    ]


class OutboxRelay:
    """Publishes pending events of the given collections until stopped.

    A write of this process names its document (`notify(collection, id)`) and the relay handles
    exactly that document at once: one look-up by `_id`. A full scan of the collections for the
    pending flag runs at start and every `scan_seconds`, for what a crash or another process
    left behind; on FerretDB a scan reads every document, so it is the exception, not the rule.
    Several processes may relay at once (an event may go out twice, which consumers tolerate;
    none is lost).
    """

    def __init__(
        self,
        db: AsyncDatabase[Document],
        collections: Sequence[str],
        publisher: EventPublisher,
        *,
        scan_seconds: float = 10.0,
        batch_size: int = 100,
        locks: DocumentLocks | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self._db = db
        self._collections = list(collections)
        self._publisher = publisher
        self._audit = db[AUDIT_COLLECTION]
        self._scan_seconds = scan_seconds
        self._batch_size = batch_size
        self._locks = locks or DocumentLocks()
        self._tracer = tracer or trace.get_tracer(__name__)
        self._wakeup = asyncio.Event()
        self._written: set[tuple[str, Any]] = set()
        self._scan_due = True  # a full scan at start picks up whatever a crash left
        self.published = 0
        self.pending_at_last_scan = 0

    def notify(self, collection: str | None = None, document_id: Any = None) -> None:
        """A document was written with events: relay it now (no id: run a full scan now)."""
        if collection is not None and document_id is not None:
            self._written.add((collection, document_id))
        else:
            self._scan_due = True
        self._wakeup.set()

    def backlog(self) -> dict[str, int]:
        return {"queued_documents": len(self._written), "pending_at_last_scan": self.pending_at_last_scan}

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        next_scan = loop.time()
        while True:
            busy = 0
            try:
                if self._written:
                    busy = await self.relay_written()
                elif self._scan_due or loop.time() >= next_scan:
                    self._scan_due = False
                    busy = await self.relay_once()
                    next_scan = loop.time() + self._scan_seconds
            except asyncio.CancelledError:
                raise
            except Exception:  # the store or the broker is down: keep trying, never die
                log.exception("outbox relay pass failed; retrying")
                self._scan_due = True
                await asyncio.sleep(1.0)
                continue
            if busy or self._written:
                continue
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), max(0.0, next_scan - loop.time()))

    async def relay_written(self) -> int:
        """Relay the documents this process reported as written."""
        count = 0
        while self._written:
            name, document_id = self._written.pop()
            document = await self._db[name].find_one({"_id": document_id}, {OUTBOX_FIELD: 1, PENDING_FIELD: 1})
            if document is not None and document.get(PENDING_FIELD):
                count += await self._relay_document(name, document)
        self.published += count
        return count

    async def relay_once(self) -> int:
        """One full pass over every collection; returns how many events it published."""
        count = pending = 0
        for name in self._collections:
            cursor = self._db[name].find({PENDING_FIELD: True}, {OUTBOX_FIELD: 1}).limit(self._batch_size)
            async for document in cursor:
                pending += 1
                count += await self._relay_document(name, document)
        self.pending_at_last_scan = pending
        self.published += count
        return count

    async def _relay_document(self, name: str, document: Document) -> int:
        collection = self._db[name]
        count = 0
        pending: dict[str, Any] = document.get(OUTBOX_FIELD) or {}
        for key, raw in pending.items():  # in write order
            if raw.get("kind") == AUDIT_KIND:
                with contextlib.suppress(DuplicateKeyError):  # copied before a crash: same record
                    await self._audit.insert_one({**raw, "_id": key, "at": _parse_time(raw["at"])})
            else:
                event = decode_envelope_dict(raw)
                parent = propagate.extract(raw.get(TRACE_FIELD) or {})
                with self._tracer.start_as_current_span(
                    f"{event.type} send",
                    context=parent,
                    kind=SpanKind.PRODUCER,
                    attributes={"messaging.system": "kafka", "messaging.message.id": str(event.id)},
                ):
                    await self._publisher.publish(event)
                count += 1
            async with self._locks.lock(name, document["_id"]):
                await collection.update_one(
                    {"_id": document["_id"], f"{OUTBOX_FIELD}.{key}": {"$exists": True}},
                    {"$unset": {f"{OUTBOX_FIELD}.{key}": ""}},
                )
        # Lower the flag only if no event was added meanwhile (the filter sees an empty map).
        async with self._locks.lock(name, document["_id"]):
            await collection.update_one({"_id": document["_id"], OUTBOX_FIELD: {}}, {"$set": {PENDING_FIELD: False}})
        return count


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def decode_envelope_dict(raw: Mapping[str, Any]) -> EventEnvelope[Any]:
    return decode_envelope(json.dumps({k: v for k, v in raw.items() if k != TRACE_FIELD}).encode())
