"""MongoDB repositories of the support service (valid on FerretDB 1.x and on MongoDB).

Threads hold the summary the thread list needs (company name from events, last message,
message count, each side's read mark and unread count); messages are documents of their own,
each carrying its `message.posted` event in the outbox fields until the relay publishes it.

The unread counts are kept on write, so a page of threads is one find whatever it shows and
however many messages the store holds. Threads stored before they had counts get them counted
once, under the thread's lock, the first time they are read or written.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from servicekit.mongo import Document, DocumentLocks, IndexSpec, find_page
from servicekit.outbox import new_document_with_outbox
from servicekit.pagination import Page, Sort
from support.domain.model import (
    AttachmentRef,
    Contact,
    Message,
    Note,
    Side,
    Thread,
    ThreadContext,
    readers_of,
    thread_id_for,
)
from support.service_layer.ports import Pending, ThreadQuery

THREADS = "threads"
MESSAGES = "messages"
PARTNERS = "partners"
AGGREGATES = [MESSAGES]

INDEXES = [
    IndexSpec(THREADS, [("partner_id", 1), ("last_message_at", -1)], name="partner_recent"),
    IndexSpec(MESSAGES, [("thread_id", 1), ("seq", -1)], unique=True, name="thread_seq"),
]

THREAD_ORDER = Sort("last_message_at", descending=True)
MESSAGE_ORDER = Sort("seq", descending=True)
READERS = (Side.PARTNER, Side.SUPPORT)
HAS_COUNTS = {f"unread_{side.value}": {"$exists": True} for side in READERS}


class MongoThreadRepository:
    def __init__(self, db: AsyncDatabase[Document], locks: DocumentLocks) -> None:
        self._threads = db[THREADS]
        self._messages = db[MESSAGES]
        self._locks = locks

    async def ensure(self, *, partner_id: str, company_id: str, company_name: str | None) -> None:
        thread_id = thread_id_for(company_id)
        now = datetime.now(UTC)
        name_fields = {"company_name": company_name, "name_sort": company_name.casefold()} if company_name else {}
        on_insert = {
            "partner_id": partner_id,
            "company_id": company_id,
            "created_at": now,
            "last_message_at": now,
            "last_preview": None,
            "last_side": None,
            "seq": 0,
            "read_partner": 0,
            "read_support": 0,
            "unread_partner": 0,
            "unread_support": 0,
        }
        if not company_name:
            on_insert |= {"company_name": None, "name_sort": None}
        update: dict[str, Any] = {"$setOnInsert": on_insert}
        if name_fields:
            update["$set"] = name_fields
        async with self._locks.lock(THREADS, thread_id):
            await self._threads.update_one({"_id": thread_id}, update, upsert=True)

    async def get(self, thread_id: str, partner_ids: tuple[str, ...]) -> Thread | None:
        document = await self._threads.find_one({"_id": thread_id, "partner_id": {"$in": list(partner_ids)}})
        return _thread(await self._counted(document)) if document else None

    async def search(self, query: ThreadQuery) -> Page[Thread]:
        conditions: list[dict[str, Any]] = [{"partner_id": {"$in": list(query.partner_ids)}}]
        if query.text:
            # The user's text is matched literally: escaped, it is never a regular expression.
            conditions.append({"company_name": {"$regex": re.escape(query.text), "$options": "i"}})
        match = {"$and": conditions} if len(conditions) > 1 else conditions[0]
        page = await find_page(self._threads, match, THREAD_ORDER, query.limit, query.cursor, _as_stored)
        return Page([_thread(await self._counted(d)) for d in page.items], page.next_cursor)

    async def next_message(
        self,
        thread_id: str,
        *,
        side: Side,
        preview: str,
        at: datetime,
        note: Note | None = None,
        contact: Contact | None = None,
    ) -> int:
        last = {"last_message_at": at, "last_preview": preview, "last_side": side.value, "last_note": _note_doc(note)}
        if contact is not None:  # the same update: a post stays one write of the thread
            last["partner_contact.name"] = contact.name
            if contact.language:
                last["partner_contact.language"] = contact.language
        counts = {"seq": 1} | {f"unread_{reader.value}": 1 for reader in readers_of(side)}
        update = {"$inc": counts, "$set": last}
        async with self._locks.lock(THREADS, thread_id):
            document = await self._threads.find_one_and_update(
                {"_id": thread_id, **HAS_COUNTS}, update, return_document=ReturnDocument.AFTER
            )
            if document is None and (stored := await self._threads.find_one({"_id": thread_id})) is not None:
                await self._count_locked(stored)  # stored before threads had counts
                document = await self._threads.find_one_and_update(
                    {"_id": thread_id}, update, return_document=ReturnDocument.AFTER
                )
        if document is None:
            raise LookupError(f"thread {thread_id} disappeared")
        return int(document["seq"])

    async def mark_read(self, thread_id: str, side: Side, up_to: int, *, at: datetime | None = None) -> None:
        mark, unread = f"read_{side.value}", f"unread_{side.value}"
        when = {f"{side.value}_last_read_at": at or datetime.now(UTC)}
        async with self._locks.lock(THREADS, thread_id):
            # Only forwards: a stale request never un-reads messages.
            read_all = await self._threads.update_one(
                {"_id": thread_id, mark: {"$lt": up_to}, "seq": {"$lte": up_to}},
                {"$set": {mark: up_to, unread: 0, **when}},
            )
            if read_all.matched_count or await self._threads.find_one({"_id": thread_id, mark: {"$lt": up_to}}) is None:
                return
            # Messages came after `up_to` (posted meanwhile): they stay unread.
            left = await self._count_unread(thread_id, side, up_to)
            await self._threads.update_one({"_id": thread_id}, {"$set": {mark: up_to, unread: left, **when}})

    async def note_context(self, company_id: str, partner_id: str, context: ThreadContext) -> None:
        fields = {f"context.{name}": value for name, value in _context_doc(context).items() if value is not None}
        if not fields:
            return
        thread_id = thread_id_for(company_id)
        async with self._locks.lock(THREADS, thread_id):
            await self._threads.update_one({"_id": thread_id, "partner_id": partner_id}, {"$set": fields})

    async def forget_message(self, thread_id: str, *, side: Side, seq: int) -> None:
        async with self._locks.lock(THREADS, thread_id):
            for reader in readers_of(side):
                mark, unread = f"read_{reader.value}", f"unread_{reader.value}"
                await self._threads.update_one(
                    {"_id": thread_id, mark: {"$lt": seq}, unread: {"$gt": 0}}, {"$inc": {unread: -1}}
                )

    async def _counted(self, document: Document) -> Document:
        """The thread with its unread counts, counted and stored once if it has none yet."""
        if all(field in document for field in HAS_COUNTS):
            return document
        async with self._locks.lock(THREADS, document["_id"]):
            stored = await self._threads.find_one({"_id": document["_id"]})
            if stored is None or all(field in stored for field in HAS_COUNTS):
                return stored or document  # gone, or counted meanwhile
            return await self._count_locked(stored)

    async def _count_locked(self, document: Document) -> Document:
        """Count a thread's unread messages per side as the read marks say (the caller holds its lock)."""
        counts = {
            f"unread_{side.value}": await self._count_unread(
                document["_id"], side, int(document.get(f"read_{side.value}", 0))
            )
            for side in READERS
        }
        await self._threads.update_one(
            {"_id": document["_id"], "$or": [{f: {"$exists": False}} for f in HAS_COUNTS]}, {"$set": counts}
        )
        return document | counts

    async def _count_unread(self, thread_id: str, side: Side, after: int) -> int:
        return await self._messages.count_documents(
            {"thread_id": thread_id, "seq": {"$gt": after}, "author_side": {"$ne": side.value}}
        )


class MongoMessageRepository:
    def __init__(self, db: AsyncDatabase[Document], on_write: Callable[[str, str], None] | None = None) -> None:
        self._messages = db[MESSAGES]
        self._on_write = on_write

    async def get(self, message_id: str) -> Message | None:
        document = await self._messages.find_one({"_id": message_id})
        return _message(document) if document else None

    async def add(self, message: Message, pending: list[Pending]) -> bool:
        document = {
            "_id": message.id,
            "thread_id": message.thread_id,
            "partner_id": message.partner_id,
            "company_id": message.company_id,
            "seq": message.seq,
            "author_id": message.author_id,
            "author_side": message.author_side.value,
            "author_name": message.author_name,
            "body": message.body,
            "created_at": message.created_at,
        }
        if message.note is not None:
            document["note"] = _note_doc(message.note)
        if message.attachments:
            document["attachments"] = [attachment_doc(a) for a in message.attachments]
        document["indexed"] = False  # the search index takes it next (or the reindex job, after a crash)
        try:
            await self._messages.insert_one(new_document_with_outbox(document, pending))
        except DuplicateKeyError:
            return False
        if self._on_write is not None:
            self._on_write(MESSAGES, message.id)  # wakes the outbox relay for this message
        return True

    async def page(self, thread_id: str, limit: int, cursor: str | None) -> Page[Message]:
        return await find_page(self._messages, {"thread_id": thread_id}, MESSAGE_ORDER, limit, cursor, _message)


class MongoPartnerNames:
    """`partners`: one document per partner, `_id` its id (an equality lookup per preview)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._partners = db[PARTNERS]

    async def put(self, partner_id: str, name: str) -> None:
        await self._partners.update_one({"_id": partner_id}, {"$set": {"name": name}}, upsert=True)

    async def name(self, partner_id: str) -> str | None:
        document = await self._partners.find_one({"_id": partner_id})
        return str(document["name"]) if document and document.get("name") else None


def _as_stored(document: Document) -> Document:
    return document


def _thread(document: Document) -> Thread:
    last_side = document.get("last_side")
    return Thread(
        id=document["_id"],
        partner_id=document["partner_id"],
        company_id=document["company_id"],
        company_name=document.get("company_name"),
        created_at=document["created_at"],
        last_message_at=document["last_message_at"],
        last_preview=document.get("last_preview"),
        last_side=Side(last_side) if last_side else None,
        message_count=int(document.get("seq", 0)),
        read_partner=int(document.get("read_partner", 0)),
        read_support=int(document.get("read_support", 0)),
        last_note=_note(document.get("last_note")),
        unread_partner=int(document["unread_partner"]),
        unread_support=int(document["unread_support"]),
        partner_last_read_at=_aware(document.get("partner_last_read_at")),
        support_last_read_at=_aware(document.get("support_last_read_at")),
        context=_context(document.get("context")),
        partner_contact=_contact(document.get("partner_contact")),
    )


def _contact(value: Any) -> Contact | None:
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        return None
    language = value.get("language")
    return Contact(value["name"], language if isinstance(language, str) else None)


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _context_doc(context: ThreadContext) -> dict[str, Any]:
    expiry = context.instance_expiry_date
    return {
        "company_tax_id": context.company_tax_id,
        "instance_id": context.instance_id,
        "instance_name": context.instance_name,
        "instance_type": context.instance_type,
        "instance_expiry_date": expiry.isoformat() if expiry else None,
        "license_user": context.license_user,
    }


def _context(value: Any) -> ThreadContext:
    if not isinstance(value, dict):
        return ThreadContext()
    expiry = value.get("instance_expiry_date")

    def text(name: str) -> str | None:
        item = value.get(name)
        return str(item) if item is not None else None

    return ThreadContext(
        company_tax_id=text("company_tax_id"),
        instance_id=text("instance_id"),
        instance_name=text("instance_name"),
        instance_type=text("instance_type"),
        instance_expiry_date=date.fromisoformat(expiry) if isinstance(expiry, str) else None,
        license_user=text("license_user"),
    )


def attachment_doc(ref: AttachmentRef) -> dict[str, Any]:
    return {
        "id": ref.id,
        "filename": ref.filename,
        "content_type": ref.content_type,
        "size": ref.size,
        "width": ref.width,
        "height": ref.height,
        "has_thumbnail": ref.has_thumbnail,
        "created_at": ref.created_at,
    }


def attachment_ref(value: dict[str, Any]) -> AttachmentRef:
    return AttachmentRef(
        id=value["id"],
        filename=value["filename"],
        content_type=value["content_type"],
        size=int(value["size"]),
        width=value.get("width"),
        height=value.get("height"),
        has_thumbnail=bool(value.get("has_thumbnail")),
        created_at=_aware(value.get("created_at")) or datetime.now(UTC),
    )


def message_of(document: Document) -> Message:
    return _message(document)


def _message(document: Document) -> Message:
    return Message(
        id=document["_id"],
        thread_id=document["thread_id"],
        partner_id=document["partner_id"],
        company_id=document["company_id"],
        seq=int(document["seq"]),
        author_id=document["author_id"],
        author_side=Side(document["author_side"]),
        author_name=str(document.get("author_name") or ""),
        body=document["body"],
        created_at=document["created_at"],
        note=_note(document.get("note")),
        attachments=tuple(attachment_ref(a) for a in document.get("attachments") or ()),
    )


def _note_doc(note: Note | None) -> dict[str, Any] | None:
    return {"code": note.code, "params": dict(note.params)} if note else None


def _note(value: Any) -> Note | None:
    """Documents stored before notes had codes have none: their `body` is what they say."""
    if not isinstance(value, dict) or not isinstance(value.get("code"), str):
        return None
    params = value.get("params")
    return Note(value["code"], {str(k): str(v) for k, v in params.items()} if isinstance(params, dict) else {})
