"""What the support service's callers change: messages posted, threads read.

A message is stored with its `message.posted` event and audit entry in one write (outbox).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts import EventEnvelope, envelope_for, utc_now
from contracts.events.support import AuthorSide, MessagePosted
from servicekit.audit import AuditEntry
from servicekit.handlers import HandlerTable
from servicekit.principal import Principal
from support.domain.model import Message, Note, Side, Thread, preview, side_of
from support.service_layer.ports import MessageRepository, ThreadRepository
from support.service_layer.queries import ThreadView, view_of, visible_thread

SOURCE = "support"


@dataclass
class SupportCommands:
    threads: ThreadRepository
    messages: MessageRepository
    now: Callable[[], datetime] = utc_now

    async def post_message(
        self, principal: Principal, thread_id: str, body: str, *, idempotency_key: str | None = None
    ) -> Message:
        """Add a message for the caller's side; a retried request with the same key returns the
        message stored the first time."""
        thread = await visible_thread(self.threads, principal, thread_id)
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
        message = await add_message(
            self.threads,
            self.messages,
            thread,
            message_id=message_id,
            author_id=principal.user_id,
            side=side,
            body=body,
            at=self.now(),
            audit=[audit],
        )
        await self.threads.mark_read(thread_id, side, message.seq)  # the author has read it
        return message

    async def mark_read(self, principal: Principal, thread_id: str) -> ThreadView:
        """Every message of the thread read for the caller's side."""
        thread = await visible_thread(self.threads, principal, thread_id)
        await self.threads.mark_read(thread_id, side_of(principal.role), thread.message_count)
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
) -> Message:
    """Store a message as the thread's next, with its `message.posted` event (a posted message
    and a system note alike); a message id stored already answers the stored message."""
    seq = await threads.next_message(thread.id, side=side, preview=preview(body), at=at, note=note)
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
    if not await messages.add(message, [*audit, event]):
        await threads.forget_message(thread.id, side=side, seq=seq)
        existing = await messages.get(message_id)
        if existing is None:  # pragma: no cover - add reported a duplicate that is not there
            raise RuntimeError(f"message {message_id} vanished")
        return existing
    return message


COMMAND_HANDLERS: HandlerTable = {
    "post_message": SupportCommands.post_message,
    "mark_read": SupportCommands.mark_read,
}
