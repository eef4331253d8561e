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
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI
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
from servicekit.nul import refuse_nul
from servicekit.openapi import docs_router, document_api
from servicekit.outbox import OutboxRelay, outbox_indexes
from servicekit.problems import install_problem_handlers
from servicekit.publishing import KafkaEventPublisher
from servicekit.settings import ServiceSettings
from servicekit.telemetry import Telemetry, setup_telemetry

log = logging.getLogger(__name__)

INBOX_PRUNE_SECONDS = 3600

BackgroundTask = Callable[[], Coroutine[Any, Any, None]]
Closer = Callable[[], Coroutine[Any, Any, None]]
Job = Callable[[], Awaitable[Any]]
T = TypeVar("T")


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
    outbox: OutboxRelay | None = None
    locks: DocumentLocks = field(default_factory=DocumentLocks)
    _indexes: list[IndexSpec] = field(default_factory=list)
    _background: list[BackgroundTask] = field(default_factory=list)
    _readiness: dict[str, ReadinessCheck] = field(default_factory=dict)
    _closers: list[Closer] = field(default_factory=list)
    _provided: dict[type[Any], Any] = field(default_factory=dict)
    _larger_bodies: list[tuple[str, int]] = field(default_factory=list)

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
        metrics = ServiceMetrics()
        mongo = create_mongo_client(platform, app_name=f"partnerapp-{name}", listeners=[metrics.store_commands])
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
            metrics=metrics,
            consumer_lag=lag,
        )
        runtime.add_indexes(INBOX_INDEXES)
        runtime.add_readiness("kafka", runtime._kafka_ready)
        runtime.add_readiness("mongo", runtime._mongo_ready)
        runtime.metrics.track_runtime(
            consumer.stats, lambda: lag.last, runtime._outbox_numbers, runtime.publisher.published_by_topic
        )
        runtime.every(INBOX_PRUNE_SECONDS, runtime._prune_inbox, first_after=INBOX_PRUNE_SECONDS)
        return runtime

    # ------------------------------------------------------------------ wiring (composition roots)

    def add_indexes(self, specs: Iterable[IndexSpec]) -> None:
        """Indexes created (if missing) when the service starts."""
        self._indexes.extend(specs)

    def add_readiness(self, name: str, check: ReadinessCheck) -> None:
        """A part of `/readyz`: the check raises when the service cannot serve."""
        self._readiness[name] = check

    def run_in_background(self, task: BackgroundTask) -> None:
        """A task running for the service's life (cancelled when it stops); it handles its own errors."""
        self._background.append(task)

    def every(self, seconds: float, job: Job, *, first_after: float = 0.0, name: str | None = None) -> None:
        """Run `job` every `seconds` while the service runs (the first time after `first_after`).
        A failing run is logged with its traceback and the next one happens on schedule: a store
        outage must not end the loop, nor pass unseen."""
        label = name or str(getattr(job, "__name__", "job"))

        async def repeat() -> None:
            await asyncio.sleep(first_after)
            while True:
                try:
                    await job()
                except Exception:
                    log.exception("%s: periodic job %s failed; next run in %ss", self.name, label, seconds)
                await asyncio.sleep(seconds)

        repeat.__name__ = label
        self._background.append(repeat)

    def on_stop(self, close: Closer) -> None:
        """Closed when the service stops, before the broker and the store (e.g. HTTP clients)."""
        self._closers.append(close)

    def allow_larger_bodies(self, path_pattern: str, max_bytes: int) -> None:
        """Requests to paths matching `path_pattern` (a regular expression) may send bodies up to
        `max_bytes` (an upload route); every other route keeps `max_body_bytes`."""
        self._larger_bodies.append((path_pattern, max_bytes))

    def provide(self, kind: type[T], instance: T) -> None:
        """What routes receive for `Annotated[kind, servicekit.api.provided(kind)]`."""
        self._provided[kind] = instance

    async def _prune_inbox(self) -> None:
        """Forget applied event ids older than any redelivery (settings.inbox_retention_hours)."""
        cutoff = datetime.now(UTC) - timedelta(hours=self.settings.inbox_retention_hours)
        await self.inbox.forget_before(cutoff)

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
        self.add_indexes(outbox_indexes(names))
        if self.settings.outbox_relay:
            self.run_in_background(self.outbox.run)
        self.add_readiness("outbox", self._outbox_backlog)
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
        await ensure_indexes(self.db, self._indexes)
        self.consumer.install()
        await self.broker.start()
        if self.consumer.topics and "consumer" not in self._readiness:
            self.run_in_background(self.consumer_lag.run)
            self.add_readiness("consumer", self._consumer_lag)
            self.on_stop(self.consumer_lag.close)
        tasks = [asyncio.create_task(job(), name=f"{self.name}:{job.__name__}") for job in self._background]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for close in self._closers:
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
        # Every route refuses a U+0000 in its parameters or body first (servicekit.nul).
        app = FastAPI(
            title=title,
            version=version,
            lifespan=lifespan,
            docs_url=None,
            redoc_url=None,
            dependencies=[Depends(refuse_nul)],
            # An API answers the path it was asked (404), never a redirect built from its own Host:
            # behind the gateway that address is not the caller's.
            redirect_slashes=False,
        )
        app.state.runtime = self
        app.state.token_verifier = self.verifier
        app.state.provided = self._provided
        install_problem_handlers(app)
        document_api(app)
        app.include_router(health_router(self.name, self._readiness))
        app.include_router(self.metrics.router())
        app.include_router(docs_router("/docs", "/openapi.json", title=title))
        for router in routers:
            app.include_router(router)
        app.add_middleware(BodySizeLimit, max_bytes=self.settings.max_body_bytes, larger=list(self._larger_bodies))
        app.add_middleware(HttpMetrics, metrics=self.metrics)
        FastAPIInstrumentor.instrument_app(
            app,
            tracer_provider=self.telemetry.tracer_provider,
            meter_provider=self.telemetry.meter_provider,
            excluded_urls="healthz,readyz,metrics",
        )
        return app
