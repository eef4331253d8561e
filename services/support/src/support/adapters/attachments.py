"""Attachments in MongoDB: the bytes in GridFS (PyMongo's `AsyncGridFSBucket`, bucket
`attachment_files`: plain `.files`/`.chunks` collections and their two indexes, which FerretDB
1.24 creates as MongoDB does), the record in `attachments` (who uploaded it into which thread,
which message or canned reply took it). Records are looked up by `_id` (equality only)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from bson import ObjectId
from gridfs import AsyncGridFSBucket, NoFile
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from servicekit.mongo import Document, DocumentLocks, IndexSpec
from servicekit.outbox import new_document_with_outbox
from support.adapters.mongo import attachment_doc, attachment_ref
from support.domain.attachments import CheckedFile
from support.domain.model import AttachmentRef, Side
from support.service_layer.ports import Pending, StoredAttachment

ATTACHMENTS = "attachments"
BUCKET = "attachment_files"
CHUNK_BYTES = 255 * 1024
INDEXES = [IndexSpec(ATTACHMENTS, [("used", 1), ("created_at", 1)], name="unused_by_age")]


class MongoAttachmentRepository:
    def __init__(
        self,
        db: AsyncDatabase[Document],
        on_write: Callable[[str, str], None] | None = None,
        locks: DocumentLocks | None = None,
    ) -> None:
        self._records = db[ATTACHMENTS]
        # FerretDB 1.x applies an update as a read then a write: a claim and the outbox relay's
        # update of the same record take its lock, or one would undo the other.
        self._locks = locks or DocumentLocks()
        self._files = AsyncGridFSBucket(db, bucket_name=BUCKET, chunk_size_bytes=CHUNK_BYTES)
        self._on_write = on_write

    async def add(
        self,
        checked: CheckedFile,
        *,
        filename: str,
        owner: str,
        thread_id: str | None,
        partner_id: str | None,
        side: Side,
        uploader_id: str,
        at: datetime,
        pending: list[Pending],
        attachment_id: str | None = None,
    ) -> StoredAttachment:
        attachment_id = attachment_id or f"att-{uuid.uuid4().hex}"
        at = at.replace(microsecond=at.microsecond // 1000 * 1000)  # as the store keeps it (milliseconds)
        file_id = await self._files.upload_from_stream(
            filename, checked.data, metadata={"attachment_id": attachment_id, "content_type": checked.content_type}
        )
        thumb_id = None
        if checked.thumbnail is not None:
            thumb_id = await self._files.upload_from_stream(
                f"{attachment_id}-thumbnail.webp", checked.thumbnail, metadata={"attachment_id": attachment_id}
            )
        ref = AttachmentRef(
            id=attachment_id,
            filename=filename,
            content_type=checked.content_type,
            size=len(checked.data),
            width=checked.width,
            height=checked.height,
            has_thumbnail=thumb_id is not None,
            created_at=at,
        )
        stored = StoredAttachment(ref, owner, thread_id, partner_id, side, uploader_id)
        document = {
            "_id": attachment_id,
            **attachment_doc(ref),
            "owner": owner,
            "thread_id": thread_id,
            "partner_id": partner_id,
            "side": side.value,
            "uploader_id": uploader_id,
            "file_id": file_id,
            "thumb_id": thumb_id,
            "used": False,
            "message_id": None,
            "canned_reply_id": None,
        }
        try:
            await self._records.insert_one(new_document_with_outbox(document, pending))
        except DuplicateKeyError:
            # The same keyed upload, stored by a concurrent retry: keep that one, drop these bytes.
            for stored_file in (file_id, thumb_id):
                if stored_file is not None:
                    with contextlib.suppress(NoFile):
                        await self._files.delete(stored_file)
            [existing] = await self.get_many([attachment_id])
            return existing
        if self._on_write is not None and pending:
            self._on_write(ATTACHMENTS, attachment_id)
        return stored

    async def get_many(self, attachment_ids: list[str]) -> list[StoredAttachment]:
        if not attachment_ids:
            return []
        found = {d["_id"]: d async for d in self._records.find({"_id": {"$in": list(attachment_ids)}})}
        return [_stored(found[i]) for i in attachment_ids if i in found]

    async def claim(self, attachment_ids: list[str], *, message_id: str) -> list[str]:
        return await self._claim(attachment_ids, "message_id", message_id)

    async def claim_for_canned(self, attachment_ids: list[str], *, canned_reply_id: str) -> list[str]:
        return await self._claim(attachment_ids, "canned_reply_id", canned_reply_id)

    async def _claim(self, attachment_ids: list[str], field: str, owner_id: str) -> list[str]:
        refused: list[str] = []
        for attachment_id in attachment_ids:
            # One conditional update each: of two messages naming one upload, only one takes it.
            async with self._locks.lock(ATTACHMENTS, attachment_id):
                taken = await self._records.update_one(
                    {"_id": attachment_id, "used": False}, {"$set": {"used": True, field: owner_id}}
                )
            if taken.matched_count:
                continue
            if await self._records.find_one({"_id": attachment_id, field: owner_id}) is None:
                refused.append(attachment_id)  # someone else's by now (a retry of ours finds its own)
        return refused

    async def copy_into(
        self, source: StoredAttachment, *, thread_id: str, partner_id: str, side: Side, uploader_id: str, at: datetime
    ) -> StoredAttachment:
        document = await self._records.find_one({"_id": source.ref.id})
        if document is None:
            raise LookupError(f"attachment {source.ref.id} disappeared")
        data = await _read_all(self._files, document["file_id"])
        thumbnail = await _read_all(self._files, document["thumb_id"]) if document.get("thumb_id") else None
        checked = CheckedFile(source.ref.content_type, data, source.ref.width, source.ref.height, thumbnail)
        return await self.add(
            checked,
            filename=source.ref.filename,
            owner="thread",
            thread_id=thread_id,
            partner_id=partner_id,
            side=side,
            uploader_id=uploader_id,
            at=at,
            pending=[],
        )

    async def open(self, attachment: StoredAttachment, *, thumbnail: bool) -> AsyncIterator[bytes]:
        document = await self._records.find_one({"_id": attachment.ref.id})
        file_id = document and document.get("thumb_id" if thumbnail else "file_id")
        if file_id is None:
            return
        stream = await self._files.open_download_stream(file_id)
        try:
            while chunk := await stream.readchunk():
                yield chunk
        finally:
            await stream.close()

    async def remove(self, attachment_ids: list[str]) -> None:
        async for document in self._records.find({"_id": {"$in": list(attachment_ids)}}):
            await self._remove(document)

    async def remove_unused(self, older_than: datetime) -> int:
        removed = 0
        async for document in self._records.find({"used": False, "created_at": {"$lt": older_than}}):
            await self._remove(document)
            removed += 1
        return removed

    async def _remove(self, document: Document) -> None:
        for file_id in (document.get("file_id"), document.get("thumb_id")):
            if file_id is not None:
                with contextlib.suppress(NoFile):  # removed before, by a run that stopped half-way
                    await self._files.delete(file_id)
        async with self._locks.lock(ATTACHMENTS, document["_id"]):
            await self._records.delete_one({"_id": document["_id"]})


async def _read_all(files: AsyncGridFSBucket, file_id: ObjectId | Any) -> bytes:
    stream = await files.open_download_stream(file_id)
    try:
        return bytes(await stream.read())
    finally:
        await stream.close()


def _stored(document: Document) -> StoredAttachment:
    return StoredAttachment(
        ref=attachment_ref(document),
        owner=document.get("owner", "thread"),
        thread_id=document.get("thread_id"),
        partner_id=document.get("partner_id"),
        side=Side(document["side"]),
        uploader_id=document["uploader_id"],
        message_id=document.get("message_id"),
        canned_reply_id=document.get("canned_reply_id"),
    )
