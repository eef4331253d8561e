"""Composition root of the support service: the one place adapters are chosen and wired."""

from __future__ import annotations

from fastapi import FastAPI

from servicekit import openapi
from servicekit.handlers import subscribe_table
from servicekit.idempotency import COLLECTION as IDEMPOTENCY_KEYS
from servicekit.idempotency import IdempotencyKeys
from servicekit.runtime import ServiceRuntime
from servicekit.telemetry import Telemetry
from support.adapters import attachments as attachment_store
from support.adapters import canned as canned_store
from support.adapters import search as search_index
from support.adapters.mongo import (
    AGGREGATES,
    INDEXES,
    MongoMessageRepository,
    MongoPartnerNames,
    MongoThreadRepository,
)
from support.config import Settings
from support.entrypoints import http
from support.service_layer.commands import CannedReplyCommands, SupportCommands
from support.service_layer.event_handlers import EVENT_HANDLERS, SupportEventHandlers
from support.service_layer.queries import CannedReplyQueries, SupportQueries

SERVICE = "support"


def build_app(settings: Settings | None = None, *, telemetry: Telemetry | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = ServiceRuntime.create(SERVICE, settings, telemetry=telemetry)
    runtime.add_indexes([*INDEXES, *attachment_store.INDEXES, *search_index.INDEXES, *canned_store.INDEXES])
    relay = runtime.use_outbox([*AGGREGATES, attachment_store.ATTACHMENTS, canned_store.CANNED_REPLIES])
    threads = MongoThreadRepository(runtime.db, runtime.locks)
    messages = MongoMessageRepository(runtime.db, relay.notify)
    attachments = attachment_store.MongoAttachmentRepository(runtime.db, relay.notify, runtime.locks)
    index = search_index.MongoSearchIndex(runtime.db, runtime.locks)
    canned = canned_store.MongoCannedReplyRepository(runtime.db, runtime.locks, relay.notify)
    commands = SupportCommands(
        threads,
        messages,
        attachments=attachments,
        index=index,
        canned=canned,
        attachment_max_bytes=settings.attachment_max_bytes,
    )
    runtime.provide(SupportCommands, commands)
    runtime.provide(SupportQueries, SupportQueries(threads, messages, attachments=attachments, index=index))
    canned_commands = CannedReplyCommands(canned, attachments, max_bytes=settings.attachment_max_bytes)
    runtime.provide(CannedReplyCommands, canned_commands)
    partners = MongoPartnerNames(runtime.db)
    runtime.provide(CannedReplyQueries, CannedReplyQueries(canned, threads, partners))
    for pattern in http.UPLOAD_PATHS:
        runtime.allow_larger_bodies(pattern, settings.upload_body_bytes)
    runtime.every(settings.unused_upload_sweep_seconds, commands.remove_unused_attachments, name="unused-uploads")
    runtime.every(settings.reindex_seconds, commands.reindex_messages, name="search-reindex")
    runtime.provide(IdempotencyKeys, IdempotencyKeys(runtime.db[IDEMPOTENCY_KEYS]))
    subscribe_table(runtime.consumer, EVENT_HANDLERS, SupportEventHandlers(threads, messages, partners=partners))
    app = runtime.create_app(title="partnerapp support", routers=[http.api])
    # Canned replies are the support team's: partner users get a 403.
    openapi.declare_errors(
        app,
        {
            "* /v1/support/canned-replies*": (403,),
            "POST /v1/threads/{thread_id}/canned-replies/{reply_id}/preview": (403,),
            "POST /v1/threads/{thread_id}/attachments": (413,),
        },
    )
    return app
