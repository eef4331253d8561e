"""What the support use cases need from the outside world."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from contracts import EventEnvelope
from servicekit.audit import AuditEntry
from servicekit.pagination import Page
from support.domain.model import Message, Note, Side, Thread

Pending = EventEnvelope[Any] | AuditEntry


@dataclass(frozen=True)
class ThreadQuery:
    partner_ids: tuple[str, ...]
    text: str | None = None
    limit: int = 20
    cursor: str | None = None


class ThreadRepository(Protocol):
    async def ensure(self, *, partner_id: str, company_id: str, company_name: str | None) -> None:
        """Create the company's thread if missing; keep the company's name current."""

    async def get(self, thread_id: str, partner_ids: tuple[str, ...]) -> Thread | None: ...

    async def search(self, query: ThreadQuery) -> Page[Thread]: ...

    async def next_message(
        self, thread_id: str, *, side: Side, preview: str, at: datetime, note: Note | None = None
    ) -> int:
        """Reserve the next sequence number and record it as the thread's last message, unread
        for the sides other than `side`."""

    async def mark_read(self, thread_id: str, side: Side, up_to: int) -> None:
        """Move the side's read mark forwards to `up_to`; the messages after it stay unread."""

    async def forget_message(self, thread_id: str, *, side: Side, seq: int) -> None:
        """The message reserved as `seq` was not stored (its id was, before): no longer unread."""


class MessageRepository(Protocol):
    async def get(self, message_id: str) -> Message | None: ...

    async def add(self, message: Message, pending: list[Pending]) -> bool:
        """False when a message with that id exists already (a retried request or event)."""

    async def page(self, thread_id: str, limit: int, cursor: str | None) -> Page[Message]: ...
