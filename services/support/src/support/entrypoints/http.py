"""HTTP API of the support service, under /v1 (R-10..R-14): each route parses its input, calls
one use case (`service_layer/commands.py`, `queries.py`) and shapes the answer (`schemas.py`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, status

from servicekit.api import DEFAULT_LIMIT, Cursor, Limit, provided
from servicekit.auth import CurrentPrincipal
from servicekit.idempotency import KEY_PATTERN, IdempotencyKeyReused, IdempotencyKeys, fingerprint
from support.entrypoints.schemas import CurrentReader, MessageIn, MessageOut, MessagePage, ThreadOut, ThreadPage
from support.service_layer.commands import SupportCommands
from support.service_layer.queries import SupportQueries

Commands = Annotated[SupportCommands, provided(SupportCommands)]
Queries = Annotated[SupportQueries, provided(SupportQueries)]
Keys = Annotated[IdempotencyKeys, provided(IdempotencyKeys)]

api = APIRouter(prefix="/v1", tags=["support"])


@api.get("/threads", summary="Threads of the partner (staff: of their partners), most recent first")
async def list_threads(
    principal: CurrentPrincipal,
    reader: CurrentReader,
    queries: Queries,
    q: Annotated[str | None, Query(min_length=1, max_length=100, description="Company name")] = None,
    partner_id: Annotated[str | None, Query(max_length=64, description="Staff: one of their partners")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> ThreadPage:
    page = await queries.list_threads(principal, partner_id=partner_id, text=q, limit=limit, cursor=cursor)
    return ThreadPage(items=[ThreadOut.for_reader(v, reader) for v in page.items], next_cursor=page.next_cursor)


@api.get("/threads/{thread_id}", summary="One thread")
async def get_thread(thread_id: str, principal: CurrentPrincipal, reader: CurrentReader, queries: Queries) -> ThreadOut:
    return ThreadOut.for_reader(await queries.get_thread(principal, thread_id), reader)


@api.get("/threads/{thread_id}/messages", summary="A thread's messages, newest first")
async def list_messages(
    thread_id: str,
    principal: CurrentPrincipal,
    reader: CurrentReader,
    queries: Queries,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> MessagePage:
    page = await queries.list_messages(principal, thread_id, limit=limit, cursor=cursor)
    return MessagePage(items=[MessageOut.for_reader(m, reader) for m in page.items], next_cursor=page.next_cursor)


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
    reader: CurrentReader,
    request: Request,
    commands: Commands,
    keys: Keys,
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
    async with keys.request(principal, idempotency_key, request_print):
        message = await commands.post_message(principal, thread_id, body.body, idempotency_key=idempotency_key)
        if message.body != body.body:  # the key's message, stored before its key record was lost
            raise IdempotencyKeyReused
    return MessageOut.for_reader(message, reader)


@api.post("/threads/{thread_id}/read", summary="Mark every message of the thread read for the caller's side")
async def mark_read(
    thread_id: str, principal: CurrentPrincipal, reader: CurrentReader, commands: Commands
) -> ThreadOut:
    return ThreadOut.for_reader(await commands.mark_read(principal, thread_id), reader)
