"""One service process: FastAPI for HTTP and a FastStream broker for Kafka, started together.

A service's composition root (`bootstrap.py`) creates a `ServiceRuntime`, wires its adapters and
handlers onto it, then asks it for the ASGI app. The lifespan then creates indexes, starts the
broker (producer and subscribers) and the background tasks (e.g. the outbox relay), and stops
them in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, FastAPI
from faststream.kafka import KafkaBroker
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from servicekit.auth import TokenVerifier
from servicekit.consumer import INBOX_INDEXES, EventConsumer, Inbox
from servicekit.deadletter import DeadLetterPublisher
from servicekit.health import ReadinessCheck, health_router
from servicekit.kafka import create_broker
from servicekit.limits import BodySizeLimit
from servicekit.metrics import ConsumerLagMonitor, HttpMetrics, ServiceMetrics
from servicekit.mongo import Document, DocumentLocks, IndexSpec, create_mongo_client, ensure_indexes
from servicekit.openapi import docs_router, document_api
from servicekit.outbox import OutboxRelay, outbox_indexes
from servicekit.problems import install_problem_handlers
from servicekit.publishing import KafkaEventPublisher
from servicekit.settings import ServiceSettings
from servicekit.telemetry import Telemetry, setup_telemetry

log = logging.getLogger(__name__)

INBOX_PRUNE_SECONDS = 3600

BackgroundTask = Callable[[], Coroutine[Any, Any, None]]


@dataclass
class ServiceRuntime:
    name: str
    settings: ServiceSettings
    telemetry: Telemetry
    broker: KafkaBroker
    mongo: AsyncMongoClient[Document]
    db: AsyncDatabase[Document]
    publisher: KafkaEventPublisher
    consumer: EventConsumer
    inbox: Inbox
    verifier: TokenVerifier | None
    metrics: ServiceMetrics
    consumer_lag: ConsumerLagMonitor
    indexes: list[IndexSpec] = field(default_factory=list)
    background: list[BackgroundTask] = field(default_factory=list)
    readiness: dict[str, ReadinessCheck] = field(default_factory=dict)
    outbox: OutboxRelay | None = None
    locks: DocumentLocks = field(default_factory=DocumentLocks)
    on_stop: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    """Closed when the service stops (e.g. HTTP clients to other services)."""

    @classmethod
    def create(cls, name: str, settings: ServiceSettings, *, telemetry: Telemetry | None = None) -> ServiceRuntime:
        telemetry = telemetry or setup_telemetry(name)
        platform = settings.platform
        broker = create_broker(
            platform,
            client_id=f"partnerapp-{name}",
            tracer_provider=telemetry.tracer_provider,
            meter_provider=telemetry.meter_provider,
        )
        mongo = create_mongo_client(platform, app_name=f"partnerapp-{name}")
        db = mongo[settings.mongo_database]
        key = platform.verification_key()
        verifier = TokenVerifier(key, issuer=platform.auth_issuer, audience=platform.auth_audience) if key else None
        inbox = Inbox(db)
        consumer = EventConsumer(broker, settings, inbox, DeadLetterPublisher(broker, platform))
        lag = ConsumerLagMonitor(
            platform.kafka_bootstrap_servers,
            settings.consumer_group,
            lambda: consumer.topics,
            topic_prefix=platform.topic_prefix,
        )
        runtime = cls(
            name=name,
            settings=settings,
            telemetry=telemetry,
            broker=broker,
            mongo=mongo,
            db=db,
            publisher=KafkaEventPublisher(broker, platform),
            consumer=consumer,
            inbox=inbox,
            verifier=verifier,
            metrics=ServiceMetrics(),
            consumer_lag=lag,
            indexes=list(INBOX_INDEXES),
        )
        runtime.readiness = {"kafka": runtime._kafka_ready, "mongo": runtime._mongo_ready}
        runtime.metrics.track_runtime(
            consumer.stats, lambda: lag.last, runtime._outbox_numbers, runtime.publisher.published_by_topic
        )
        runtime.background.append(runtime._prune_inbox)
        return runtime

    async def _prune_inbox(self) -> None:
        """Hourly: forget applied event ids older than any redelivery (settings.inbox_retention_hours)."""
        while True:
            await asyncio.sleep(INBOX_PRUNE_SECONDS)
            cutoff = datetime.now(UTC) - timedelta(hours=self.settings.inbox_retention_hours)
            try:
                await self.inbox.forget_before(cutoff)
            except Exception:  # the store may be down; next hour then
                log.exception("inbox pruning failed")

    def use_outbox(self, collections: Iterable[str]) -> OutboxRelay:
        """Relay the pending events stored in these collections' documents."""
        names = list(collections)
        self.outbox = OutboxRelay(
            self.db,
            names,
            self.publisher,
            scan_seconds=self.settings.outbox_scan_seconds,
            locks=self.locks,
            tracer=self.telemetry.tracer_provider.get_tracer("servicekit.outbox"),
        )
        self.indexes.extend(outbox_indexes(names))
        if self.settings.outbox_relay:
            self.background.append(self.outbox.run)
        self.readiness["outbox"] = self._outbox_backlog
        return self.outbox

    async def _kafka_ready(self) -> Mapping[str, Any]:
        if not await self.broker.ping(timeout=2.0):
            raise ConnectionError("Kafka broker unreachable")
        return {}

    async def _mongo_ready(self) -> Mapping[str, Any]:
        await self.db.command("ping")
        return {"database": self.db.name}

    async def _outbox_backlog(self) -> Mapping[str, Any]:
        return self._outbox_numbers()

    def _outbox_numbers(self) -> dict[str, int]:
        return self.outbox.backlog() if self.outbox else {}

    async def _consumer_lag(self) -> Mapping[str, Any]:
        return self.consumer_lag.details()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Start everything the service needs; stop it in reverse order."""
        await ensure_indexes(self.db, self.indexes)
        self.consumer.install()
        await self.broker.start()
        if self.consumer.topics and "consumer" not in self.readiness:
            self.background.append(self.consumer_lag.run)
            self.readiness["consumer"] = self._consumer_lag
            self.on_stop.append(self.consumer_lag.close)
        tasks = [asyncio.create_task(job(), name=f"{self.name}:{job.__name__}") for job in self.background]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for close in self.on_stop:
                await close()
            await self.broker.stop()
            await self.mongo.close()
            self.telemetry.shutdown()

    def create_app(self, *, title: str, version: str = "0.1.0", routers: Iterable[APIRouter] = ()) -> FastAPI:
        @contextlib.asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            async with self.running():
                yield

        # FastAPI's own docs pages load Swagger UI and ReDoc from CDNs; `/docs` is served locally instead.
        app = FastAPI(title=title, version=version, lifespan=lifespan, docs_url=None, redoc_url=None)
        app.state.runtime = self
        app.state.token_verifier = self.verifier
        install_problem_handlers(app)
        document_api(app)
        app.include_router(health_router(self.name, self.readiness))
        app.include_router(self.metrics.router())
        app.include_router(docs_router("/docs", "/openapi.json", title=title))
        for router in routers:
            app.include_router(router)
        app.add_middleware(BodySizeLimit, max_bytes=self.settings.max_body_bytes)
        app.add_middleware(HttpMetrics, metrics=self.metrics, routes=app.router.routes)
        FastAPIInstrumentor.instrument_app(
            app,
            tracer_provider=self.telemetry.tracer_provider,
            meter_provider=self.telemetry.meter_provider,
            excluded_urls="healthz,readyz,metrics",
        )
        return app
