"""HTTP API of the support service, under /v1 (R-10..R-14)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, FastAPI, Header, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from servicekit.auth import CurrentPrincipal
from servicekit.i18n import Language, ReaderLanguage
from servicekit.idempotency import KEY_PATTERN, IdempotencyKeyReused, IdempotencyKeys, fingerprint
from servicekit.pagination import DEFAULT_LIMIT, MAX_LIMIT
from servicekit.principal import Principal
from servicekit.problems import field_error, problem_response
from support.domain.model import Direction, Message, Note, Side, direction, side_of
from support.service_layer.services import PartnerNotAllowed, SupportService, ThreadNotFound, ThreadView

MAX_BODY_CHARS = 5000

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=512)]


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


class NoteOut(BaseModel):
    code: str = Field(description="What a system note says, e.g. license_revoked: clients may word it themselves")
    params: dict[str, str] = Field(description="The values its text names")

    @classmethod
    def of(cls, note: Note | None) -> NoteOut | None:
        return cls(code=note.code, params=dict(note.params)) if note else None


class LastMessageOut(BaseModel):
    preview: str = Field(description="In the reader's language (Accept-Language) when it is a system note")
    side: Side
    direction: Direction
    at: datetime
    note: NoteOut | None = Field(default=None, description="Set when the last message is a system note")


class ThreadOut(BaseModel):
    id: str
    partner_id: str
    company_id: str
    company_name: str | None = Field(description="None until the company's data arrives")
    message_count: int
    unread: int = Field(description="Messages from the other side (and system notes) the viewer's side has not read")
    last_message: LastMessageOut | None
    created_at: datetime

    @classmethod
    def of(cls, view: ThreadView, viewer: Side, language: Language) -> ThreadOut:
        t = view.thread
        shown = t.last_preview_in(language)
        last = (
            LastMessageOut(
                preview=shown,
                side=t.last_side,
                direction=direction(t.last_side, viewer),
                at=t.last_message_at,
                note=NoteOut.of(t.last_note),
            )
            if t.last_side is not None and shown is not None
            else None
        )
        return cls(
            id=t.id,
            partner_id=t.partner_id,
            company_id=t.company_id,
            company_name=t.company_name,
            message_count=t.message_count,
            unread=view.unread,
            last_message=last,
            created_at=t.created_at,
        )


class MessageOut(BaseModel):
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
    def of(cls, message: Message, viewer: Side, language: Language) -> MessageOut:
        text = message.text(language)
        return cls(
            id=message.id,
            thread_id=message.thread_id,
            seq=message.seq,
            author_id=message.author_id,
            author_side=message.author_side,
            direction=direction(message.author_side, viewer),
            body=text,
            text=text,
            note=NoteOut.of(message.note),
            created_at=message.created_at,
        )


class ThreadPage(BaseModel):
    items: list[ThreadOut]
    next_cursor: str | None


class MessagePage(BaseModel):
    items: list[MessageOut] = Field(description="Newest first")
    next_cursor: str | None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ThreadNotFound)
    async def _not_found(request: Request, exc: ThreadNotFound) -> JSONResponse:
        return problem_response(request, 404, "not-found", str(exc))

    @app.exception_handler(PartnerNotAllowed)
    async def _partner(request: Request, exc: PartnerNotAllowed) -> JSONResponse:
        return problem_response(
            request,
            403,
            "partner-not-allowed",
            str(exc),
            errors=[field_error("partner_id", "partner_not_yours", str(exc), params={"partner_id": exc.partner_id})],
        )


def router(service: SupportService, idempotency: IdempotencyKeys) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["support"])

    def viewer(principal: Principal) -> Side:
        return side_of(principal.role)

    @api.get("/threads", summary="Threads of the partner (staff: of their partners), most recent first")
    async def list_threads(
        principal: CurrentPrincipal,
        language: ReaderLanguage,
        q: Annotated[str | None, Query(min_length=1, max_length=100, description="Company name")] = None,
        partner_id: Annotated[str | None, Query(max_length=64, description="Staff: one of their partners")] = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> ThreadPage:
        page = await service.list_threads(principal, partner_id=partner_id, text=q, limit=limit, cursor=cursor)
        return ThreadPage(
            items=[ThreadOut.of(v, viewer(principal), language) for v in page.items], next_cursor=page.next_cursor
        )

    @api.get("/threads/{thread_id}", summary="One thread")
    async def get_thread(thread_id: str, principal: CurrentPrincipal, language: ReaderLanguage) -> ThreadOut:
        return ThreadOut.of(await service.thread(principal, thread_id), viewer(principal), language)

    @api.get("/threads/{thread_id}/messages", summary="A thread's messages, newest first")
    async def list_messages(
        thread_id: str,
        principal: CurrentPrincipal,
        language: ReaderLanguage,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> MessagePage:
        page = await service.messages_of(principal, thread_id, limit=limit, cursor=cursor)
        return MessagePage(
            items=[MessageOut.of(m, viewer(principal), language) for m in page.items], next_cursor=page.next_cursor
        )

    @api.post(
        "/threads/{thread_id}/messages",
        status_code=status.HTTP_201_CREATED,
        summary="Post a message for the caller's side; retries with the same Idempotency-Key post it once",
        responses={422: {"description": "Invalid message, or the Idempotency-Key was used for another request"}},
    )
    async def post_message(
        thread_id: str,
        body: MessageIn,
        principal: CurrentPrincipal,
        language: ReaderLanguage,
        request: Request,
        idempotency_key: Annotated[
            str | None,
            Header(
                alias="Idempotency-Key",
                min_length=8,
                max_length=128,
                pattern=KEY_PATTERN,
                description="A retry with the same key and text posts once; the key with another text is a 422.",
            ),
        ] = None,
    ) -> MessageOut:
        # The validated body (text trimmed): a retry differing only in surrounding spaces is the same request.
        request_print = fingerprint("POST", request.url.path, body.model_dump(mode="json"))
        async with idempotency.request(principal, idempotency_key, request_print):
            message = await service.post(principal, thread_id, body.body, idempotency_key=idempotency_key)
            if message.body != body.body:  # the key's message, stored before its key record was lost
                raise IdempotencyKeyReused
        return MessageOut.of(message, viewer(principal), language)

    @api.post("/threads/{thread_id}/read", summary="Mark every message of the thread read for the caller's side")
    async def mark_read(thread_id: str, principal: CurrentPrincipal, language: ReaderLanguage) -> ThreadOut:
        return ThreadOut.of(await service.mark_read(principal, thread_id), viewer(principal), language)

    return api
