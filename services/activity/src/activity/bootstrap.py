"""Composition root of the activity service: the one place adapters are chosen and wired."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI

from activity.adapters.instances_client import HttpInstancesClient
from activity.adapters.mongo_repository import INDEXES, MongoActivityStore, MongoIngestKeyStore, MongoTerminalStore
from activity.config import Settings
from activity.domain.model import retention_cutoff
from activity.entrypoints import consumers, http
from activity.service_layer.handlers import ActivityService
from servicekit.runtime import ServiceRuntime
from servicekit.telemetry import Telemetry

SERVICE = "activity"
log = logging.getLogger(__name__)


def build_app(
    settings: Settings | None = None,
    *,
    telemetry: Telemetry | None = None,
    instances_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """`instances_transport` lets tests route the instances client to an in-process app."""
    settings = settings or Settings()
    runtime = ServiceRuntime.create(SERVICE, settings, telemetry=telemetry)
    instances = HttpInstancesClient(settings.instances_url, transport=instances_transport)
    terminals = MongoTerminalStore(runtime.db, runtime.locks)
    records = MongoActivityStore(runtime.db, terminals)
    service = ActivityService(
        records=records,
        terminals=terminals,
        keys=MongoIngestKeyStore(runtime.db, runtime.locks),
        publisher=runtime.publisher,
        instances=instances,
    )
    runtime.add_indexes(INDEXES)
    consumers.register(runtime.consumer, service)

    async def enforce_retention() -> None:
        """Drops whole days older than the retention period."""
        cutoff = retention_cutoff(datetime.now(UTC).date(), settings.retention_days)
        dropped = await records.drop_days_before(cutoff)
        if dropped:
            log.info("retention: dropped %d day buckets before %s", dropped, cutoff)

    runtime.every(settings.retention_check_seconds, enforce_retention)
    runtime.on_stop(instances.close)
    app = runtime.create_app(title="partnerapp activity", routers=[http.router(service, runtime.metrics.registry)])
    app.state.activity = service
    http.install_error_handlers(app)
    return app
