"""Events of the support service."""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, Field

from contracts.events.common import Id, Payload


class AuthorSide(StrEnum):
    PARTNER = "partner"
    SUPPORT = "support"
    SYSTEM = "system"


class MessagePosted(Payload):
    """A message was added to a company's thread; the gateway turns it into notifications (R-06)."""

    message_id: Id
    thread_id: Id
    partner_id: Id
    company_id: Id
    author_id: Id
    author_side: AuthorSide
    preview: str = Field(max_length=280, description="First characters of the text, for notifications.")
    posted_at: AwareDatetime
