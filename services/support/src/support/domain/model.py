"""Support threads: one per customer company, a conversation between the partner and the
vendor's support team (R-10..R-14), with system notes for events worth a word in the thread."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
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

    def read_mark(self, side: Side) -> int:
        return self.read_support if side == Side.SUPPORT else self.read_partner

    def unread(self, side: Side) -> int:
        return self.unread_support if side == Side.SUPPORT else self.unread_partner

    def last_preview_in(self, language: str) -> str | None:
        rendered = self.last_note.text(language) if self.last_note else None
        return preview(rendered) if rendered is not None else self.last_preview


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
