"""Remote actions in MongoDB, shaped for equality filters (FerretDB 1.x pushes down no other).

`remote_actions`: one document per action, `_id` = the action id (the requesting event's id, and
the serial for an instance-wide clear), so a redelivered event inserts nothing. Queries filter by
equality on `partner_id` + `serial`, or `partner_id` + `instance_id` (+ `state`), newest request
first; the overdue ones add `requested_at < cutoff`. `remote_actions_open`: a copy of the actions
still waiting for their terminal, removed once applied, so each telemetry batch reads only that
small collection (one query, by the batch's serials), and so does a search for requested or
delivered ones (the instance view's overdue flag): on FerretDB, which reads a collection whole
for any filter but `_id`, those reads stay as small as what is pending, not all history.
An impersonation's `_id` is its grant id, so the panel's events find it by `_id`.
`remote_action_sightings`: per grant id (`_id`), the panel's events that named a grant before its
request arrived, read once by `_id` when it does and then dropped; those whose request never comes
are dropped by the retention job (`first_at`, a range scan of this small collection).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from activity.domain.remote_actions import ActionKind, ActionState, Observed, RemoteAction
from activity.service_layer.remote_actions import ActionSearch
from servicekit.mongo import Document, IndexSpec
from servicekit.pagination import Page, Sort, after_cursor, encode_cursor

ACTIONS = "remote_actions"
OPEN_ACTIONS = "remote_actions_open"
SIGHTINGS = "remote_action_sightings"
DUPLICATE_KEY = 11000
NEWEST_REQUEST_FIRST = Sort("requested_at", descending=True)

REMOTE_ACTION_INDEXES: list[IndexSpec] = [
    IndexSpec(ACTIONS, [("partner_id", 1), ("serial", 1), ("requested_at", -1)], name="partner_serial_time"),
    IndexSpec(
        ACTIONS,
        [("partner_id", 1), ("instance_id", 1), ("state", 1), ("requested_at", -1)],
        name="partner_instance_state_time",
    ),
    IndexSpec(OPEN_ACTIONS, [("serial", 1)], name="serial"),
    IndexSpec(
        OPEN_ACTIONS,
        [("partner_id", 1), ("instance_id", 1), ("state", 1), ("requested_at", -1)],
        name="partner_instance_state_time",
    ),
]


class MongoRemoteActionStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    async def add(self, actions: list[RemoteAction]) -> list[RemoteAction]:
        if not actions:
            return []
        stored = await self._insert(ACTIONS, [_document(a) for a in actions])
        new = [a for a in actions if a.id in stored]
        waiting = [_document(a) for a in new if a.open]
        if waiting:
            await self._insert(OPEN_ACTIONS, waiting)
        return new

    async def _insert(self, collection: str, documents: list[Document]) -> set[str]:
        """Insert each document once; the ids inserted now."""
        ids = {str(d["_id"]) for d in documents}
        try:
            await self._db[collection].insert_many(documents, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            ids -= {str(documents[e["index"]]["_id"]) for e in errors}
        return ids

    async def open_for(self, serials: set[str]) -> list[RemoteAction]:
        if not serials:
            return []
        found = self._db[OPEN_ACTIONS].find({"serial": {"$in": sorted(serials)}})
        return [_action(d) async for d in found]

    async def open_by_id(self, ids: set[str]) -> list[RemoteAction]:
        if not ids:
            return []
        found = self._db[OPEN_ACTIONS].find({"_id": {"$in": sorted(ids)}})
        return [_action(d) async for d in found]

    async def sighted(self, sightings: dict[str, list[Observed]]) -> None:
        now = datetime.now(UTC)
        changes = [
            UpdateOne(
                {"_id": grant_id},
                {
                    "$push": {"events": {"$each": [_observed_document(e) for e in events]}},
                    "$setOnInsert": {"first_at": now},
                },
                upsert=True,
            )
            for grant_id, events in sightings.items()
            if events
        ]
        if changes:
            await self._db[SIGHTINGS].bulk_write(changes, ordered=False)

    async def sightings(self, grant_id: str) -> list[Observed]:
        found = await self._db[SIGHTINGS].find_one({"_id": grant_id})
        return [_observed(e) for e in (found or {}).get("events", [])]

    async def forget_sightings(self, grant_id: str) -> None:
        await self._db[SIGHTINGS].delete_one({"_id": grant_id})

    async def prune_sightings(self, before: datetime) -> int:
        # Kept before `first_at` existed: none of those can be younger than the oldest kept since.
        old = {"$or": [{"first_at": {"$lt": before}}, {"first_at": {"$exists": False}}]}
        return (await self._db[SIGHTINGS].delete_many(old)).deleted_count

    async def progress(self, actions: list[RemoteAction]) -> None:
        if not actions:
            return
        changes = [
            UpdateOne(
                {"_id": a.id},
                {"$set": {"delivered_at": a.delivered_at, "applied_at": a.applied_at, "state": a.state.value}},
            )
            for a in actions
        ]
        await self._db[ACTIONS].bulk_write(changes, ordered=False)
        done = [a.id for a in actions if not a.open]
        still = [
            UpdateOne({"_id": a.id}, {"$set": {"delivered_at": a.delivered_at, "state": a.state.value}})
            for a in actions
            if a.open
        ]
        if still:
            await self._db[OPEN_ACTIONS].bulk_write(still, ordered=False)
        if done:
            await self._db[OPEN_ACTIONS].delete_many({"_id": {"$in": done}})

    async def search(self, asked: ActionSearch) -> Page[RemoteAction]:
        match: dict[str, Any] = {"partner_id": asked.partner_id}
        if asked.serial is not None:
            match["serial"] = asked.serial
        if asked.instance_id is not None:
            match["instance_id"] = asked.instance_id
        if asked.state is not None:
            match["state"] = asked.state.value
        if asked.requested_before is not None:
            match["requested_at"] = {"$lt": asked.requested_before}
        keyset = after_cursor(NEWEST_REQUEST_FIRST, asked.cursor)
        condition = {"$and": [match, keyset]} if keyset else match
        pending = asked.state in (ActionState.REQUESTED, ActionState.DELIVERED)
        cursor = (
            self._db[OPEN_ACTIONS if pending else ACTIONS]
            .find(condition)
            .sort(NEWEST_REQUEST_FIRST.mongo_sort())
            .limit(asked.limit + 1)
        )
        found = [_action(d) async for d in cursor]
        page = found[: asked.limit]
        next_cursor = encode_cursor(page[-1].requested_at, page[-1].id) if len(found) > asked.limit else None
        if pending and page:
            # The open copy is written after the action itself: answer what the action says (one
            # more read, by `_id`), so one moved on a moment ago is not shown as still pending.
            current = {
                str(d["_id"]): _action(d) async for d in self._db[ACTIONS].find({"_id": {"$in": [a.id for a in page]}})
            }
            page = [current.get(a.id, a) for a in page]
            page = [a for a in page if a.state == asked.state]
        return Page(page, next_cursor)


def _document(action: RemoteAction) -> Document:
    return {
        "_id": action.id,
        "kind": action.kind.value,
        "partner_id": action.partner_id,
        "instance_id": action.instance_id,
        "serial": action.serial,
        "license_id": action.license_id,
        "pin": action.pin,
        "session_epoch": action.session_epoch,
        "requested_at": action.requested_at,
        "requested_by": action.requested_by,
        "delivered_at": action.delivered_at,
        "applied_at": action.applied_at,
        "state": action.state.value,
        "expires_at": action.expires_at,
    }


def _observed_document(event: Observed) -> Document:
    return {
        "serial": event.serial,
        "partner_id": event.partner_id,
        "instance_id": event.instance_id,
        "action": event.action,
        "pin": event.pin,
        "occurred_at": event.occurred_at,
        "received_at": event.received_at,
        "session_epoch": event.session_epoch,
        "grant_id": event.grant_id,
    }


def _observed(document: Document) -> Observed:
    return Observed(
        serial=document["serial"],
        partner_id=document["partner_id"],
        action=document["action"],
        pin=document.get("pin"),
        occurred_at=_aware(document["occurred_at"]),
        received_at=_aware(document["received_at"]),
        session_epoch=document.get("session_epoch"),
        instance_id=document.get("instance_id"),
        grant_id=document.get("grant_id"),
    )


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _action(document: Document) -> RemoteAction:
    requested_at = document["requested_at"]
    return RemoteAction(
        id=str(document["_id"]),
        kind=ActionKind(document["kind"]),
        partner_id=document["partner_id"],
        instance_id=document["instance_id"],
        serial=document.get("serial"),
        requested_at=requested_at.replace(tzinfo=UTC) if requested_at.tzinfo is None else requested_at,
        requested_by=document.get("requested_by"),
        license_id=document.get("license_id"),
        pin=document.get("pin"),
        session_epoch=document.get("session_epoch"),
        delivered_at=_utc(document.get("delivered_at")),
        applied_at=_utc(document.get("applied_at")),
        expires_at=_utc(document.get("expires_at")),
    )
