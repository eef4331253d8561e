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
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from servicekit.api import PageOut, ResponseModel
from servicekit.auth import CurrentPrincipal
from servicekit.i18n import Language, ReaderLanguage
from support.domain.model import Direction, Message, Side, Thread, direction, side_of
from support.service_layer.queries import ThreadView

MAX_BODY_CHARS = 5000


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

    body: str = Field(min_length=1, max_length=MAX_BODY_CHARS)

    @field_validator("body")
    @classmethod
    def _printable(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise PydanticCustomError("message_empty", "the message is empty")
        if any(ord(ch) < 32 and ch not in "\n\t" for ch in value):
            raise PydanticCustomError("control_characters", "control characters are not allowed")
        return value


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


class ThreadOut(ResponseModel):
    id: str
    partner_id: str
    company_id: str
    company_name: str | None = Field(description="None until the company's data arrives")
    message_count: int
    unread: int = Field(description="Messages from the other side (and system notes) the viewer's side has not read")
    last_message: LastMessageOut | None
    created_at: datetime

    @classmethod
    def for_reader(cls, view: ThreadView, reader: Reader) -> ThreadOut:
        last = LastMessageOut.for_reader(view.thread, reader)
        return cls.model_validate(_ForReader(view.thread, unread=view.unread, last_message=last))


class MessageOut(ResponseModel):
    id: str
    thread_id: str
    seq: int
    author_id: str
    author_side: Side
    direction: Direction = Field(description="sent or received relative to the viewer (R-13), or system")
    body: str = Field(description="The text: as written, or a system note in the reader's language (Accept-Language)")
    text: str = Field(description="The same text (what the reader reads)")
    note: NoteOut | None = Field(
        default=None, description="System notes: code and parameters (absent on notes stored before codes)"
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
