"""Composition root of the activity service: the one place adapters are chosen and wired.

The service runs in two roles, scaled apart (`Settings.role`): `ingest` answers HTTP (terminals'
ingest publishing to Kafka, the reads, the license release), `consumer` applies the topics to the
store (and runs retention, the other writer). The reads stay with ingest: both are short requests
on the same HTTP edge and the same upstream for the gateway, while the consumer's long bulk writes
get a process of their own. `all` is both in one process.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx2
from fastapi import FastAPI

from activity.adapters.field_store import MongoFieldStore
from activity.adapters.instances_client import HttpInstancesClient
from activity.adapters.mongo_repository import INDEXES, MongoActivityStore, MongoIngestKeyStore, MongoTerminalStore
from activity.adapters.remote_actions_mongo import REMOTE_ACTION_INDEXES, MongoRemoteActionStore
from activity.config import Settings
from activity.domain.working_time import Rules
from activity.entrypoints import http
from activity.service_layer.commands import ActivityCommands
from activity.service_layer.event_handlers import EVENT_HANDLERS, ActivityEventHandlers
from activity.service_layer.field_operations import FieldCommands, FieldProjection, FieldQueries
from activity.service_layer.queries import ActivityQueries
from activity.service_layer.remote_actions import RemoteActionQueries, RemoteActionTrail
from activity.service_layer.testing import ActivityFakes
from servicekit import openapi
from servicekit.handlers import subscribe_table
from servicekit.idempotency import COLLECTION as IDEMPOTENCY_KEYS
from servicekit.idempotency import IdempotencyKeys
from servicekit.pdf import fonts_ready
from servicekit.runtime import ServiceRuntime
from servicekit.telemetry import Telemetry

SERVICE = "activity"
TITLE = "partnerapp activity"


def build_app(
    settings: Settings | None = None,
    *,
    telemetry: Telemetry | None = None,
    instances_transport: httpx2.AsyncBaseTransport | None = None,
) -> FastAPI:
    """`instances_transport` lets tests route the instances client to an in-process app."""
    settings = settings or Settings()
    runtime = ServiceRuntime.create(SERVICE, settings, telemetry=telemetry)
    instances = HttpInstancesClient(settings.instances_url, transport=instances_transport)
    terminals = MongoTerminalStore(runtime.db, runtime.locks)
    records = MongoActivityStore(runtime.db, terminals)
    keys = MongoIngestKeyStore(runtime.db, runtime.locks)
    commands = ActivityCommands(keys=keys, publisher=runtime.publisher, records=records, instances=instances)
    serves_http, consumes = settings.role in ("ingest", "all"), settings.role in ("consumer", "all")
    field_store = MongoFieldStore(runtime.db)
    field_queries = FieldQueries(
        field_store,
        field_store,
        terminals,
        rules=Rules(late_after=timedelta(seconds=settings.late_sync_threshold_s)),
        gap_threshold_s=settings.position_gap_s,
    )
    field_commands = FieldCommands(field_store, field_queries)
    actions = MongoRemoteActionStore(runtime.db)
    trail = RemoteActionTrail(actions, records)
    handlers = ActivityEventHandlers(records, terminals, keys, field_ops=FieldProjection(field_store), trail=trail)
    _wire(
        runtime,
        commands,
        ActivityQueries(records, terminals),
        handlers,
        consumes=consumes,
        field=(field_queries, field_commands),
        keys=IdempotencyKeys(runtime.db[IDEMPOTENCY_KEYS]),
    )
    overdue = timedelta(seconds=settings.action_overdue_s)
    runtime.provide(RemoteActionQueries, RemoteActionQueries(actions, terminals, keys, overdue))
    runtime.add_indexes(INDEXES)
    runtime.add_indexes(REMOTE_ACTION_INDEXES)
    if consumes:

        async def enforce_retention() -> None:
            await commands.enforce_retention(datetime.now(UTC).date(), settings.retention_days)
            # The working-time record is kept its own (longer) time: four years at least.
            wt_days = max(settings.retention_days, settings.working_time_retention_days)
            await field_commands.enforce_retention(datetime.now(UTC).date(), wt_days)
            await trail.prune_sightings(datetime.now(UTC))

        runtime.every(settings.retention_check_seconds, enforce_retention)
    if serves_http:
        runtime.add_readiness("pdf_fonts", fonts_ready)  # the working-time PDF needs them
    runtime.on_stop(instances.close)
    app = runtime.create_app(title=TITLE, routers=[http.api] if serves_http else [])
    if serves_http:  # another partner's instance, named in the query
        openapi.declare_errors(app, {"GET /v1/activity/actions": (404,)})
    return app


def bootstrap_test_app(fakes: ActivityFakes | None = None, settings: Settings | None = None) -> FastAPI:
    """The app on in-memory fakes, for tests of the HTTP edge: call it without its lifespan (through
    `httpx2.ASGITransport`), so no broker or store is ever reached."""
    fakes = fakes or ActivityFakes()
    runtime = ServiceRuntime.create(SERVICE, settings or Settings())
    _wire(
        runtime,
        fakes.commands,
        fakes.queries,
        fakes.event_handlers,
        field=(fakes.field_queries, fakes.field_commands),
        keys=IdempotencyKeys.in_memory(),
    )
    runtime.provide(RemoteActionQueries, fakes.action_queries)
    return runtime.create_app(title=TITLE, routers=[http.api])


def _wire(
    runtime: ServiceRuntime,
    commands: ActivityCommands,
    queries: ActivityQueries,
    handlers: ActivityEventHandlers,
    *,
    consumes: bool = True,
    field: tuple[FieldQueries, FieldCommands],
    keys: IdempotencyKeys,
) -> None:
    runtime.provide(ActivityCommands, commands)
    runtime.provide(IdempotencyKeys, keys)
    runtime.provide(FieldQueries, field[0])
    runtime.provide(FieldCommands, field[1])
    runtime.provide(ActivityQueries, queries)
    runtime.provide(ActivityEventHandlers, handlers)
    runtime.provide(http.IngestMetrics, http.IngestMetrics.on(runtime.metrics.registry))
    if consumes:  # without a subscription the runtime joins no consumer group
        subscribe_table(runtime.consumer, EVENT_HANDLERS, handlers)
