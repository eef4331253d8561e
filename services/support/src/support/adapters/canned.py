"""Canned replies in MongoDB: one document each, with the folded tokens of its titles and texts
and every prefix of them (`prefixes`, so the composer finds a reply as its words are typed),
matched by equality on an array: valid on FerretDB 1.x and MongoDB)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from servicekit.mongo import Document, DocumentLocks, IndexSpec, find_page
from servicekit.outbox import new_document_with_outbox, with_outbox
from servicekit.pagination import Page, Sort
from support.adapters.mongo import attachment_doc, attachment_ref
from support.domain import search as words
from support.domain.canned import CannedReply
from support.service_layer.ports import CannedQuery, Pending

CANNED_REPLIES = "canned_replies"
INDEXES = [IndexSpec(CANNED_REPLIES, [("deleted", 1), ("updated_at", -1)], name="live_recent")]
ORDER = Sort("updated_at", descending=True)


def _document(reply: CannedReply) -> dict[str, Any]:
    return {
        "title": dict(reply.title),
        "text": dict(reply.text),
        "created_at": reply.created_at,
        "updated_at": reply.updated_at,
        "created_by": reply.created_by,
        "attachments": [attachment_doc(a) for a in reply.attachments],
        "prefixes": sorted(words.prefixes(reply.searchable())),
        "deleted": False,
    }


def _reply(document: Document) -> CannedReply:
    return CannedReply(
        id=document["_id"],
        title=dict(document["title"]),
        text=dict(document["text"]),
        created_at=document["created_at"],
        updated_at=document["updated_at"],
        created_by=document["created_by"],
        attachments=tuple(attachment_ref(a) for a in document.get("attachments") or ()),
    )


class MongoCannedReplyRepository:
    def __init__(
        self,
        db: AsyncDatabase[Document],
        locks: DocumentLocks | None = None,
        on_write: Callable[[str, str], None] | None = None,
    ) -> None:
        self._replies = db[CANNED_REPLIES]
        self._locks = locks or DocumentLocks()  # shared with the outbox relay (updates are read-then-write)
        self._on_write = on_write

    async def add(self, reply: CannedReply, pending: list[Pending]) -> None:
        await self._replies.insert_one(new_document_with_outbox({"_id": reply.id, **_document(reply)}, pending))
        self._written(reply.id)

    async def get(self, reply_id: str) -> CannedReply | None:
        document = await self._replies.find_one({"_id": reply_id, "deleted": False})
        return _reply(document) if document else None

    async def replace(self, reply: CannedReply, pending: list[Pending]) -> bool:
        update = with_outbox({"$set": _document(reply)}, pending)
        async with self._locks.lock(CANNED_REPLIES, reply.id):
            result = await self._replies.update_one({"_id": reply.id, "deleted": False}, update)
        self._written(reply.id)
        return result.matched_count == 1

    async def delete(self, reply_id: str, pending: list[Pending]) -> bool:
        update = with_outbox({"$set": {"deleted": True}}, pending)
        async with self._locks.lock(CANNED_REPLIES, reply_id):
            result = await self._replies.update_one({"_id": reply_id, "deleted": False}, update)
        self._written(reply_id)
        return result.matched_count == 1

    def _written(self, reply_id: str) -> None:
        if self._on_write is not None:
            self._on_write(CANNED_REPLIES, reply_id)  # wakes the outbox relay for it

    async def search(self, query: CannedQuery) -> Page[CannedReply]:
        match: dict[str, Any] = {"deleted": False}
        if query.tokens:
            match = {"$and": [match, *({"prefixes": t} for t in query.tokens)]}
        return await find_page(self._replies, match, ORDER, query.limit, query.cursor, _reply)
