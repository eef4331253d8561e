"""What the support service answers: the threads and messages a caller may see (R-10..R-14).

Threads are visible to the partner they belong to, and to staff associated with that partner:
another partner's thread id is "not found".
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from servicekit.errors import DomainError, InvalidInput, NotFound, PartnerNotAllowed
from servicekit.handlers import HandlerTable
from servicekit.pagination import DEFAULT_LIMIT, Page
from servicekit.principal import Principal
from support.domain import search as words
from support.domain.canned import LANGUAGES, CannedReply, Filled, fill
from support.domain.model import AttachmentRef, Message, Thread, side_of
from support.service_layer.ports import (
    AttachmentRepository,
    CannedQuery,
    CannedReplyRepository,
    Found,
    MessageRepository,
    PartnerNames,
    SearchIndex,
    SearchQuery,
    StoredAttachment,
    ThreadQuery,
    ThreadRepository,
)


class StaffOnly(DomainError):
    status = 403
    slug = "forbidden"


def require_staff(principal: Principal) -> None:
    """Canned replies are the support team's: partner users are refused."""
    if not principal.is_staff:
        raise StaffOnly("Only the support team uses canned replies.")


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


@dataclass(frozen=True)
class Download:
    attachment: StoredAttachment
    chunks: AsyncIterator[bytes]


LanguageBasis = Literal["asked", "partner_contact", "default"]


@dataclass(frozen=True)
class Preview:
    filled: Filled
    attachments: tuple[AttachmentRef, ...]
    language_basis: LanguageBasis = "default"
    """Why `filled.language`: asked for, the language of the thread's partner contact, or the default."""


def reader_language(thread: Thread, asked: str | None) -> tuple[str, LanguageBasis]:
    """The language a reply is previewed in: the one asked for, else that of the partner's user
    who last wrote in the thread (the reply's reader), else Spanish."""
    if asked in LANGUAGES:
        return str(asked), "asked"
    contact = thread.partner_contact
    if contact is not None and contact.language in LANGUAGES:
        return str(contact.language), "partner_contact"
    return LANGUAGES[0], "default"


@dataclass
class SupportQueries:
    threads: ThreadRepository
    messages: MessageRepository
    attachments: AttachmentRepository | None = None
    index: SearchIndex | None = None

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
        """A thread's messages, newest first, each with when the other side read it (from the
        thread's read marks: no query per message)."""
        thread = await visible_thread(self.threads, principal, thread_id)
        page = await self.messages.page(thread_id, limit, cursor)
        items = [replace(m, read_by_other_side_at=thread.read_by_other_side_at(m)) for m in page.items]
        return Page(items, page.next_cursor)

    async def download_attachment(
        self, principal: Principal, thread_id: str, attachment_id: str, *, thumbnail: bool = False
    ) -> Download:
        """An attachment of a thread the caller sees: sent ones to both sides, an upload not
        sent yet only to its side; anything else (another partner's) is "not found"."""
        thread = await visible_thread(self.threads, principal, thread_id)
        if self.attachments is None:  # pragma: no cover - wired in bootstrap
            raise NotFound("attachment", attachment_id)
        found = await self.attachments.get_many([attachment_id])
        stored = found[0] if found else None
        if (
            stored is None
            or stored.owner != "thread"
            or stored.thread_id != thread.id
            or stored.partner_id != thread.partner_id
            or (stored.message_id is None and stored.side != side_of(principal.role))
            or (thumbnail and not stored.ref.has_thumbnail)
        ):
            raise NotFound("thumbnail" if stored and thumbnail else "attachment", attachment_id)
        return Download(stored, self.attachments.open(stored, thumbnail=thumbnail))

    async def search_messages(
        self,
        principal: Principal,
        q: str,
        *,
        partner_id: str | None = None,
        company_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> Page[Found]:
        """Every message of every thread the caller sees, by its words (accent- and
        case-insensitive), newest first; no time limit."""
        asked = words.query_tokens(q)
        if not asked:
            raise InvalidInput.of_field("q", "search_words", "name at least one word of two characters or more")
        if since and until and since >= until:
            raise InvalidInput.of_field("from", "window_order", "from must be before to")
        partners = visible_partners(principal, partner_id)
        if self.index is None:  # pragma: no cover - wired in bootstrap
            return Page([], None)
        query = SearchQuery(partners, asked, company_id, since, until, limit, cursor)
        return await self.index.search(query)


@dataclass
class CannedReplyQueries:
    replies: CannedReplyRepository
    threads: ThreadRepository
    partners: PartnerNames | None = None

    async def list_canned_replies(
        self, principal: Principal, *, q: str | None = None, limit: int = DEFAULT_LIMIT, cursor: str | None = None
    ) -> Page[CannedReply]:
        """The library, most recently changed first; `q` matches words (and word starts) of titles
        and texts in either language, accent- and case-insensitive."""
        require_staff(principal)
        asked = words.query_tokens(q) if q else []
        if q and not asked:
            raise InvalidInput.of_field("q", "search_words", "name at least one word of two characters or more")
        return await self.replies.search(CannedQuery(asked, limit, cursor))

    async def get_canned_reply(self, principal: Principal, reply_id: str) -> CannedReply:
        require_staff(principal)
        reply = await self.replies.get(reply_id)
        if reply is None:
            raise NotFound("canned reply", reply_id)
        return reply

    async def preview_canned_reply(
        self,
        principal: Principal,
        thread_id: str,
        reply_id: str,
        *,
        language: str | None = None,
    ) -> Preview:
        """The reply as its reader would read it in the thread: its variables filled from what
        the support service knows of the company (events), of the partner (`partner.updated`), of
        the partner user who last wrote and of the caller (the agent), in the language asked for
        or else the partner contact's (dates in it too); variables it does not know and values
        the thread lacks are listed. Three lookups by id, whatever the reply says."""
        require_staff(principal)
        thread = await visible_thread(self.threads, principal, thread_id)
        reply = await self.get_canned_reply(principal, reply_id)
        partner_name = await self.partners.name(thread.partner_id) if self.partners is not None else None
        chosen, basis = reader_language(thread, language)
        filled = fill(reply, context_values(thread, agent_name=principal.name, partner_name=partner_name), chosen)
        return Preview(filled, reply.attachments, basis)


def context_values(thread: Thread, *, agent_name: str | None, partner_name: str | None) -> dict[str, object]:
    """The variables' values for a thread (None or empty: not known to the support service)."""
    context = thread.context
    contact = thread.partner_contact
    return {
        "company.name": thread.company_name,
        "company.tax_id": context.company_tax_id,
        "instance.name": context.instance_name,
        "instance.type": context.instance_type,
        "instance.expiry_date": context.instance_expiry_date,
        "license.user": context.license_user,
        "partner.name": partner_name,
        "partner.contact": contact.name if contact else None,
        "agent.name": agent_name or None,
    }


QUERY_HANDLERS: HandlerTable = {
    "list_threads": SupportQueries.list_threads,
    "get_thread": SupportQueries.get_thread,
    "list_messages": SupportQueries.list_messages,
    "download_attachment": SupportQueries.download_attachment,
    "search_messages": SupportQueries.search_messages,
    "list_canned_replies": CannedReplyQueries.list_canned_replies,
    "get_canned_reply": CannedReplyQueries.get_canned_reply,
    "preview_canned_reply": CannedReplyQueries.preview_canned_reply,
}
