"""What the support service answers: the threads and messages a caller may see (R-10..R-14).

Threads are visible to the partner they belong to, and to staff associated with that partner:
another partner's thread id is "not found".
"""

from __future__ import annotations

from dataclasses import dataclass

from servicekit.errors import NotFound, PartnerNotAllowed
from servicekit.handlers import HandlerTable
from servicekit.pagination import DEFAULT_LIMIT, Page
from servicekit.principal import Principal
from support.domain.model import Message, Thread, side_of
from support.service_layer.ports import MessageRepository, ThreadQuery, ThreadRepository


@dataclass(frozen=True)
class ThreadView:
    """A thread as the caller's side sees it: with the messages that side has not read."""

    thread: Thread
    unread: int


def visible_partners(principal: Principal, partner_id: str | None = None) -> tuple[str, ...]:
    """Partner users see their partner; staff every partner they are associated with (R-11),
    or the one they filter by."""
    allowed = sorted(principal.partner_ids) if principal.is_staff else [principal.partner_id]
    if partner_id is None:
        return tuple(allowed)
    if partner_id not in allowed:
        raise PartnerNotAllowed(partner_id)
    return (partner_id,)


async def visible_thread(threads: ThreadRepository, principal: Principal, thread_id: str) -> Thread:
    """The thread, if the caller may see it; "not found" otherwise (also for another partner's)."""
    thread = await threads.get(thread_id, visible_partners(principal))
    if thread is None:
        raise NotFound("thread", thread_id)
    return thread


def view_of(thread: Thread, principal: Principal) -> ThreadView:
    """The unread count comes with the thread (kept on write): no query per thread."""
    return ThreadView(thread, thread.unread(side_of(principal.role)))


@dataclass
class SupportQueries:
    threads: ThreadRepository
    messages: MessageRepository

    async def list_threads(
        self,
        principal: Principal,
        *,
        partner_id: str | None = None,
        text: str | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[ThreadView]:
        """The caller's threads (staff: of their partners, or of the one named), most recent
        first; `text` matches the company name."""
        query = ThreadQuery(visible_partners(principal, partner_id), text=text, limit=limit, cursor=cursor)
        page = await self.threads.search(query)
        return Page([view_of(t, principal) for t in page.items], page.next_cursor)

    async def get_thread(self, principal: Principal, thread_id: str) -> ThreadView:
        return view_of(await visible_thread(self.threads, principal, thread_id), principal)

    async def list_messages(
        self, principal: Principal, thread_id: str, *, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[Message]:
        """A thread's messages, newest first."""
        await visible_thread(self.threads, principal, thread_id)
        return await self.messages.page(thread_id, limit, cursor)


QUERY_HANDLERS: HandlerTable = {
    "list_threads": SupportQueries.list_threads,
    "get_thread": SupportQueries.get_thread,
    "list_messages": SupportQueries.list_messages,
}
