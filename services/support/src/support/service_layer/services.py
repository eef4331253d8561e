"""Use cases of the support service: threads, messages, read marks, system notes.

A message is stored with its `message.posted` event and audit entry in one write (outbox).
Threads are visible to the partner they belong to, and to staff associated with that partner:
another partner's thread id is "not found".
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from contracts import EventEnvelope, envelope_for
from contracts.events.support import AuthorSide, MessagePosted
from servicekit.audit import AuditEntry
from servicekit.pagination import Page
from servicekit.principal import Principal
from support.domain.model import (
    DEFAULT_LANGUAGE,
    Message,
    Note,
    Side,
    Thread,
    cancellation_note,
    license_revoked_note,
    preview,
    side_of,
    thread_id_for,
)
from support.service_layer.ports import MessageRepository, ThreadQuery, ThreadRepository

SOURCE = "support"
SYSTEM_AUTHOR = "system"


class ThreadNotFound(Exception):
    def __init__(self, thread_id: str) -> None:
        super().__init__(f"No thread {thread_id}.")


class PartnerNotAllowed(Exception):
    def __init__(self, partner_id: str) -> None:
        super().__init__(f"Partner {partner_id} is not one of yours.")
        self.partner_id = partner_id


@dataclass(frozen=True)
class ThreadView:
    thread: Thread
    unread: int


@dataclass
class SupportService:
    threads: ThreadRepository
    messages: MessageRepository
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    # ------------------------------------------------------------------ reading

    def visible_partners(self, principal: Principal, partner_id: str | None = None) -> tuple[str, ...]:
        """Partner users see their partner; staff every partner they are associated with (R-11),
        or the one they filter by."""
        allowed = sorted(principal.partner_ids) if principal.is_staff else [principal.partner_id]
        if partner_id is None:
            return tuple(allowed)
        if partner_id not in allowed:
            raise PartnerNotAllowed(partner_id)
        return (partner_id,)

    async def list_threads(
        self, principal: Principal, *, partner_id: str | None, text: str | None, limit: int, cursor: str | None
    ) -> Page[ThreadView]:
        query = ThreadQuery(self.visible_partners(principal, partner_id), text=text, limit=limit, cursor=cursor)
        page = await self.threads.search(query)
        side = side_of(principal.role)
        return Page([ThreadView(t, await self.threads.unread(t, side)) for t in page.items], page.next_cursor)

    async def thread(self, principal: Principal, thread_id: str) -> ThreadView:
        thread = await self._thread(principal, thread_id)
        return ThreadView(thread, await self.threads.unread(thread, side_of(principal.role)))

    async def messages_of(
        self, principal: Principal, thread_id: str, *, limit: int, cursor: str | None
    ) -> Page[Message]:
        await self._thread(principal, thread_id)
        return await self.messages.page(thread_id, limit, cursor)

    # ------------------------------------------------------------------ writing

    async def post(
        self, principal: Principal, thread_id: str, body: str, *, idempotency_key: str | None = None
    ) -> Message:
        """Add a message for the caller's side; a retried request with the same key returns the
        message stored the first time."""
        thread = await self._thread(principal, thread_id)
        message_id = (
            "msg-" + hashlib.sha256(f"{thread_id}\0{principal.user_id}\0{idempotency_key}".encode()).hexdigest()[:24]
            if idempotency_key
            else f"msg-{uuid.uuid4().hex}"
        )
        if idempotency_key and (existing := await self.messages.get(message_id)):
            return existing
        side = side_of(principal.role)
        audit = AuditEntry(
            actor_id=principal.user_id,
            actor_role=principal.role,
            partner_id=thread.partner_id,
            action="message.post",
            target_type="thread",
            target_id=thread_id,
            detail={"message_id": message_id},
        )
        message = await self._add(thread, message_id, principal.user_id, side, body, [audit])
        await self.threads.mark_read(thread_id, side, message.seq)  # the author has read it
        return message

    async def mark_read(self, principal: Principal, thread_id: str) -> ThreadView:
        thread = await self._thread(principal, thread_id)
        await self.threads.mark_read(thread_id, side_of(principal.role), thread.message_count)
        return await self.thread(principal, thread_id)

    # ------------------------------------------------------------------ from events

    async def company_known(self, partner_id: str, company_id: str, name: str | None) -> None:
        await self.threads.ensure(partner_id=partner_id, company_id=company_id, company_name=name)

    async def system_note(self, event: EventEnvelope[Any], partner_id: str, company_id: str, note: Note) -> bool:
        """A note in the company's thread, once per event id however often it is delivered. It is
        stored as its code and parameters (each reader reads it in their language), with its text
        in the default language beside them for readers that know no codes."""
        await self.threads.ensure(partner_id=partner_id, company_id=company_id, company_name=None)
        message_id = f"note-{event.id}"
        if await self.messages.get(message_id):
            return False
        thread = await self.threads.get(thread_id_for(company_id), (partner_id,))
        if thread is None:  # cannot happen after ensure; a defensive guard
            raise ThreadNotFound(thread_id_for(company_id))
        body = note.text(DEFAULT_LANGUAGE) or note.code
        await self._add(thread, message_id, SYSTEM_AUTHOR, Side.SYSTEM, body, [], causation=event, note=note)
        return True

    async def note_cancellation_requested(self, event: EventEnvelope[Any]) -> bool:
        data = event.data
        return await self.system_note(
            event, data.partner_id, data.company_id, cancellation_note(data.instance_id, data.reason)
        )

    async def note_license_revoked(self, event: EventEnvelope[Any]) -> bool:
        data = event.data
        return await self.system_note(
            event,
            data.partner_id,
            data.company_id,
            license_revoked_note(data.license_id, data.pin, data.serial, data.reason),
        )

    # ------------------------------------------------------------------ helpers

    async def _thread(self, principal: Principal, thread_id: str) -> Thread:
        thread = await self.threads.get(thread_id, self.visible_partners(principal))
        if thread is None:
            raise ThreadNotFound(thread_id)
        return thread

    async def _add(
        self,
        thread: Thread,
        message_id: str,
        author_id: str,
        side: Side,
        body: str,
        audit: list[AuditEntry],
        *,
        causation: EventEnvelope[Any] | None = None,
        note: Note | None = None,
    ) -> Message:
        at = self.now()
        seq = await self.threads.next_message(thread.id, side=side, preview=preview(body), at=at, note=note)
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
            ),
            source=SOURCE,
            correlation_id=causation.correlation_id if causation else None,
            causation_id=causation.id if causation else None,
        )
        if not await self.messages.add(message, [*audit, event]):
            existing = await self.messages.get(message_id)
            if existing is None:  # pragma: no cover - add reported a duplicate that is not there
                raise RuntimeError(f"message {message_id} vanished")
            return existing
        return message
