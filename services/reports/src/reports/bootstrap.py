"""Composition root of the reports service: the one place adapters are chosen and wired.

The service's one command (replaying the topics, `ReportsCommands`) is composed by the rebuild,
`entrypoints/rebuild.py`, on a database of its own; the live service reads and projects."""

from __future__ import annotations

from fastapi import FastAPI

from reports.adapters.mongo import INDEXES, MongoReportsStore
from reports.adapters.seats_mongo import SEAT_INDEXES, MongoSeatStore
from reports.config import Settings
from reports.entrypoints import http
from reports.entrypoints.metrics import track_projection
from reports.service_layer.event_handlers import EVENT_HANDLERS, ReportsEventHandlers
from reports.service_layer.queries import ReportsQueries
from reports.service_layer.seats import SilentSeatQueries
from servicekit import openapi
from servicekit.handlers import subscribe_table
from servicekit.runtime import ServiceRuntime
from servicekit.telemetry import Telemetry

SERVICE = "reports"


def build_app(settings: Settings | None = None, *, telemetry: Telemetry | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = ServiceRuntime.create(SERVICE, settings, telemetry=telemetry)
    runtime.add_indexes(INDEXES)
    store = MongoReportsStore(runtime.db, runtime.locks)
    runtime.add_indexes(SEAT_INDEXES)
    seats = MongoSeatStore(runtime.db, runtime.locks)
    handlers = ReportsEventHandlers(store, recent_ids=settings.recent_event_ids, seats=seats)
    subscribe_table(runtime.consumer, EVENT_HANDLERS, handlers)
    track_projection(runtime.metrics.registry, handlers.stats)
    runtime.provide(ReportsQueries, ReportsQueries(store))
    runtime.provide(SilentSeatQueries, SilentSeatQueries(seats, store))
    runtime.provide(http.SilentDays, http.SilentDays(settings.silent_days))
    app = runtime.create_app(title="partnerapp reports", routers=[http.api])
    # Silent seats: another partner's instance, named in the query.
    openapi.declare_errors(app, {"GET /v1/reports/silent-seats*": (404,)})
    return app
