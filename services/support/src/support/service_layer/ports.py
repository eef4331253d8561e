"""What the support use cases need from the outside world."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from contracts import EventEnvelope
from servicekit.audit import AuditEntry
from servicekit.pagination import Page
from support.domain.attachments import CheckedFile
from support.domain.canned import CannedReply
from support.domain.model import AttachmentRef, Contact, Message, Note, Side, Thread, ThreadContext

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
        self,
        thread_id: str,
        *,
        side: Side,
        preview: str,
        at: datetime,
        note: Note | None = None,
        contact: Contact | None = None,
    ) -> int:
        """Reserve the next sequence number and record it as the thread's last message, unread
        for the sides other than `side`; `contact` (a partner user writing) becomes the thread's
        partner contact in the same write (its language only when it has one)."""

    async def mark_read(self, thread_id: str, side: Side, up_to: int, *, at: datetime | None = None) -> None:
        """Move the side's read mark forwards to `up_to` (read `at`); the messages after it stay unread."""

    async def forget_message(self, thread_id: str, *, side: Side, seq: int) -> None:
        """The message reserved as `seq` was not stored (its id was, before): no longer unread."""

    async def note_context(self, company_id: str, partner_id: str, context: ThreadContext) -> None:
        """Keep the facts of `context` that are set (the others stay as they were)."""


class MessageRepository(Protocol):
    async def get(self, message_id: str) -> Message | None: ...

    async def add(self, message: Message, pending: list[Pending]) -> bool:
        """False when a message with that id exists already (a retried request or event)."""

    async def page(self, thread_id: str, limit: int, cursor: str | None) -> Page[Message]: ...


@dataclass(frozen=True)
class StoredAttachment:
    """An attachment's record: who uploaded it where, and whether a message (or a canned reply) uses it."""

    ref: AttachmentRef
    owner: str
    """`thread` (uploaded into a thread) or `canned` (a canned reply's)."""
    thread_id: str | None
    partner_id: str | None
    side: Side
    uploader_id: str
    message_id: str | None = None
    canned_reply_id: str | None = None


class AttachmentRepository(Protocol):
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
        """Store the bytes (and thumbnail) and the record, with its audit entry; a given id stored
        already (a retried keyed upload) answers the stored one."""

    async def get_many(self, attachment_ids: list[str]) -> list[StoredAttachment]: ...

    async def claim(self, attachment_ids: list[str], *, message_id: str) -> list[str]:
        """Mark each unused one used by `message_id` (or already by it); the ids that were not."""

    async def claim_for_canned(self, attachment_ids: list[str], *, canned_reply_id: str) -> list[str]: ...

    async def copy_into(
        self, source: StoredAttachment, *, thread_id: str, partner_id: str, side: Side, uploader_id: str, at: datetime
    ) -> StoredAttachment:
        """A thread's own copy of a canned reply's attachment (its bytes copied)."""

    def open(self, attachment: StoredAttachment, *, thumbnail: bool) -> AsyncIterator[bytes]: ...

    async def remove(self, attachment_ids: list[str]) -> None: ...

    async def remove_unused(self, older_than: datetime) -> int:
        """Remove uploads no message or canned reply took before `older_than`; how many."""


@dataclass(frozen=True)
class SearchQuery:
    partner_ids: tuple[str, ...]
    tokens: list[str]
    company_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 20
    cursor: str | None = None


@dataclass(frozen=True)
class Found:
    message: Message
    company_name: str | None


class SearchIndex(Protocol):
    async def index(self, messages: list[Message]) -> None:
        """Index the messages' words (idempotent: indexing twice changes nothing)."""

    async def search(self, query: SearchQuery) -> Page[Found]: ...

    async def reindex_pending(self, limit: int = 500) -> int:
        """Index the messages stored but not indexed (a crash between the two writes); how many."""


@dataclass(frozen=True)
class CannedQuery:
    tokens: list[str]
    limit: int = 20
    cursor: str | None = None


class CannedReplyRepository(Protocol):
    async def add(self, reply: CannedReply, pending: list[Pending]) -> None: ...

    async def get(self, reply_id: str) -> CannedReply | None: ...

    async def replace(self, reply: CannedReply, pending: list[Pending]) -> bool: ...

    async def delete(self, reply_id: str, pending: list[Pending]) -> bool: ...

    async def search(self, query: CannedQuery) -> Page[CannedReply]: ...


class PartnerNames(Protocol):
    """The partners' names, kept from the gateway's `partner.updated` events."""

    async def put(self, partner_id: str, name: str) -> None: ...

    async def name(self, partner_id: str) -> str | None:
        """None while no event has named the partner."""
