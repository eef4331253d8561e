"""Request and response bodies of the support API.

Responses are read from the domain objects (`from_attributes`); the few values that depend on
the reader (a message's direction from their side, a note's text in their language) are given
beside the object by `for_reader`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from servicekit.api import PageOut, ResponseModel
from servicekit.auth import CurrentPrincipal
from servicekit.i18n import Language, ReaderLanguage
from support.domain import search as words
from support.domain.canned import CannedReply
from support.domain.model import Direction, Message, Side, Thread, direction, side_of
from support.service_layer.ports import Found
from support.service_layer.queries import LanguageBasis, Preview, ThreadView

MAX_BODY_CHARS = 5000
MAX_CANNED_TITLE_CHARS = 200
AttachmentId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^att-[0-9a-f]{32}$")]


@dataclass(frozen=True)
class Reader:
    """Who reads an answer: their side of the conversation and their language."""

    side: Side
    language: Language


def reader_of(principal: CurrentPrincipal, language: ReaderLanguage) -> Reader:
    return Reader(side_of(principal.role), language)


CurrentReader = Annotated[Reader, Depends(reader_of)]


class _ForReader:
    """`subject`'s attributes, with `seen` in place of (or besides) those that depend on the reader."""

    def __init__(self, subject: object, **seen: object) -> None:
        self._subject = subject
        self.__dict__.update(seen)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._subject, name)


class MessageIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"body": "The terminal of Marta does not sync since yesterday."}]},
    )

    attachment_ids: list[AttachmentId] = Field(
        default_factory=list, max_length=10, description="Uploads of this thread by the caller's side, not used yet"
    )
    canned_reply_id: str | None = Field(
        default=None, max_length=64, description="Staff: the canned reply used (its attachments are sent too)"
    )
    body: str = Field(
        default="", max_length=MAX_BODY_CHARS, validate_default=True, description="May be empty when it carries files"
    )
    # `body` comes last: its check sees whether files come with it.

    @field_validator("body")
    @classmethod
    def _printable(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        if not value and not info.data.get("attachment_ids") and not info.data.get("canned_reply_id"):
            raise PydanticCustomError("message_empty", "the message is empty")
        if any(ord(ch) < 32 and ch not in "\n\t" for ch in value):
            raise PydanticCustomError("control_characters", "control characters are not allowed")
        return value


class AttachmentOut(ResponseModel):
    id: str
    filename: str = Field(description="As uploaded, without any path, with the extension of its checked type")
    content_type: str = Field(description="Checked from the bytes: image/jpeg, image/png, image/webp, application/pdf")
    size: int = Field(description="Bytes, as stored (images re-encoded without metadata)")
    width: int | None
    height: int | None
    has_thumbnail: bool
    created_at: datetime


class NoteOut(ResponseModel):
    code: str = Field(description="What a system note says, e.g. license_revoked: clients may word it themselves")
    params: dict[str, str] = Field(description="The values its text names")


class LastMessageOut(ResponseModel):
    preview: str = Field(description="In the reader's language (Accept-Language) when it is a system note")
    side: Side
    direction: Direction
    at: datetime
    note: NoteOut | None = Field(default=None, description="Set when the last message is a system note")

    @classmethod
    def for_reader(cls, thread: Thread, reader: Reader) -> LastMessageOut | None:
        shown = thread.last_preview_in(reader.language)
        if thread.last_side is None or shown is None:
            return None
        return cls(
            preview=shown,
            side=thread.last_side,
            direction=direction(thread.last_side, reader.side),
            at=thread.last_message_at,
            note=thread.last_note,  # a domain Note, read by its attributes
        )


class ContactOut(ResponseModel):
    name: str = Field(description="The display name of the partner's user who last wrote in the thread")
    language: Language | None = Field(description="Their language (es/en), when their session says")


class ThreadOut(ResponseModel):
    id: str
    partner_id: str
    company_id: str
    company_name: str | None = Field(description="None until the company's data arrives")
    message_count: int
    unread: int = Field(description="Messages from the other side (and system notes) the viewer's side has not read")
    last_message: LastMessageOut | None
    created_at: datetime
    partner_last_read_at: datetime | None = Field(description="When the partner last read the thread")
    support_last_read_at: datetime | None = Field(description="When support last read the thread")
    partner_contact: ContactOut | None = Field(
        description="The partner's user who last wrote (kept on write); null until one with a name writes"
    )

    @classmethod
    def for_reader(cls, view: ThreadView, reader: Reader) -> ThreadOut:
        last = LastMessageOut.for_reader(view.thread, reader)
        return cls.model_validate(_ForReader(view.thread, unread=view.unread, last_message=last))


class MessageOut(ResponseModel):
    id: str
    thread_id: str
    seq: int
    author_id: str
    author_name: str = Field(
        description="The author's display name when they wrote it; empty for system notes and older messages"
    )
    author_side: Side
    direction: Direction = Field(description="sent or received relative to the viewer (R-13), or system")
    body: str = Field(description="The text: as written, or a system note in the reader's language (Accept-Language)")
    text: str = Field(description="The same text (what the reader reads)")
    note: NoteOut | None = Field(
        default=None, description="System notes: code and parameters (absent on notes stored before codes)"
    )
    attachments: list[AttachmentOut] = Field(description="The files it carries")
    read_by_other_side_at: datetime | None = Field(
        description="A partner's message: when support read it; support's: when the partner read it; null: unread"
    )
    created_at: datetime

    @classmethod
    def for_reader(cls, message: Message, reader: Reader) -> MessageOut:
        text = message.text(reader.language)
        seen = direction(message.author_side, reader.side)
        return cls.model_validate(_ForReader(message, direction=seen, body=text, text=text))


class ThreadPage(PageOut[ThreadOut]): ...


class MessagePage(PageOut[MessageOut]):
    items: list[MessageOut] = Field(description="Newest first")


class Languages(BaseModel):
    model_config = ConfigDict(extra="forbid")

    es: str = Field(min_length=1, max_length=MAX_BODY_CHARS)
    en: str = Field(min_length=1, max_length=MAX_BODY_CHARS)


class Titles(Languages):
    es: str = Field(min_length=1, max_length=MAX_CANNED_TITLE_CHARS)
    en: str = Field(min_length=1, max_length=MAX_CANNED_TITLE_CHARS)


class LanguagesPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    es: str | None = Field(default=None, min_length=1, max_length=MAX_BODY_CHARS)
    en: str | None = Field(default=None, min_length=1, max_length=MAX_BODY_CHARS)


class CannedReplyIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": {"es": "Renovación", "en": "Renewal"},
                    "text": {
                        "es": "Hola, la instancia {{instance.name}} caduca el {{instance.expiry_date}}.",
                        "en": "Hello, instance {{instance.name}} expires on {{instance.expiry_date}}.",
                    },
                }
            ]
        },
    )

    title: Titles
    text: Languages
    attachment_ids: list[AttachmentId] = Field(
        default_factory=list, max_length=10, description="Uploads of POST /support/canned-replies/attachments"
    )


class CannedReplyPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: LanguagesPatch | None = None
    text: LanguagesPatch | None = None
    attachment_ids: list[AttachmentId] | None = Field(default=None, max_length=10, description="The new list")


class CannedReplyOut(ResponseModel):
    id: str
    title: dict[str, str] = Field(description="es and en")
    text: dict[str, str] = Field(description="es and en, with {{variables}}")
    variables: list[str] = Field(description="The variables its texts name")
    attachments: list[AttachmentOut]
    created_at: datetime
    updated_at: datetime
    created_by: str

    @classmethod
    def of(cls, reply: CannedReply) -> CannedReplyOut:
        return cls.model_validate(reply)


class CannedReplyPage(PageOut[CannedReplyOut]): ...


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: Language | None = Field(
        default=None,
        description="Default: the language of the thread's partner contact (who reads the reply), else es",
    )


class PreviewOut(BaseModel):
    language: Language = Field(description="The language the reply is filled in (its dates too)")
    language_basis: LanguageBasis = Field(
        description="Why that language: asked for in the request, the thread's partner contact's, or the default (es)"
    )
    title: str
    text: str = Field(description="With the variables filled; unknown ones and those without a value as written")
    unknown_variables: list[str]
    missing_values: list[str] = Field(description="Known variables the thread has no value for")
    attachments: list[AttachmentOut]

    @classmethod
    def of(cls, preview: Preview) -> PreviewOut:
        filled = preview.filled
        return cls(
            language=filled.language,
            language_basis=preview.language_basis,
            title=filled.title,
            text=filled.text,
            unknown_variables=filled.unknown_variables,
            missing_values=filled.missing_values,
            attachments=[AttachmentOut.model_validate(a) for a in preview.attachments],
        )


class SearchHitOut(BaseModel):
    thread_id: str
    message_id: str
    partner_id: str
    company_id: str
    company_name: str | None
    author_side: Side
    author_id: str = Field(description="The author's user id, or `system` for notes")
    author_name: str = Field(
        description="The author's display name when they wrote it; empty for notes and older messages"
    )
    posted_at: datetime
    snippet: str = Field(description=f"At most {words.SNIPPET_CHARS} characters around the match")
    highlights: list[tuple[int, int]] = Field(description="[start, end) offsets of the matched words in the snippet")

    @classmethod
    def of(cls, found: Found, asked: list[str], reader: Reader) -> SearchHitOut:
        message = found.message
        text = message.text(reader.language)
        shown, highlights = words.snippet(text, asked)
        return cls(
            thread_id=message.thread_id,
            message_id=message.id,
            partner_id=message.partner_id,
            company_id=message.company_id,
            company_name=found.company_name,
            author_side=message.author_side,
            author_id=message.author_id,
            author_name=message.author_name,
            posted_at=message.created_at,
            snippet=shown,
            highlights=highlights,
        )


class SearchPage(PageOut[SearchHitOut]):
    items: list[SearchHitOut] = Field(description="Newest first")
