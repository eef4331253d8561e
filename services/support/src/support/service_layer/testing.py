"""The support use cases on in-memory repositories, for service-layer tests (no Kafka, no store).

`bootstrap_test_app()` wires them as `bootstrap.build_app` does with MongoDB; the fakes keep the
repositories' rules the use cases rely on (a message id stored once, read marks only forwards,
unread counts kept on write, threads scoped by partner, keyset pages newest first).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from servicekit.pagination import Page, decode_cursor, encode_cursor
from support.domain.model import Contact, Message, Note, Side, Thread, ThreadContext, readers_of, thread_id_for
from support.service_layer.commands import SupportCommands
from support.service_layer.event_handlers import SupportEventHandlers
from support.service_layer.ports import Pending, ThreadQuery
from support.service_layer.queries import SupportQueries

T = TypeVar("T")


class TickingClock:
    """A clock one second later at each reading: every message has a time of its own."""

    def __init__(self, start: datetime = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)) -> None:
        self._next = start

    def __call__(self) -> datetime:
        now, self._next = self._next, self._next + timedelta(seconds=1)
        return now


def _newest_first(items: list[T], key: Callable[[T], tuple[Any, str]], limit: int, cursor: str | None) -> Page[T]:
    """A keyset page in descending (sort value, id) order, with cursors as the store's."""
    ordered = sorted(items, key=key, reverse=True)
    if cursor is not None:
        after = decode_cursor(cursor)
        ordered = [item for item in ordered if key(item) < after]
    page = ordered[:limit]
    next_cursor = encode_cursor(*key(page[-1])) if len(ordered) > limit else None
    return Page(page, next_cursor)


@dataclass
class InMemoryThreadRepository:
    now: Callable[[], datetime]
    messages: InMemoryMessageRepository
    threads: dict[str, Thread] = field(default_factory=dict)

    async def ensure(self, *, partner_id: str, company_id: str, company_name: str | None) -> None:
        thread_id = thread_id_for(company_id)
        if (known := self.threads.get(thread_id)) is not None:
            if company_name:
                self.threads[thread_id] = replace(known, company_name=company_name)
            return
        now = self.now()
        self.threads[thread_id] = Thread(
            id=thread_id,
            partner_id=partner_id,
            company_id=company_id,
            company_name=company_name or None,
            created_at=now,
            last_message_at=now,
            last_preview=None,
            last_side=None,
            message_count=0,
            read_partner=0,
            read_support=0,
        )

    async def get(self, thread_id: str, partner_ids: tuple[str, ...]) -> Thread | None:
        thread = self.threads.get(thread_id)
        return thread if thread is not None and thread.partner_id in partner_ids else None

    async def search(self, query: ThreadQuery) -> Page[Thread]:
        text = query.text.casefold() if query.text else None
        found = [
            t
            for t in self.threads.values()
            if t.partner_id in query.partner_ids and (text is None or text in (t.company_name or "").casefold())
        ]
        return _newest_first(found, lambda t: (t.last_message_at, t.id), query.limit, query.cursor)

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
        thread = self.threads[thread_id]
        if contact is not None:  # as the store: the language stays when the writer has none
            known = thread.partner_contact.language if thread.partner_contact else None
            thread = replace(thread, partner_contact=Contact(contact.name, contact.language or known))
        readers = readers_of(side)
        self.threads[thread_id] = replace(
            thread,
            message_count=thread.message_count + 1,
            last_message_at=at,
            last_preview=preview,
            last_side=side,
            last_note=note,
            unread_partner=thread.unread_partner + (Side.PARTNER in readers),
            unread_support=thread.unread_support + (Side.SUPPORT in readers),
        )
        return thread.message_count + 1

    async def mark_read(self, thread_id: str, side: Side, up_to: int, *, at: datetime | None = None) -> None:
        thread = self.threads[thread_id]
        if thread.read_mark(side) >= up_to:  # only forwards, as the store's conditional update
            return
        # As the store: all read, or (messages posted after `up_to`) those counted again.
        left = 0 if thread.message_count <= up_to else self._count_unread(thread_id, side, up_to)
        thread = _with_side(thread, side, read=up_to, unread=left)
        when = at or self.now()
        read_at = {"support_last_read_at" if side == Side.SUPPORT else "partner_last_read_at": when}
        self.threads[thread_id] = replace(thread, **read_at)  # type: ignore[arg-type]

    async def note_context(self, company_id: str, partner_id: str, context: ThreadContext) -> None:
        thread = self.threads.get(thread_id_for(company_id))
        if thread is None or thread.partner_id != partner_id:
            return
        known = {k: v for k, v in vars(context).items() if v is not None}
        self.threads[thread.id] = replace(thread, context=replace(thread.context, **known))

    async def forget_message(self, thread_id: str, *, side: Side, seq: int) -> None:
        thread = self.threads[thread_id]
        for reader in readers_of(side):
            if thread.read_mark(reader) < seq and thread.unread(reader) > 0:
                thread = _with_side(thread, reader, read=thread.read_mark(reader), unread=thread.unread(reader) - 1)
        self.threads[thread_id] = thread

    def _count_unread(self, thread_id: str, side: Side, after: int) -> int:
        return sum(
            m.thread_id == thread_id and m.seq > after and m.author_side != side
            for m in self.messages.messages.values()
        )


def _with_side(thread: Thread, side: Side, *, read: int, unread: int) -> Thread:
    if side == Side.SUPPORT:
        return replace(thread, read_support=read, unread_support=unread)
    return replace(thread, read_partner=read, unread_partner=unread)


@dataclass
class InMemoryMessageRepository:
    messages: dict[str, Message] = field(default_factory=dict)
    pending: dict[str, list[Pending]] = field(default_factory=dict)
    """What each message was stored with for the outbox: its event and audit entries."""

    async def get(self, message_id: str) -> Message | None:
        return self.messages.get(message_id)

    async def add(self, message: Message, pending: list[Pending]) -> bool:
        if message.id in self.messages:
            return False
        self.messages[message.id] = message
        self.pending[message.id] = list(pending)
        return True

    async def page(self, thread_id: str, limit: int, cursor: str | None) -> Page[Message]:
        mine = [m for m in self.messages.values() if m.thread_id == thread_id]
        return _newest_first(mine, lambda m: (m.seq, m.id), limit, cursor)


@dataclass
class InMemoryPartnerNames:
    names: dict[str, str] = field(default_factory=dict)

    async def put(self, partner_id: str, name: str) -> None:
        self.names[partner_id] = name

    async def name(self, partner_id: str) -> str | None:
        return self.names.get(partner_id)


@dataclass
class SupportTestApp:
    commands: SupportCommands
    queries: SupportQueries
    event_handlers: SupportEventHandlers
    threads: InMemoryThreadRepository
    messages: InMemoryMessageRepository
    partners: InMemoryPartnerNames = field(default_factory=InMemoryPartnerNames)


def bootstrap_test_app(now: Callable[[], datetime] | None = None) -> SupportTestApp:
    clock = now or TickingClock()
    messages = InMemoryMessageRepository()
    threads = InMemoryThreadRepository(clock, messages)
    partners = InMemoryPartnerNames()
    return SupportTestApp(
        commands=SupportCommands(threads, messages, now=clock),
        queries=SupportQueries(threads, messages),
        event_handlers=SupportEventHandlers(threads, messages, now=clock, partners=partners),
        threads=threads,
        messages=messages,
        partners=partners,
    )
