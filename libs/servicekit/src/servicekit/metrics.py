"""A service's Prometheus metrics on `/metrics`, and the lag of its consumer group.

Counters the service keeps anyway (consumer stats, outbox backlog, measured lag) are read at
scrape time by one collector, so the code paths carry no metric calls of their own; a service
adds its own metrics to `ServiceMetrics.registry`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition
from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from pymongo.monitoring import CommandFailedEvent, CommandListener, CommandStartedEvent, CommandSucceededEvent
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.consumer import ConsumerStats

log = logging.getLogger(__name__)

LAG_INTERVAL_SECONDS = 5.0


class ConsumerLagMonitor:
    """Measures how many events of each consumed topic the group has not committed yet.

    Lag = end offset - committed offset, summed over the topic's partitions (a partition the
    group never committed counts from its beginning offset, as `auto_offset_reset=earliest`).
    """

    def __init__(
        self,
        bootstrap_servers: str,
        group_id: str,
        topics: Callable[[], Iterable[str]],
        *,
        topic_prefix: str = "",
        interval_seconds: float = LAG_INTERVAL_SECONDS,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._group = group_id
        self._topics = topics
        self._prefix = topic_prefix
        self._interval = interval_seconds
        self._admin: AIOKafkaAdminClient | None = None
        self._offsets: AIOKafkaConsumer | None = None
        self.last: dict[str, int] | None = None
        self.measured_at: datetime | None = None

    async def measure(self) -> dict[str, int]:
        """Lag per topic (catalogue name, without the deployment's prefix)."""
        names = [f"{self._prefix}{topic}" for topic in self._topics()]
        if not names:
            return {}
        admin, offsets = await self._clients()
        partitions = [
            TopicPartition(description["topic"], partition["partition"])
            for description in await admin.describe_topics(names)
            for partition in description["partitions"]
        ]
        committed = await admin.list_consumer_group_offsets(self._group, partitions=partitions)
        ends = await offsets.end_offsets(partitions)
        beginnings = await offsets.beginning_offsets(partitions)
        lag: dict[str, int] = {name.removeprefix(self._prefix): 0 for name in names}
        for partition in partitions:
            position = committed.get(partition)
            start = position.offset if position is not None and position.offset >= 0 else beginnings[partition]
            lag[partition.topic.removeprefix(self._prefix)] += max(ends[partition] - start, 0)
        self.last, self.measured_at = lag, datetime.now(UTC)
        return lag

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None or self._offsets is None:
            self._admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, request_timeout_ms=10_000)
            await self._admin.start()
            # A consumer without a group only reads offsets: it never joins or commits.
            self._offsets = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, enable_auto_commit=False)
            await self._offsets.start()
        return self._admin, self._offsets

    async def run(self) -> None:
        while True:
            try:
                await self.measure()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Kafka may be away; the last figure stays, marked by its time
                log.warning("consumer lag not measured: %s", exc)
            await asyncio.sleep(self._interval)

    def details(self) -> dict[str, object]:
        """For `/readyz`: the last measurement (never a reason to be "not ready")."""
        if self.last is None:
            return {"lag": None}
        measured = self.measured_at.isoformat() if self.measured_at else None
        return {"lag": sum(self.last.values()), "lag_by_topic": dict(self.last), "lag_measured_at": measured}

    async def close(self) -> None:
        if self._offsets is not None:
            await self._offsets.stop()
        if self._admin is not None:
            await self._admin.close()
        self._admin = self._offsets = None


async def consumer_lag(bootstrap_servers: str, group_id: str, topics: Iterable[str]) -> dict[str, int]:
    """One measurement of a group's lag per topic (full topic names), for tools and tests."""
    names = list(topics)
    monitor = ConsumerLagMonitor(bootstrap_servers, group_id, lambda: names)
    try:
        return await monitor.measure()
    finally:
        await monitor.close()


class _RuntimeCollector(Collector):
    def __init__(
        self,
        stats: ConsumerStats,
        lag: Callable[[], Mapping[str, int] | None],
        outbox_backlog: Callable[[], Mapping[str, int]],
        published: Mapping[str, int],
    ) -> None:
        self._stats = stats
        self._lag = lag
        self._outbox_backlog = outbox_backlog
        self._published = published

    def collect(self) -> Iterator[Metric]:
        consumed = CounterMetricFamily(
            "partnerapp_events_consumed", "Events applied by the service's handlers", labels=["topic"]
        )
        for topic, count in sorted(self._stats.by_topic.items()):
            consumed.add_metric([topic], count)
        yield consumed
        produced = CounterMetricFamily(
            "partnerapp_events_published", "Events the broker acknowledged, per topic", labels=["topic"]
        )
        for topic, count in sorted(self._published.items()):
            produced.add_metric([topic], count)
        yield produced
        yield CounterMetricFamily(
            "partnerapp_events_duplicate", "Redelivered events skipped by the inbox", value=self._stats.duplicates
        )
        yield CounterMetricFamily(
            "partnerapp_events_dead_lettered", "Events sent to the dead-letter topic", value=self._stats.dead_lettered
        )
        lag = self._lag()
        if lag is not None:
            gauge = GaugeMetricFamily(
                "partnerapp_consumer_lag", "Events of a consumed topic not yet committed by the group", labels=["topic"]
            )
            for topic, behind in sorted(lag.items()):
                gauge.add_metric([topic], behind)
            yield gauge
        backlog = self._outbox_backlog()
        if backlog:
            yield GaugeMetricFamily(
                "partnerapp_outbox_pending",
                "Documents with events not yet published, at the relay's last scan",
                value=backlog.get("pending_at_last_scan", 0) + backlog.get("queued_documents", 0),
            )


_ANSWERING: ContextVar[bool] = ContextVar("answering_http_request", default=False)
"""True while the task (and what it spawned) is answering an HTTP request (set by HttpMetrics)."""


class StoreCommands(CommandListener, Collector):
    """Counts the store commands this process sends, by command name (`find`, `count`, ...), as
    `partnerapp_store_commands_total`, and apart those sent while answering an HTTP request as
    `partnerapp_store_commands_in_requests_total`: read before and after N requests, the second
    tells how many store round trips a route costs, whatever the background jobs (polls, outbox
    scans, pruning) send meanwhile (the benchmark does so). PyMongo calls `started` in the task
    that sends the command, so the request's context is the one seen here."""

    def __init__(self) -> None:
        self.by_command: Counter[str] = Counter()
        self.in_requests: Counter[str] = Counter()

    def started(self, event: CommandStartedEvent) -> None:
        self.by_command[event.command_name] += 1
        if _ANSWERING.get():
            self.in_requests[event.command_name] += 1

    def succeeded(self, event: CommandSucceededEvent) -> None:
        return None

    def failed(self, event: CommandFailedEvent) -> None:
        return None

    def collect(self) -> Iterator[Metric]:
        commands = CounterMetricFamily(
            "partnerapp_store_commands", "Commands sent to the store, by command name", labels=["command"]
        )
        for command, count in sorted(self.by_command.items()):
            commands.add_metric([command], count)
        yield commands
        in_requests = CounterMetricFamily(
            "partnerapp_store_commands_in_requests",
            "Commands sent to the store while answering an HTTP request, by command name",
            labels=["command"],
        )
        for command, count in sorted(self.in_requests.items()):
            in_requests.add_metric([command], count)
        yield in_requests


HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServiceMetrics:
    """One registry per service (not the process-global one: tests run several services in a process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_duration = Histogram(
            "partnerapp_http_request_duration_seconds",
            "HTTP requests by method, route template and status class",
            ["method", "route", "status"],
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )
        self.store_commands = StoreCommands()  # given to the store's client (servicekit.mongo)
        self.registry.register(self.store_commands)

    def track_runtime(
        self,
        stats: ConsumerStats,
        lag: Callable[[], Mapping[str, int] | None],
        outbox_backlog: Callable[[], Mapping[str, int]],
        published: Mapping[str, int],
    ) -> None:
        self.registry.register(_RuntimeCollector(stats, lag, outbox_backlog, published))

    def router(self) -> APIRouter:
        router = APIRouter(tags=["health"])

        @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
        async def metrics() -> Response:
            return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

        return router


class HttpMetrics:
    """Times every HTTP request into `ServiceMetrics.http_duration`, labelled by route template
    (`/v1/instances/{instance_id}`, never the id itself: bounded label values)."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = asyncio.get_running_loop().time()
        status = 500
        answering = _ANSWERING.set(True)

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            _ANSWERING.reset(answering)
            route = _template(scope)
            if route not in ("/metrics", "/healthz", "/readyz"):
                elapsed = asyncio.get_running_loop().time() - started
                self.metrics.http_duration.labels(scope["method"], route, f"{status // 100}xx").observe(elapsed)


def _template(scope: Scope) -> str:
    """The template of the route that answered. FastAPI's routes leave themselves in the scope
    (the app's route list shows an included router as one opaque entry); the plain Starlette
    routes FastAPI adds itself (`/openapi.json`) do not, and are found among the app's own."""
    path = getattr(scope.get("route"), "path", None)
    if path:
        return str(path)
    router = getattr(scope.get("app"), "router", None)
    for route in getattr(router, "routes", ()):
        if isinstance(route, Route) and route.matches(scope)[0] == Match.FULL:
            return route.path
    return "unmatched"
