"""Composition root of the reports service: the one place adapters are chosen and wired."""

from __future__ import annotations

from fastapi import FastAPI

from reports.adapters.mongo import INDEXES, MongoReportsStore
from reports.config import Settings
from reports.entrypoints import consumers, http
from reports.entrypoints.metrics import track_projection
from reports.service_layer.projections import Projector
from reports.service_layer.queries import ReportQueries
from servicekit.runtime import ServiceRuntime
from servicekit.telemetry import Telemetry

SERVICE = "reports"


def build_app(settings: Settings | None = None, *, telemetry: Telemetry | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = ServiceRuntime.create(SERVICE, settings, telemetry=telemetry)
    runtime.add_indexes(INDEXES)
    store = MongoReportsStore(runtime.db, runtime.locks)
    projector = Projector(store, recent_ids=settings.recent_event_ids)
    consumers.register(runtime.consumer, projector)
    track_projection(runtime.metrics.registry, projector.stats)
    app = runtime.create_app(title="partnerapp reports", routers=[http.router(ReportQueries(store))])
    app.state.projector = projector
    http.install_error_handlers(app)
    return app
