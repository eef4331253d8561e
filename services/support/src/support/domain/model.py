"""Support threads: one per customer company, a conversation between the partner and the
vendor's support team (R-10..R-14), with system notes for events worth a word in the thread."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

PREVIEW_CHARS = 140


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

    def read_mark(self, side: Side) -> int:
        return self.read_support if side == Side.SUPPORT else self.read_partner


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
    created_at: datetime


def cancellation_note(instance_id: str, reason: str) -> str:
    return f"Cancellation requested for instance {instance_id}. Reason: {reason}"


def license_revoked_note(license_id: str, pin: str, serial: str | None, reason: str) -> str:
    terminal = f", terminal {serial}" if serial else ""
    return f"License {license_id} (PIN {pin}{terminal}) was revoked. Reason: {reason}"
