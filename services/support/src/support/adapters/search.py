"""The message search index: one small document per (partner, token, message), keyed for an
equality lookup (FerretDB 1.x pushes down only equality filters; valid on MongoDB as well).

    {_id: "<partner>|<token>|<message id>", k: "<partner>|<token>", m: <message id>,
     th: <thread id>, c: <company id>, at: <posted at>}

A search looks up its longest asked token (the likeliest rare one) under `k`, newest first, and
verifies the other tokens against the messages' own text, in batches, until a page is full.
Messages are written with `indexed: false` and indexed by the same request; a crash between the
two leaves the flag set, and `reindex_pending` (a job) indexes them then. Indexing is idempotent
(the entries' ids are deterministic), so a retry or a second job run changes nothing.
"""

from __future__ import annotations

from typing import Any

from pymongo import InsertOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from servicekit.mongo import Document, IndexSpec
from servicekit.pagination import Page, decode_cursor, encode_cursor
from support.adapters.mongo import MESSAGES, THREADS, message_of
from support.domain import search as words
from support.domain.model import Message
from support.service_layer.ports import Found, SearchQuery

SEARCH_INDEX = "message_words"
INDEXES = [
    IndexSpec(SEARCH_INDEX, [("k", 1), ("at", -1)], name="token_recent"),
    IndexSpec(MESSAGES, [("indexed", 1)], name="unindexed"),
]
BATCH = 200
MAX_ROUNDS = 10
"""At most this many batches of candidates are verified per page (a page may then come back
short, with a cursor to go on)."""


def entry_id(partner_id: str, token: str, message_id: str) -> str:
    return f"{partner_id}|{token}|{message_id}"


def searchable_text(message: Message) -> str:
    """What a message is found by: its text (a note in either language) and attachment names."""
    parts = [message.body]
    if message.note is not None:
        parts += [message.text(language) for language in ("es", "en")]
    parts += [a.filename for a in message.attachments]
    return "\n".join(parts)


class MongoSearchIndex:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._entries = db[SEARCH_INDEX]
        self._messages = db[MESSAGES]
        self._threads = db[THREADS]
        self._backfilled = False

    async def index(self, messages: list[Message]) -> None:
        entries = [
            {
                "_id": entry_id(m.partner_id, token, m.id),
                "k": f"{m.partner_id}|{token}",
                "m": m.id,
                "th": m.thread_id,
                "c": m.company_id,
                "at": m.created_at,
            }
            for m in messages
            for token in sorted(words.tokens(searchable_text(m)))
        ]
        if entries:
            try:
                await self._entries.bulk_write([InsertOne(e) for e in entries], ordered=False)
            except BulkWriteError as exc:
                # Entries stored by an earlier attempt are the same entries: only those may fail.
                if any(error.get("code") != 11000 for error in exc.details.get("writeErrors", [])):
                    raise
        ids = [m.id for m in messages]
        for message_id in ids:
            await self._messages.update_one({"_id": message_id, "indexed": False}, {"$set": {"indexed": True}})

    async def reindex_pending(self, limit: int = 500) -> int:
        pending = [message_of(d) async for d in self._messages.find({"indexed": False}).limit(limit)]
        if not self._backfilled:
            # Messages stored before the index have no flag: taken once, by the first run.
            older = [message_of(d) async for d in self._messages.find({"indexed": {"$exists": False}}).limit(limit)]
            self._backfilled = len(older) < limit
            for message in older:
                await self._messages.update_one({"_id": message.id}, {"$set": {"indexed": False}})
            pending += older
        if pending:
            await self.index(pending)
        return len(pending)

    async def search(self, query: SearchQuery) -> Page[Found]:
        if not query.tokens or not query.partner_ids:
            return Page([], None)
        lead = max(query.tokens, key=len)
        rest = [t for t in query.tokens if t != lead]
        keys = [f"{p}|{lead}" for p in query.partner_ids]
        base: dict[str, Any] = {"k": keys[0]} if len(keys) == 1 else {"k": {"$in": keys}}
        if query.company_id:
            base["c"] = query.company_id
        if query.since or query.until:
            base["at"] = {
                **({"$gte": query.since} if query.since else {}),
                **({"$lt": query.until} if query.until else {}),
            }
        after = decode_cursor(query.cursor) if query.cursor else None
        hits: list[Document] = []
        last: Document | None = None
        exhausted = False
        batch: list[Document] = []
        for _ in range(MAX_ROUNDS):
            match: dict[str, Any] = dict(base)
            if after is not None:
                at, entry_key = after
                match = {"$and": [base, {"$or": [{"at": {"$lt": at}}, {"at": at, "_id": {"$lt": entry_key}}]}]}
            batch = [d async for d in self._entries.find(match).sort([("at", -1), ("_id", -1)]).limit(BATCH)]
            if len(batch) < BATCH:
                exhausted = True
            stored = (
                {d["_id"]: d async for d in self._messages.find({"_id": {"$in": [e["m"] for e in batch]}})}
                if batch
                else {}
            )
            for entry in batch:
                last = entry
                document = stored.get(entry["m"])
                if document is not None and (not rest or words.matches(searchable_text(message_of(document)), rest)):
                    hits.append(document)
                    if len(hits) == query.limit:
                        break
            if len(hits) == query.limit or exhausted or last is None:
                break
            after = (last["at"], last["_id"])
        if len(hits) == query.limit and last is not None:
            more = not exhausted or last is not batch[-1]
        else:
            more = not exhausted and last is not None
        next_cursor = encode_cursor(last["at"], str(last["_id"])) if more and last is not None else None
        names = await self._company_names({d["thread_id"] for d in hits})
        return Page([Found(message_of(d), names.get(d["thread_id"])) for d in hits], next_cursor)

    async def _company_names(self, thread_ids: set[str]) -> dict[str, str | None]:
        if not thread_ids:
            return {}
        cursor = self._threads.find({"_id": {"$in": sorted(thread_ids)}}, {"company_name": 1})
        return {d["_id"]: d.get("company_name") async for d in cursor}
