"""Composition root of the support service: the one place adapters are chosen and wired."""

from __future__ import annotations

from fastapi import FastAPI

from servicekit.idempotency import COLLECTION as IDEMPOTENCY_KEYS
from servicekit.idempotency import IdempotencyKeys
from servicekit.runtime import ServiceRuntime
from servicekit.telemetry import Telemetry
from support.adapters.mongo import AGGREGATES, INDEXES, MongoMessageRepository, MongoThreadRepository
from support.config import Settings
from support.entrypoints import consumers
from support.entrypoints.http import install_error_handlers, router
from support.service_layer.services import SupportService

SERVICE = "support"


def build_app(settings: Settings | None = None, *, telemetry: Telemetry | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = ServiceRuntime.create(SERVICE, settings, telemetry=telemetry)
    runtime.add_indexes(INDEXES)
    relay = runtime.use_outbox(AGGREGATES)
    service = SupportService(
        threads=MongoThreadRepository(runtime.db, runtime.locks),
        messages=MongoMessageRepository(runtime.db, relay.notify),
    )
    consumers.register(runtime.consumer, service)
    keys = IdempotencyKeys(runtime.db[IDEMPOTENCY_KEYS])
    app = runtime.create_app(title="partnerapp support", routers=[router(service, keys)])
    install_error_handlers(app)
    return app
