"""Composition root of the support service: the one place adapters are chosen and wired."""

from __future__ import annotations

from fastapi import FastAPI

from servicekit.handlers import subscribe_table
from servicekit.idempotency import COLLECTION as IDEMPOTENCY_KEYS
from servicekit.idempotency import IdempotencyKeys
from servicekit.runtime import ServiceRuntime
from servicekit.telemetry import Telemetry
from support.adapters.mongo import AGGREGATES, INDEXES, MongoMessageRepository, MongoThreadRepository
from support.config import Settings
from support.entrypoints import http
from support.service_layer.commands import SupportCommands
from support.service_layer.event_handlers import EVENT_HANDLERS, SupportEventHandlers
from support.service_layer.queries import SupportQueries

SERVICE = "support"


def build_app(settings: Settings | None = None, *, telemetry: Telemetry | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = ServiceRuntime.create(SERVICE, settings, telemetry=telemetry)
    runtime.add_indexes(INDEXES)
    relay = runtime.use_outbox(AGGREGATES)
    threads = MongoThreadRepository(runtime.db, runtime.locks)
    messages = MongoMessageRepository(runtime.db, relay.notify)
    runtime.provide(SupportCommands, SupportCommands(threads, messages))
    runtime.provide(SupportQueries, SupportQueries(threads, messages))
    runtime.provide(IdempotencyKeys, IdempotencyKeys(runtime.db[IDEMPOTENCY_KEYS]))
    subscribe_table(runtime.consumer, EVENT_HANDLERS, SupportEventHandlers(threads, messages))
    return runtime.create_app(title="partnerapp support", routers=[http.api])
