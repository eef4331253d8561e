"""The message search index: one small document per (partner, token, message), keyed for an
equality lookup (FerretDB 1.x pushes down only equality filters; valid on MongoDB as well).

    {_id: "<scope>|<token>|<message id>", k: "<scope>|<token>", p: <partner>, m: <message id>,
     th: <thread id>, c: <company id>, at: <posted at>}

Each word is written twice: under its partner (a partner's search) and under `*` (staff, who see
several partners: kept to theirs by `p`). A search looks up its longest asked token (the likeliest
rare one) under `k`, newest first, in batches, keeps the messages that the other tokens' posting
lists name too (`k` equality again, `m` among the batch's), until a page is full; then reads the
page's messages and companies by `_id`.
Messages are written with `indexed: false` and indexed by the same request; a crash between the
two leaves the flag set, and `reindex_pending` (a job) indexes them then. Indexing is idempotent
(the entries' ids are deterministic), so a retry or a second job run changes nothing.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections import defaultdict
from typing import Any

from pymongo import InsertOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from servicekit.mongo import Document, DocumentLocks, IndexSpec
from servicekit.pagination import Page, decode_cursor, encode_cursor
from support.adapters.mongo import MESSAGES, THREADS, message_of
from support.domain import search as words
from support.domain.model import Message
from support.service_layer.ports import Found, SearchQuery

SEARCH_INDEX = "message_words"
SHARDS = 64
"""The entries are spread over this many collections by their `k`: FerretDB 1.x answers an
equality on a field by scanning the collection (pushed down to the backend, but not through an
index), so a lookup reads one shard's entries, not all of them."""
ALL_PARTNERS = "*"
NAME_SECONDS = 60.0
NAME_CACHE_SIZE = 10_000
"""The scope of the entries staff search with (every partner's messages, each entry naming its partner)."""


def shard_name(key: str) -> str:
    """The collection holding the entries of `key` (`<scope>|<token>`)."""
    return f"{SEARCH_INDEX}_{zlib.crc32(key.encode()) % SHARDS:02d}"


INDEXES = [
    *(IndexSpec(f"{SEARCH_INDEX}_{n:02d}", [("k", 1), ("at", -1)], name="token_recent") for n in range(SHARDS)),
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
    def __init__(self, db: AsyncDatabase[Document], locks: DocumentLocks | None = None) -> None:
        self._db = db
        self._locks = locks or DocumentLocks()  # shared with the outbox relay, which updates messages too
        self._messages = db[MESSAGES]
        self._threads = db[THREADS]
        self._backfilled = False
        self._names: dict[str, tuple[float, str | None]] = {}

    async def index(self, messages: list[Message]) -> None:
        entries: list[dict[str, Any]] = [
            {
                "_id": entry_id(scope, token, m.id),
                "k": f"{scope}|{token}",
                "p": m.partner_id,
                "m": m.id,
                "th": m.thread_id,
                "c": m.company_id,
                "at": m.created_at,
            }
            for m in messages
            for token in sorted(words.tokens(searchable_text(m)))
            for scope in (m.partner_id, ALL_PARTNERS)
        ]
        by_shard: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for entry in entries:
            by_shard[shard_name(str(entry["k"]))].append(entry)
        await asyncio.gather(*(self._insert(shard, batch) for shard, batch in by_shard.items()))
        for message in messages:
            async with self._locks.lock(MESSAGES, message.id):
                await self._messages.update_one({"_id": message.id, "indexed": False}, {"$set": {"indexed": True}})

    async def _company_names(self, thread_ids: list[str]) -> dict[str, str | None]:
        """The threads' company names, kept NAME_SECONDS in memory (a rename shows within that)."""
        now = time.monotonic()
        missing = [t for t in thread_ids if not _fresh(self._names.get(t), now)]
        read = await asyncio.gather(*(self._threads.find_one({"_id": t}, {"company_name": 1}) for t in missing))
        for thread_id, document in zip(missing, read, strict=True):
            self._names[thread_id] = (now, (document or {}).get("company_name"))
        if len(self._names) > NAME_CACHE_SIZE:
            self._names = {t: v for t, v in self._names.items() if _fresh(v, now)}
        return {t: self._names[t][1] for t in thread_ids}

    async def _insert(self, shard: str, entries: list[dict[str, Any]]) -> None:
        try:
            await self._db[shard].bulk_write([InsertOne(e) for e in entries], ordered=False)
        except BulkWriteError as exc:
            # Entries stored by an earlier attempt are the same entries: only those may fail.
            if any(error.get("code") != 11000 for error in exc.details.get("writeErrors", [])):
                raise

    async def reindex_pending(self, limit: int = 500) -> int:
        pending = [message_of(d) async for d in self._messages.find({"indexed": False}).limit(limit)]
        if not self._backfilled:
            # Messages stored before the index have no flag: taken once, by the first run.
            older = [message_of(d) async for d in self._messages.find({"indexed": {"$exists": False}}).limit(limit)]
            self._backfilled = len(older) < limit
            for message in older:
                async with self._locks.lock(MESSAGES, message.id):
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
        scope, base = _lookup(query, lead)
        after = decode_cursor(query.cursor) if query.cursor else None
        hits: list[Document] = []
        last: Document | None = None
        exhausted = False
        for _ in range(MAX_ROUNDS):
            match: dict[str, Any] = dict(base)
            if after is not None:
                at, entry_key = after
                match["$or"] = [{"at": {"$lt": at}}, {"at": at, "_id": {"$lt": entry_key}}]
            entries = self._db[shard_name(base["k"])]
            batch = [d async for d in entries.find(match).sort([("at", -1), ("_id", -1)]).limit(BATCH)]
            exhausted = len(batch) < BATCH
            having = {e["m"] for e in batch}
            for token in rest:  # each other word: its posting list, kept to this batch's messages
                if not having:
                    break
                key = f"{scope}|{token}"
                found = self._db[shard_name(key)].find({"k": key, "m": {"$in": sorted(having)}}, {"m": 1})
                having &= {d["m"] async for d in found}
            stopped_at = len(batch)
            for position, entry in enumerate(batch):
                if entry["m"] in having:
                    hits.append(entry)
                    if len(hits) == query.limit:
                        stopped_at = position + 1
                        break
            if batch:
                last = batch[stopped_at - 1]
            if len(hits) == query.limit:
                exhausted = exhausted and stopped_at == len(batch)
                break
            if exhausted or not batch:
                break
            after = (last["at"], last["_id"]) if last else None
        next_cursor = encode_cursor(last["at"], str(last["_id"])) if last is not None and not exhausted else None
        # The page's messages and companies by `_id`, each an equality lookup (an `$in` is not
        # pushed down by FerretDB 1.x), at most `limit` of each, at once.
        messages = await asyncio.gather(*(self._messages.find_one({"_id": e["m"]}) for e in hits))
        names = await self._company_names(sorted({e["th"] for e in hits}))
        return Page([Found(message_of(d), names.get(d["thread_id"])) for d in messages if d is not None], next_cursor)


def _fresh(cached: tuple[float, str | None] | None, now: float) -> bool:
    return cached is not None and now - cached[0] < NAME_SECONDS


def _lookup(query: SearchQuery, lead: str) -> tuple[str, dict[str, Any]]:
    """The posting list to read and its filter. One partner: its own list. Several (staff): the
    list of every partner's, kept to theirs by a filter applied after the equality on `k` (the
    part FerretDB pushes down)."""
    one = len(query.partner_ids) == 1
    scope = query.partner_ids[0] if one else ALL_PARTNERS
    base: dict[str, Any] = {"k": f"{scope}|{lead}"}
    if not one:
        base["p"] = {"$in": list(query.partner_ids)}
    if query.company_id:
        base["c"] = query.company_id
    if query.since or query.until:
        base["at"] = {
            **({"$gte": query.since} if query.since else {}),
            **({"$lt": query.until} if query.until else {}),
        }
    return scope, base
