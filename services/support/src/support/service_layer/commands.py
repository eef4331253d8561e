"""What the support service's callers change: messages posted, threads read.

A message is stored with its `message.posted` event and audit entry in one write (outbox).
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from contracts import EventEnvelope, envelope_for, utc_now
from contracts.events.support import AttachmentInfo, AuthorSide, MessagePosted
from servicekit.audit import AuditEntry
from servicekit.errors import InvalidInput, NotFound
from servicekit.handlers import HandlerTable
from servicekit.principal import Principal
from support.domain.attachments import check_file, safe_filename
from support.domain.canned import LANGUAGES, MAX_ATTACHMENTS, VARIABLES, CannedReply, variables_in
from support.domain.model import AttachmentRef, Contact, Message, Note, Side, Thread, preview, side_of
from support.service_layer.ports import (
    AttachmentRepository,
    CannedReplyRepository,
    MessageRepository,
    SearchIndex,
    StoredAttachment,
    ThreadRepository,
)
from support.service_layer.queries import ThreadView, require_staff, view_of, visible_thread

SOURCE = "support"
DEFAULT_ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
UNUSED_UPLOAD_HOURS = 24
MAX_MESSAGE_ATTACHMENTS = 10


@dataclass
class SupportCommands:
    threads: ThreadRepository
    messages: MessageRepository
    now: Callable[[], datetime] = utc_now
    attachments: AttachmentRepository | None = None
    index: SearchIndex | None = None
    canned: CannedReplyRepository | None = None
    attachment_max_bytes: int = DEFAULT_ATTACHMENT_MAX_BYTES

    async def post_message(
        self,
        principal: Principal,
        thread_id: str,
        body: str,
        *,
        idempotency_key: str | None = None,
        attachment_ids: tuple[str, ...] = (),
        canned_reply_id: str | None = None,
    ) -> Message:
        """Add a message for the caller's side, with the uploads it names (of this thread, by
        this side, not used yet) and a canned reply's attachments (copied into the thread); a
        retried request with the same key returns the message stored the first time."""
        thread = await visible_thread(self.threads, principal, thread_id)
        message_id = (
            "msg-" + hashlib.sha256(f"{thread_id}\0{principal.user_id}\0{idempotency_key}".encode()).hexdigest()[:24]
            if idempotency_key
            else f"msg-{uuid.uuid4().hex}"
        )
        if idempotency_key and (existing := await self.messages.get(message_id)):
            return existing
        side = side_of(principal.role)
        refs = await self._attachments_for(principal, thread, side, list(attachment_ids), canned_reply_id, message_id)
        audit = AuditEntry(
            actor_id=principal.user_id,
            actor_role=principal.role,
            partner_id=thread.partner_id,
            action="message.post",
            target_type="thread",
            target_id=thread_id,
            detail={"message_id": message_id}
            | ({"attachment_ids": [r.id for r in refs]} if refs else {})
            | ({"canned_reply_id": canned_reply_id} if canned_reply_id else {}),
        )
        message = await add_message(
            self.threads,
            self.messages,
            thread,
            message_id=message_id,
            author_id=principal.user_id,
            author_name=principal.name,
            side=side,
            body=body,
            at=self.now(),
            audit=[audit],
            attachments=tuple(refs),
            contact=Contact(principal.name, principal.language) if side == Side.PARTNER and principal.name else None,
        )
        if self.index is not None:
            await self.index.index([message])
        await self.threads.mark_read(thread_id, side, message.seq, at=message.created_at)  # the author has read it
        return message

    async def _attachments_for(
        self,
        principal: Principal,
        thread: Thread,
        side: Side,
        attachment_ids: list[str],
        canned_reply_id: str | None,
        message_id: str,
    ) -> list[AttachmentRef]:
        if not attachment_ids and not canned_reply_id:
            return []
        store = self._store()
        if len(set(attachment_ids)) != len(attachment_ids) or len(attachment_ids) > MAX_MESSAGE_ATTACHMENTS:
            raise InvalidInput.of_field(
                "attachment_ids",
                "attachments_max",
                f"at most {MAX_MESSAGE_ATTACHMENTS} distinct attachments",
                params={"max": MAX_MESSAGE_ATTACHMENTS},
            )
        found = {a.ref.id: a for a in await store.get_many(attachment_ids)}
        for attachment_id in attachment_ids:
            stored = found.get(attachment_id)
            if (
                stored is None
                or stored.owner != "thread"
                or stored.thread_id != thread.id
                or stored.side != side
                or stored.message_id not in (None, message_id)
            ):
                raise InvalidInput.of_field(
                    "attachment_ids",
                    "attachment_unusable",
                    f"{attachment_id} is not an unused upload of this thread by your side",
                    params={"id": attachment_id},
                )
        copies: list[StoredAttachment] = []
        if canned_reply_id:
            require_staff(principal)
            reply = await self.canned.get(canned_reply_id) if self.canned else None
            if reply is None:
                raise InvalidInput.of_field(
                    "canned_reply_id", "canned_reply_unknown", f"no canned reply {canned_reply_id}"
                )
            originals = await store.get_many([a.id for a in reply.attachments])
            copies = [
                await store.copy_into(
                    original,
                    thread_id=thread.id,
                    partner_id=thread.partner_id,
                    side=side,
                    uploader_id=principal.user_id,
                    at=self.now(),
                )
                for original in originals
            ]
        if len(attachment_ids) + len(copies) > MAX_MESSAGE_ATTACHMENTS:
            raise InvalidInput.of_field(
                "attachment_ids",
                "attachments_max",
                f"at most {MAX_MESSAGE_ATTACHMENTS} distinct attachments",
                params={"max": MAX_MESSAGE_ATTACHMENTS},
            )
        ids = [*attachment_ids, *(c.ref.id for c in copies)]
        if refused := await store.claim(ids, message_id=message_id):
            raise InvalidInput.of_field(
                "attachment_ids",
                "attachment_unusable",
                f"{refused[0]} is not an unused upload of this thread by your side",
                params={"id": refused[0]},
            )
        return [found[i].ref for i in attachment_ids] + [c.ref for c in copies]

    def _store(self) -> AttachmentRepository:
        if self.attachments is None:  # pragma: no cover - wired in bootstrap
            raise RuntimeError("no attachment store")
        return self.attachments

    async def upload_attachment(
        self,
        principal: Principal,
        thread_id: str,
        filename: str | None,
        data: bytes,
        *,
        idempotency_key: str | None = None,
    ) -> AttachmentRef:
        """Check an uploaded file by its bytes and store what is safe of it (images re-encoded); a
        retry with the same key answers the file stored the first time."""
        thread = await visible_thread(self.threads, principal, thread_id)
        attachment_id = None
        if idempotency_key:
            attachment_id = "att-" + _keyed(thread_id, principal.user_id, idempotency_key)
            if found := await self._store().get_many([attachment_id]):
                return found[0].ref
        shown = filename or "file"
        checked = await asyncio.to_thread(check_file, data, shown, max_bytes=self.attachment_max_bytes)
        name = safe_filename(filename, checked.content_type)
        side = side_of(principal.role)
        at = self.now()
        audit = _audit(principal, thread.partner_id, "attachment.upload", "thread", thread_id, {"filename": name})
        stored = await self._store().add(
            checked,
            filename=name,
            owner="thread",
            thread_id=thread_id,
            partner_id=thread.partner_id,
            side=side,
            uploader_id=principal.user_id,
            at=at,
            pending=[audit],
            attachment_id=attachment_id,
        )
        return stored.ref

    async def remove_unused_attachments(self) -> int:
        """Uploads no message took within UNUSED_UPLOAD_HOURS are removed (bytes and record)."""
        return await self._store().remove_unused(self.now() - timedelta(hours=UNUSED_UPLOAD_HOURS))

    async def reindex_messages(self) -> int:
        """Index the messages a crash left unindexed; how many."""
        return await self.index.reindex_pending() if self.index is not None else 0

    async def mark_read(self, principal: Principal, thread_id: str) -> ThreadView:
        """Every message of the thread read for the caller's side."""
        thread = await visible_thread(self.threads, principal, thread_id)
        await self.threads.mark_read(thread_id, side_of(principal.role), thread.message_count, at=self.now())
        return view_of(await visible_thread(self.threads, principal, thread_id), principal)


async def add_message(
    threads: ThreadRepository,
    messages: MessageRepository,
    thread: Thread,
    *,
    message_id: str,
    author_id: str,
    side: Side,
    body: str,
    at: datetime,
    audit: list[AuditEntry],
    causation: EventEnvelope[Any] | None = None,
    note: Note | None = None,
    attachments: tuple[AttachmentRef, ...] = (),
    author_name: str = "",
    contact: Contact | None = None,
) -> Message:
    """Store a message as the thread's next, with its `message.posted` event (a posted message
    and a system note alike); a message id stored already answers the stored message. `contact`:
    the partner user writing, kept as the thread's partner contact by the same thread update."""
    seq = await threads.next_message(thread.id, side=side, preview=preview(body), at=at, note=note, contact=contact)
    message = Message(
        id=message_id,
        thread_id=thread.id,
        partner_id=thread.partner_id,
        company_id=thread.company_id,
        seq=seq,
        author_id=author_id,
        author_side=side,
        body=body,
        created_at=at,
        note=note,
        attachments=attachments,
        author_name=author_name,
    )
    event = envelope_for(
        MessagePosted(
            message_id=message.id,
            thread_id=thread.id,
            partner_id=thread.partner_id,
            company_id=thread.company_id,
            author_id=author_id,
            author_side=AuthorSide(side.value),
            preview=preview(body),
            posted_at=at,
            code=note.code if note else None,
            params=dict(note.params) if note else None,
            attachments=[
                AttachmentInfo(id=a.id, filename=a.filename, content_type=a.content_type, size=a.size)
                for a in attachments
            ],
        ),
        source=SOURCE,
        correlation_id=causation.correlation_id if causation else None,
        causation_id=causation.id if causation else None,
    )
    if not await messages.add(message, [*audit, event]):
        await threads.forget_message(thread.id, side=side, seq=seq)
        existing = await messages.get(message_id)
        if existing is None:  # pragma: no cover - add reported a duplicate that is not there
            raise RuntimeError(f"message {message_id} vanished")
        return existing
    return message


def _keyed(*parts: str) -> str:
    """An id that follows from a request's Idempotency-Key (32 hex digits)."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def _audit(
    principal: Principal, partner_id: str, action: str, target_type: str, target_id: str, detail: Mapping[str, Any]
) -> AuditEntry:
    return AuditEntry(
        actor_id=principal.user_id,
        actor_role=principal.role,
        partner_id=partner_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        detail=dict(detail),
    )


def _languages(value: Mapping[str, str], field: str, changed: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Both versions, each new one (`changed`: those a patch sends) naming only variables this
    version fills: a typo is refused when the reply is saved, not found by its reader (a reply
    saved before the rule keeps working, its unknown variables listed by the preview). The first
    fault is named by its field, e.g. text.en."""
    missing = [language for language in LANGUAGES if not (value.get(language) or "").strip()]
    if missing:
        raise InvalidInput.of_field(
            f"{field}.{missing[0]}", "language_required", f"the {missing[0]} version is required"
        )
    for language in LANGUAGES if changed is None else [lang for lang in LANGUAGES if changed.get(lang) is not None]:
        if unknown := [name for name in variables_in(value[language]) if name not in VARIABLES]:
            shown, known = f"{{{{{unknown[0]}}}}}", ", ".join(VARIABLES)
            raise InvalidInput.of_field(
                f"{field}.{language}",
                "variable_unknown",
                f"{shown} is not a known variable; use one of: {known}",
                params={"variable": shown, "known": known},
            )
    return {language: value[language].strip() for language in LANGUAGES}


@dataclass
class CannedReplyCommands:
    """The support team's library of saved replies (staff only)."""

    replies: CannedReplyRepository
    attachments: AttachmentRepository
    now: Callable[[], datetime] = utc_now
    max_bytes: int = DEFAULT_ATTACHMENT_MAX_BYTES

    async def create_canned_reply(
        self,
        principal: Principal,
        title: Mapping[str, str],
        text: Mapping[str, str],
        attachment_ids: tuple[str, ...] = (),
        *,
        idempotency_key: str | None = None,
    ) -> CannedReply:
        """Save a reply; a retry with the same key answers the reply saved the first time."""
        require_staff(principal)
        reply_id = f"cnr-{_keyed('canned', principal.user_id, idempotency_key)}" if idempotency_key else None
        if reply_id and (existing := await self.replies.get(reply_id)):
            return existing
        reply_id = reply_id or f"cnr-{uuid.uuid4().hex}"
        titles, texts = _languages(title, "title"), _languages(text, "text")  # before anything is claimed
        refs = await self._take(principal, list(attachment_ids), reply_id)
        at = self.now()
        reply = CannedReply(
            id=reply_id,
            title=titles,
            text=texts,
            created_at=at,
            updated_at=at,
            created_by=principal.user_id,
            attachments=tuple(refs),
        )
        audit = _audit(principal, principal.partner_id, "canned_reply.create", "canned_reply", reply_id, {})
        await self.replies.add(reply, [audit])
        return reply

    async def update_canned_reply(self, principal: Principal, reply_id: str, changes: Mapping[str, Any]) -> CannedReply:
        """Apply a merge patch's `title`, `text` (per language) and `attachment_ids` (the new list)."""
        require_staff(principal)
        reply = await self.replies.get(reply_id)
        if reply is None:
            raise NotFound("canned reply", reply_id)
        sent_titles, sent_texts = changes.get("title") or {}, changes.get("text") or {}
        title = _languages({**reply.title, **sent_titles}, "title", sent_titles)  # before anything is claimed
        text = _languages({**reply.text, **sent_texts}, "text", sent_texts)
        refs = list(reply.attachments)
        if "attachment_ids" in changes:
            wanted = list(changes["attachment_ids"] or [])
            kept = [r for r in refs if r.id in wanted]
            new = [i for i in wanted if i not in {r.id for r in kept}]
            refs = kept + await self._take(principal, new, reply_id)
            dropped = [r.id for r in reply.attachments if r.id not in wanted]
            if dropped:
                await self.attachments.remove(dropped)
        updated = replace(
            reply,
            title=title,
            text=text,
            attachments=tuple(refs),
            updated_at=self.now(),
        )
        audit = _audit(principal, principal.partner_id, "canned_reply.update", "canned_reply", reply_id, {})
        if not await self.replies.replace(updated, [audit]):
            raise NotFound("canned reply", reply_id)
        return updated

    async def delete_canned_reply(self, principal: Principal, reply_id: str) -> None:
        require_staff(principal)
        reply = await self.replies.get(reply_id)
        audit = _audit(principal, principal.partner_id, "canned_reply.delete", "canned_reply", reply_id, {})
        if reply is None or not await self.replies.delete(reply_id, [audit]):
            raise NotFound("canned reply", reply_id)
        if reply.attachments:
            await self.attachments.remove([a.id for a in reply.attachments])

    async def upload_canned_attachment(self, principal: Principal, filename: str | None, data: bytes) -> AttachmentRef:
        """An attachment for a canned reply (checked like any upload), named in its attachment_ids."""
        require_staff(principal)
        checked = await asyncio.to_thread(check_file, data, filename or "file", max_bytes=self.max_bytes)
        stored = await self.attachments.add(
            checked,
            filename=safe_filename(filename, checked.content_type),
            owner="canned",
            thread_id=None,
            partner_id=None,
            side=Side.SUPPORT,
            uploader_id=principal.user_id,
            at=self.now(),
            pending=[],
        )
        return stored.ref

    async def _take(self, principal: Principal, attachment_ids: list[str], reply_id: str) -> list[AttachmentRef]:
        if len(set(attachment_ids)) != len(attachment_ids) or len(attachment_ids) > MAX_ATTACHMENTS:
            raise InvalidInput.of_field(
                "attachment_ids",
                "attachments_max",
                f"at most {MAX_ATTACHMENTS} distinct attachments",
                params={"max": MAX_ATTACHMENTS},
            )
        found = {a.ref.id: a for a in await self.attachments.get_many(attachment_ids)}
        for attachment_id in attachment_ids:
            stored = found.get(attachment_id)
            if stored is None or stored.owner != "canned" or stored.canned_reply_id not in (None, reply_id):
                raise InvalidInput.of_field(
                    "attachment_ids",
                    "attachment_unusable",
                    f"{attachment_id} is not an unused canned-reply upload",
                    params={"id": attachment_id},
                )
        if refused := await self.attachments.claim_for_canned(attachment_ids, canned_reply_id=reply_id):
            raise InvalidInput.of_field(
                "attachment_ids",
                "attachment_unusable",
                f"{refused[0]} is not an unused canned-reply upload",
                params={"id": refused[0]},
            )
        return [found[i].ref for i in attachment_ids]


COMMAND_HANDLERS: HandlerTable = {
    "post_message": SupportCommands.post_message,
    "mark_read": SupportCommands.mark_read,
    "upload_attachment": SupportCommands.upload_attachment,
    "remove_unused_attachments": SupportCommands.remove_unused_attachments,
    "reindex_messages": SupportCommands.reindex_messages,
    "create_canned_reply": CannedReplyCommands.create_canned_reply,
    "update_canned_reply": CannedReplyCommands.update_canned_reply,
    "delete_canned_reply": CannedReplyCommands.delete_canned_reply,
    "upload_canned_attachment": CannedReplyCommands.upload_canned_attachment,
}
