"""Events of the support service."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, Field, StringConstraints

from contracts.events.common import Id, Payload


class AuthorSide(StrEnum):
    PARTNER = "partner"
    SUPPORT = "support"
    SYSTEM = "system"


class NoteCode(StrEnum):
    """What a system note says; its words come from `NOTE_TEXTS` in the reader's language."""

    CANCELLATION_REQUESTED = "cancellation_requested"
    LICENSE_REVOKED = "license_revoked"
    LICENSE_REVOKED_ON_TERMINAL = "license_revoked_on_terminal"


NOTE_LANGUAGES = ("es", "en")
"""The product's languages; Spanish first (the default)."""

# One table for every reader of the codes (the support service, the gateway's notifications);
# the web app keeps the same texts in its own i18n (sections/support/texts.ts, `notes`).
NOTE_TEXTS: Mapping[NoteCode, Mapping[str, str]] = {
    NoteCode.CANCELLATION_REQUESTED: {
        "es": "Se ha solicitado la cancelación de la instancia {instance_id}. Motivo: {reason}",
        "en": "Cancellation requested for instance {instance_id}. Reason: {reason}",
    },
    NoteCode.LICENSE_REVOKED: {
        "es": "Se ha revocado la licencia {license_id} (PIN {pin}). Motivo: {reason}",
        "en": "License {license_id} (PIN {pin}) was revoked. Reason: {reason}",
    },
    NoteCode.LICENSE_REVOKED_ON_TERMINAL: {
        "es": "Se ha revocado la licencia {license_id} (PIN {pin}, terminal {serial}). Motivo: {reason}",
        "en": "License {license_id} (PIN {pin}, terminal {serial}) was revoked. Reason: {reason}",
    },
}


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""  # a parameter an older producer did not send reads as nothing, never as an error


def render_note(code: str, params: Mapping[str, str], language: str) -> str | None:
    """The note in `language` (Spanish for any other); None for a code this version does not know."""
    try:
        texts = NOTE_TEXTS[NoteCode(code)]
    except ValueError:
        return None
    template = texts.get(language) or texts[NOTE_LANGUAGES[0]]
    # Parameters are values, never templates: format_map does not interpret what they contain.
    return template.format_map(_Blank(params))


NoteParam = Annotated[str, StringConstraints(max_length=2000)]


class AttachmentInfo(Payload):
    """A file a message carries, named (its bytes stay in the support service)."""

    id: Id
    filename: str = Field(min_length=1, max_length=255)
    content_type: str = Field(
        max_length=100, description="Checked from the bytes: image/jpeg, image/png, image/webp or application/pdf."
    )
    size: int = Field(ge=0, description="Bytes, as stored.")


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
    code: str | None = Field(
        default=None,
        max_length=64,
        description="System notes: what the note says (a NoteCode), to render in the reader's language.",
    )
    params: dict[str, NoteParam] | None = Field(
        default=None, max_length=20, description="System notes: the values the note's text names."
    )
    attachments: list[AttachmentInfo] = Field(
        default_factory=list,
        max_length=10,
        description="The files the message carries (added in v1; optional: events before it have none).",
    )
