"""HTTP API of the support service, under /v1 (R-10..R-14): each route parses its input, calls
one use case (`service_layer/commands.py`, `queries.py`) and shapes the answer (`schemas.py`)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Query, Request, Response, UploadFile, status
from fastapi.responses import StreamingResponse

from servicekit import merge_patch
from servicekit.api import DEFAULT_LIMIT, Cursor, Limit, idempotency_key_header, provided
from servicekit.auth import CurrentPrincipal
from servicekit.idempotency import IdempotencyKeyReused, IdempotencyKeys, fingerprint
from support.domain import search as words
from support.domain.attachments import PDF
from support.entrypoints.schemas import (
    AttachmentOut,
    CannedReplyIn,
    CannedReplyOut,
    CannedReplyPage,
    CannedReplyPatch,
    CurrentReader,
    MessageIn,
    MessageOut,
    MessagePage,
    PreviewIn,
    PreviewOut,
    SearchHitOut,
    SearchPage,
    ThreadOut,
    ThreadPage,
)
from support.service_layer.commands import CannedReplyCommands, SupportCommands
from support.service_layer.queries import CannedReplyQueries, Download, SupportQueries

Commands = Annotated[SupportCommands, provided(SupportCommands)]
Queries = Annotated[SupportQueries, provided(SupportQueries)]
Keys = Annotated[IdempotencyKeys, provided(IdempotencyKeys)]
CannedCommands = Annotated[CannedReplyCommands, provided(CannedReplyCommands)]
CannedQueries = Annotated[CannedReplyQueries, provided(CannedReplyQueries)]

UPLOAD_PATHS = (r"^/v1/threads/[^/]+/attachments$", r"^/v1/support/canned-replies/attachments$")
"""The routes whose bodies may be as large as an attachment (the others keep the service's limit)."""
DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, max-age=3600",
    "Cross-Origin-Resource-Policy": "same-origin",
}
IdempotencyKey = Annotated[
    str | None,
    idempotency_key_header(
        "A retry with the same key and request creates once; the key with another request is a 422."
    ),
]
UploadedFile = Annotated[UploadFile, File(description="One JPEG, PNG, WebP or PDF file (checked by its bytes)")]

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
        idempotency_key_header("A retry with the same key and text posts once; the key with another text is a 422."),
    ] = None,
) -> MessageOut:
    # The validated body (text trimmed): a retry differing only in surrounding spaces is the same request.
    request_print = fingerprint("POST", request.url.path, body.model_dump(mode="json"))
    async with keys.request(principal, idempotency_key, request_print):
        message = await commands.post_message(
            principal,
            thread_id,
            body.body,
            idempotency_key=idempotency_key,
            attachment_ids=tuple(body.attachment_ids),
            canned_reply_id=body.canned_reply_id,
        )
        if message.body != body.body:  # the key's message, stored before its key record was lost
            raise IdempotencyKeyReused
    return MessageOut.for_reader(message, reader)


@api.post(
    "/threads/{thread_id}/attachments",
    status_code=status.HTTP_201_CREATED,
    summary="Upload one file into the thread (multipart field `file`), to name in a message's attachment_ids",
    description="JPEG, PNG, WebP or PDF, checked by its bytes; images are re-encoded (metadata such as EXIF GPS "
    "dropped, orientation applied) and get a thumbnail. Too large: 413; any other type, SVG, HTML, an executable or "
    "a polyglot: 422, naming `file`. An upload no message takes within 24 hours is removed.",
)
async def upload_attachment(
    thread_id: str,
    file: UploadedFile,
    principal: CurrentPrincipal,
    request: Request,
    commands: Commands,
    keys: Keys,
    idempotency_key: IdempotencyKey = None,
) -> AttachmentOut:
    data = await file.read(commands.attachment_max_bytes + 1)
    sent = {"filename": file.filename, "sha256": hashlib.sha256(data).hexdigest()}
    async with keys.request(principal, idempotency_key, fingerprint("POST", request.url.path, sent)):
        ref = await commands.upload_attachment(
            principal, thread_id, file.filename, data, idempotency_key=idempotency_key
        )
    return AttachmentOut.model_validate(ref)


@api.get(
    "/threads/{thread_id}/attachments/{attachment_id}",
    summary="An attachment's bytes, with its checked type",
    response_class=Response,
    responses={200: {"content": {"image/*": {}, "application/pdf": {}}, "description": "The file"}},
)
async def download_attachment(
    thread_id: str, attachment_id: str, principal: CurrentPrincipal, queries: Queries
) -> Response:
    download = await queries.download_attachment(principal, thread_id, attachment_id)
    return _file_response(download, thumbnail=False)


@api.get(
    "/threads/{thread_id}/attachments/{attachment_id}/thumbnail",
    summary="An image attachment's thumbnail (WebP, at most 320 px on the long side); 404 for PDFs",
    response_class=Response,
    responses={200: {"content": {"image/webp": {}}, "description": "The thumbnail"}},
)
async def attachment_thumbnail(
    thread_id: str, attachment_id: str, principal: CurrentPrincipal, queries: Queries
) -> Response:
    download = await queries.download_attachment(principal, thread_id, attachment_id, thumbnail=True)
    return _file_response(download, thumbnail=True)


def content_disposition(filename: str, *, inline: bool) -> str:
    """RFC 6266/5987: an ASCII fallback and the UTF-8 name, both quoted safely."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\%;' else "_" for ch in filename)
    return (
        f"{'inline' if inline else 'attachment'}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
    )


def _file_response(download: Download, *, thumbnail: bool) -> Response:
    ref = download.attachment.ref
    media_type = "image/webp" if thumbnail else ref.content_type
    name = f"{ref.filename.rsplit('.', 1)[0]}-thumbnail.webp" if thumbnail else ref.filename
    headers = {**DOWNLOAD_HEADERS, "Content-Disposition": content_disposition(name, inline=media_type != PDF)}
    if not thumbnail:
        headers["Content-Length"] = str(ref.size)
    return StreamingResponse(download.chunks, media_type=media_type, headers=headers)


@api.get(
    "/support/search",
    summary="Search every message of every thread the caller sees, by words (accent- and case-insensitive)",
)
async def search_messages(
    principal: CurrentPrincipal,
    reader: CurrentReader,
    queries: Queries,
    q: Annotated[str, Query(max_length=200, description="Words, all of which a message must contain")],
    partner_id: Annotated[str | None, Query(max_length=64, description="Staff: one of their partners")] = None,
    company_id: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[datetime | None, Query(alias="from", description="Posted at or after")] = None,
    until: Annotated[datetime | None, Query(alias="to", description="Posted before")] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> SearchPage:
    page = await queries.search_messages(
        principal, q, partner_id=partner_id, company_id=company_id, since=since, until=until, limit=limit, cursor=cursor
    )
    asked = words.query_tokens(q)
    return SearchPage(items=[SearchHitOut.of(f, asked, reader) for f in page.items], next_cursor=page.next_cursor)


@api.get("/support/canned-replies", summary="Staff: the canned replies, most recently changed first")
async def list_canned_replies(
    principal: CurrentPrincipal,
    queries: CannedQueries,
    q: Annotated[str | None, Query(max_length=200, description="Words (or their beginnings) of title or text")] = None,
    language: Annotated[
        str | None, Query(max_length=5, description="Accepted for the composer; both are returned")
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> CannedReplyPage:
    page = await queries.list_canned_replies(principal, q=q or None, limit=limit, cursor=cursor)
    return CannedReplyPage(items=[CannedReplyOut.of(r) for r in page.items], next_cursor=page.next_cursor)


@api.post(
    "/support/canned-replies/attachments",
    status_code=status.HTTP_201_CREATED,
    summary="Staff: upload one file for a canned reply (multipart field `file`), checked as a thread's uploads",
)
async def upload_canned_attachment(
    file: UploadedFile, principal: CurrentPrincipal, commands: CannedCommands
) -> AttachmentOut:
    data = await file.read(commands.max_bytes + 1)
    return AttachmentOut.model_validate(await commands.upload_canned_attachment(principal, file.filename, data))


@api.post("/support/canned-replies", status_code=status.HTTP_201_CREATED, summary="Staff: save a canned reply")
async def create_canned_reply(
    body: CannedReplyIn,
    principal: CurrentPrincipal,
    request: Request,
    commands: CannedCommands,
    keys: Keys,
    idempotency_key: IdempotencyKey = None,
) -> CannedReplyOut:
    async with keys.request(principal, idempotency_key, fingerprint("POST", request.url.path, body.model_dump())):
        reply = await commands.create_canned_reply(
            principal,
            body.title.model_dump(),
            body.text.model_dump(),
            tuple(body.attachment_ids),
            idempotency_key=idempotency_key,
        )
    return CannedReplyOut.of(reply)


@api.get("/support/canned-replies/{reply_id}", summary="Staff: one canned reply")
async def get_canned_reply(reply_id: str, principal: CurrentPrincipal, queries: CannedQueries) -> CannedReplyOut:
    return CannedReplyOut.of(await queries.get_canned_reply(principal, reply_id))


@api.patch(
    "/support/canned-replies/{reply_id}",
    summary="Staff: change a canned reply (JSON Merge Patch)",
    openapi_extra=merge_patch.openapi_extra("CannedReplyPatch"),
)
async def update_canned_reply(
    reply_id: str, body: CannedReplyPatch, principal: CurrentPrincipal, commands: CannedCommands
) -> CannedReplyOut:
    sent: dict[str, Any] = body.model_dump(exclude_unset=True)
    return CannedReplyOut.of(await commands.update_canned_reply(principal, reply_id, sent))


@api.delete(
    "/support/canned-replies/{reply_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Staff: remove a canned reply"
)
async def delete_canned_reply(reply_id: str, principal: CurrentPrincipal, commands: CannedCommands) -> Response:
    await commands.delete_canned_reply(principal, reply_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@api.post(
    "/threads/{thread_id}/canned-replies/{reply_id}/preview",
    summary="Staff: a canned reply as its reader would read it in the thread, its variables filled",
)
async def preview_canned_reply(
    thread_id: str,
    reply_id: str,
    principal: CurrentPrincipal,
    queries: CannedQueries,
    body: PreviewIn | None = None,
) -> PreviewOut:
    # The partner reads the reply: by default in the language of the partner's user who last
    # wrote in the thread, not in the agent's (Accept-Language); `language` overrides.
    language = body.language if body else None
    return PreviewOut.of(await queries.preview_canned_reply(principal, thread_id, reply_id, language=language))


@api.post("/threads/{thread_id}/read", summary="Mark every message of the thread read for the caller's side")
async def mark_read(
    thread_id: str, principal: CurrentPrincipal, reader: CurrentReader, commands: Commands
) -> ThreadOut:
    return ThreadOut.for_reader(await commands.mark_read(principal, thread_id), reader)
