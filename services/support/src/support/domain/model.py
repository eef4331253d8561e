"""Support threads: one per customer company, a conversation between the partner and the
vendor's support team (R-10..R-14), with system notes for events worth a word in the thread."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from contracts.events.support import NOTE_LANGUAGES, NoteCode, render_note

PREVIEW_CHARS = 140
DEFAULT_LANGUAGE = NOTE_LANGUAGES[0]


class Side(StrEnum):
    PARTNER = "partner"
    SUPPORT = "support"
    SYSTEM = "system"


class Direction(StrEnum):
    SENT = "sent"
    RECEIVED = "received"
    SYSTEM = "system"


def thread_id_for(company_id: str) -> str:
    """One thread per company: its id follows from the company's, so creating it is idempotent."""
    return f"thr-{company_id}"


def side_of(role: str) -> Side:
    """Partner users speak for the partner; staff are the vendor's support team."""
    return Side.SUPPORT if role == "staff" else Side.PARTNER


def readers_of(author_side: Side) -> tuple[Side, ...]:
    """The sides a new message is unread for: the other side's, or both for a system note."""
    return tuple(side for side in (Side.PARTNER, Side.SUPPORT) if side != author_side)


def direction(author_side: Side, viewer_side: Side) -> Direction:
    """How a message looks to the viewer (R-13): their side's are sent, the other's received."""
    if author_side == Side.SYSTEM:
        return Direction.SYSTEM
    return Direction.SENT if author_side == viewer_side else Direction.RECEIVED


def preview(body: str) -> str:
    flat = " ".join(body.split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "…"


@dataclass(frozen=True)
class ThreadContext:
    """The company's facts kept from events: `company.*` (tax id), the latest
    `instance.provisioned` (name, type, expiry) and `license.*` of the thread."""

    company_tax_id: str | None = None
    instance_id: str | None = None
    instance_name: str | None = None
    instance_type: str | None = None
    instance_expiry_date: date | None = None
    license_user: str | None = None


@dataclass(frozen=True)
class Contact:
    """The partner's user who last wrote in a thread (kept on write): whom canned replies name as
    `{{partner.contact}}`, and the language they read."""

    name: str
    language: str | None = None


@dataclass(frozen=True)
class Thread:
    id: str
    partner_id: str
    company_id: str
    company_name: str | None
    created_at: datetime
    last_message_at: datetime
    last_preview: str | None
    last_side: Side | None
    message_count: int
    read_partner: int
    read_support: int
    last_note: Note | None = None
    """When the last message is a system note: what it says, to preview in the reader's language."""
    unread_partner: int = 0
    unread_support: int = 0
    """Kept on write: the messages from the other side (and system notes) after the side's read mark."""
    partner_last_read_at: datetime | None = None
    support_last_read_at: datetime | None = None
    """When each side last moved its read mark (None: never, or before this was kept)."""
    context: ThreadContext = field(default_factory=ThreadContext)
    """What the support service knows of the company from events (canned replies' variables)."""
    partner_contact: Contact | None = None
    """None until a partner user who carries a name or language writes in it."""

    def read_mark(self, side: Side) -> int:
        return self.read_support if side == Side.SUPPORT else self.read_partner

    def read_by_other_side_at(self, message: Message) -> datetime | None:
        """When the side that did not write `message` read it (its read mark covers the message):
        the time of that side's latest read; None while unread, and for system notes."""
        if message.author_side == Side.SYSTEM:
            return None
        other = Side.SUPPORT if message.author_side == Side.PARTNER else Side.PARTNER
        if self.read_mark(other) < message.seq:
            return None
        return self.support_last_read_at if other == Side.SUPPORT else self.partner_last_read_at

    def unread(self, side: Side) -> int:
        return self.unread_support if side == Side.SUPPORT else self.unread_partner

    def last_preview_in(self, language: str) -> str | None:
        rendered = self.last_note.text(language) if self.last_note else None
        return preview(rendered) if rendered is not None else self.last_preview


@dataclass(frozen=True)
class AttachmentRef:
    """An attachment as a message names it (its bytes are stored apart)."""

    id: str
    filename: str
    content_type: str
    size: int
    width: int | None
    height: int | None
    has_thumbnail: bool
    created_at: datetime


@dataclass(frozen=True)
class Note:
    """A system note as a code and its parameters: each reader reads it in their own language."""

    code: str
    params: Mapping[str, str] = field(default_factory=dict)

    def text(self, language: str) -> str | None:
        """None for a code this version does not know (the stored text is shown instead)."""
        return render_note(self.code, self.params, language)


@dataclass(frozen=True)
class Message:
    id: str
    thread_id: str
    partner_id: str
    company_id: str
    seq: int
    author_id: str
    author_side: Side
    body: str
    """The text as written; for a system note, rendered in the default language when stored (notes
    stored before they had a code have only this, in English)."""
    created_at: datetime
    note: Note | None = None
    attachments: tuple[AttachmentRef, ...] = ()
    read_by_other_side_at: datetime | None = None
    """Set when read (from the thread's read marks): when the side that did not write it read it."""
    author_name: str = ""
    """The author's display name when they wrote it (empty: a system note, or stored before names were kept)."""

    def text(self, language: str) -> str:
        """What the reader reads: a note in their language, anything else as written."""
        rendered = self.note.text(language) if self.note else None
        return rendered if rendered is not None else self.body


def cancellation_note(instance_id: str, reason: str) -> Note:
    return Note(NoteCode.CANCELLATION_REQUESTED.value, {"instance_id": instance_id, "reason": reason})


def license_revoked_note(license_id: str, pin: str, serial: str | None, reason: str) -> Note:
    params = {"license_id": license_id, "pin": pin, "reason": reason}
    if serial:
        return Note(NoteCode.LICENSE_REVOKED_ON_TERMINAL.value, params | {"serial": serial})
    return Note(NoteCode.LICENSE_REVOKED.value, params)
