"""Composition root of the gateway service: the one place adapters are chosen and wired."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from pathlib import Path

import httpx2
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from gateway.adapters.backends import SERVICES, HttpBackends
from gateway.adapters.hardware_catalogue import HardwareCatalogue
from gateway.adapters.mongo import (
    INDEXES,
    PARTNERS,
    MongoAccessChanges,
    MongoAuditLog,
    MongoLoginGuards,
    MongoNotificationLog,
    MongoPartners,
    MongoSessions,
    MongoUsers,
)
from gateway.adapters.security import Argon2Passwords, SignedAccessTokens
from gateway.adapters.webhooks import (
    WEBHOOK_INDEXES,
    MongoWebhookDeliveries,
    MongoWebhookSubscriptions,
    SecretBox,
    WebhookPoster,
)
from gateway.adapters.webpush import MongoPushSubscriptions, VapidKeys, WebPushSender
from gateway.config import Settings
from gateway.domain.map_tiles import tile_origin
from gateway.domain.notifications import LiveStreams
from gateway.domain.rate_limit import IngestRequests, LoginAttempts
from gateway.domain.webhooks import RetrySchedule
from gateway.entrypoints import hardware, http, proxy, push, webhooks
from gateway.entrypoints.audit import AuditTrail
from gateway.entrypoints.web import SECURITY_HEADERS, SinglePageApp, security_headers
from gateway.service_layer.access import AccessAnnouncer, AccessCache, AccessFeed, AnnouncedSessions, AnnouncedUsers
from gateway.service_layer.commands import GatewayCommands, LoginPolicy
from gateway.service_layer.event_handlers import (
    EVENT_HANDLERS,
    WEBHOOK_EVENT_HANDLERS,
    GatewayEventHandlers,
    WebhookEventHandlers,
)
from gateway.service_layer.queries import GatewayQueries
from gateway.service_layer.webhooks import (
    PausedNotifier,
    SenderPolicy,
    Sequencer,
    WebhookCommands,
    WebhookDispatcher,
    WebhookQueries,
    WebhookSender,
)
from servicekit import openapi
from servicekit.auth import TokenIssuer
from servicekit.consumer import EventConsumer
from servicekit.deadletter import DeadLetterPublisher
from servicekit.handlers import subscribe_table
from servicekit.i18n import DEFAULT_LANGUAGE, Language, as_language
from servicekit.idempotency import COLLECTION as IDEMPOTENCY_KEYS
from servicekit.idempotency import IdempotencyKeys
from servicekit.pdf_fonts import fonts_ready
from servicekit.runtime import ServiceRuntime
from servicekit.telemetry import Telemetry

SERVICE = "gateway"
NOTIFICATION_PRUNE_SECONDS = 3600
ACCESS_PRUNE_SECONDS = 30


def _access_from_memory(
    runtime: ServiceRuntime, settings: Settings
) -> tuple[AccessCache, AnnouncedUsers, AnnouncedSessions]:
    """Sessions and users in this replica's memory for the per-call check; every write that may
    end a grant goes through the announcing repositories, whose change log every replica polls."""
    access = AccessCache(staleness_bound=settings.access_staleness_seconds)
    access_changes = MongoAccessChanges(runtime.db)
    announcer = AccessAnnouncer(access_changes, access)
    users = AnnouncedUsers(MongoUsers(runtime.db, runtime.locks), announcer)
    sessions = AnnouncedSessions(MongoSessions(runtime.db, runtime.locks), announcer)
    feed = AccessFeed(access_changes, access)
    runtime.every(settings.access_poll_seconds, feed.poll, name="access_feed")
    runtime.every(ACCESS_PRUNE_SECONDS, feed.prune, first_after=ACCESS_PRUNE_SECONDS, name="access_prune")
    runtime.provide(AccessFeed, feed)  # operators' and tests' handle on the feed
    return access, users, sessions


def _webhooks(
    runtime: ServiceRuntime,
    settings: Settings,
    signing_key: str,
    notifier: PausedNotifier,
    webhook_transport: httpx2.AsyncBaseTransport | None,
) -> None:
    """Subscriptions and their log for every replica; the dispatcher (its own consumer group and
    the sender loop) where `GATEWAY_WEBHOOK_DISPATCHER` is true."""
    runtime.add_indexes(WEBHOOK_INDEXES)
    key = settings.webhook_secret_key
    sealer = SecretBox(key.get_secret_value()) if key else SecretBox.derived_from(signing_key)
    subscriptions = MongoWebhookSubscriptions(runtime.db)
    deliveries = MongoWebhookDeliveries(runtime.db)
    sequencer = Sequencer()
    sender: WebhookSender | None = None
    if settings.webhook_dispatcher:
        poster = WebhookPoster(
            timeout_seconds=settings.webhook_timeout_seconds,
            allow_private=settings.webhooks_allow_private,
            transport=webhook_transport,
        )
        runtime.on_stop(poster.close)
        policy = SenderPolicy(
            schedule=RetrySchedule(tuple(settings.webhook_retry_schedule_seconds)),
            max_parallel=settings.webhook_max_parallel,
            lease_seconds=settings.webhook_lease_seconds or settings.webhook_timeout_seconds * 3,
            poll_seconds=settings.webhook_poll_seconds,
            pause_after_failures=settings.webhook_pause_after_failures,
        )
        sender = WebhookSender(subscriptions, deliveries, sealer, poster, policy=policy, notifier=notifier)
        runtime.run_in_background(sender.run)
        runtime.provide(WebhookSender, sender)
        dispatcher = WebhookDispatcher(subscriptions, deliveries, sequencer=sequencer, wake=sender.wake)
        group = settings.model_copy(update={"consumer_group": settings.webhook_consumer_group})
        consumer = EventConsumer(
            runtime.broker, group, runtime.inbox, DeadLetterPublisher(runtime.broker, group.platform)
        )
        subscribe_table(consumer, WEBHOOK_EVENT_HANDLERS, WebhookEventHandlers(dispatcher))
        consumer.install()  # its own group on the same broker, started with it
    commands = WebhookCommands(
        subscriptions=subscriptions,
        deliveries=deliveries,
        sealer=sealer,
        allow_private=settings.webhooks_allow_private,
        sequencer=sequencer,
        wake=sender.wake if sender else lambda: None,
    )
    retention = timedelta(days=settings.webhook_log_retention_days)

    async def prune_deliveries() -> None:
        await commands.prune_deliveries(retention)

    if settings.webhook_dispatcher:  # one replica prunes
        runtime.every(NOTIFICATION_PRUNE_SECONDS, prune_deliveries, first_after=NOTIFICATION_PRUNE_SECONDS)
    runtime.provide(WebhookCommands, commands)
    runtime.provide(WebhookQueries, WebhookQueries(subscriptions=subscriptions, deliveries=deliveries))
    runtime.provide(IdempotencyKeys, IdempotencyKeys(runtime.db[IDEMPOTENCY_KEYS]))


def _partner_directory(runtime: ServiceRuntime) -> MongoPartners:
    """The gateway's collections, and its partner directory: `partner.updated` rides in each
    partner's document (outbox) and this relay publishes it, also when the seeding wrote it."""
    runtime.add_indexes(INDEXES)
    relay = runtime.use_outbox([PARTNERS])
    return MongoPartners(runtime.db, relay.notify)


def build_app(
    settings: Settings | None = None,
    *,
    telemetry: Telemetry | None = None,
    transports: Mapping[str, httpx2.AsyncBaseTransport] | None = None,
    webhook_transport: httpx2.AsyncBaseTransport | None = None,
) -> FastAPI:
    """`transports` replaces the network to some services (tests run them in-process)."""
    settings = settings or Settings()
    runtime = ServiceRuntime.create(SERVICE, settings, telemetry=telemetry)
    partners = _partner_directory(runtime)
    platform = settings.platform
    signing_key = settings.signing_key()
    if signing_key is None:
        raise RuntimeError("the gateway needs GATEWAY_TOKEN_PRIVATE_KEY(_FILE) to sign access tokens")
    issuer = TokenIssuer(
        signing_key,
        issuer=platform.auth_issuer,
        audience=platform.auth_audience,
        ttl=timedelta(minutes=settings.access_token_minutes),
    )
    audit = MongoAuditLog(runtime.db)
    access, users, sessions = _access_from_memory(runtime, settings)
    urls = {name: str(getattr(settings, f"{name}_url")) for name in SERVICES}
    backends = HttpBackends(urls, timeout=settings.backend_timeout_seconds, transports=transports)
    runtime.on_stop(backends.close)
    push_subscriptions = MongoPushSubscriptions(runtime.db, runtime.locks)
    vapid_keys = VapidKeys.load(settings.vapid_private_key_file)

    async def language_of(user_id: str) -> Language:
        user = await users.get(user_id)
        return as_language(user.language.value) if user else DEFAULT_LANGUAGE

    push_sender = WebPushSender(push_subscriptions, vapid_keys, subject=settings.vapid_subject, language_of=language_of)
    runtime.on_stop(push_sender.close)
    notification_log = MongoNotificationLog(runtime.db)
    live = LiveStreams()  # this replica's open streams: the event handlers fan out to what the queries listen on
    commands = GatewayCommands(
        users=users,
        sessions=sessions,
        guards=MongoLoginGuards(runtime.db, runtime.locks),
        hasher=Argon2Passwords(),
        tokens=SignedAccessTokens(issuer),
        audit=audit,
        push_subscriptions=push_subscriptions,
        notification_log=notification_log,
        policy=LoginPolicy(
            max_failures=settings.login_max_failures,
            lockout=timedelta(minutes=settings.login_lockout_minutes),
            refresh_ttl=timedelta(days=settings.refresh_token_days),
        ),
        partners=partners,
    )
    queries = GatewayQueries(
        users=users,
        sessions=sessions,
        partners=partners,
        backends=backends,
        audit=audit,
        notification_log=notification_log,
        live=live,
        catalogue=HardwareCatalogue.load(),  # a broken hardware list stops the start
        vapid_public_key=vapid_keys.public_key,
        optional_timeout=settings.optional_part_timeout_seconds,
        access=access,
    )
    subscribe_table(runtime.consumer, EVENT_HANDLERS, GatewayEventHandlers(notification_log, live, push_sender))
    retention = timedelta(hours=settings.notification_retention_hours)

    async def prune_notifications() -> None:
        await commands.prune_notifications(retention)

    runtime.every(NOTIFICATION_PRUNE_SECONDS, prune_notifications, first_after=NOTIFICATION_PRUNE_SECONDS)
    login_limiter = LoginAttempts(settings.login_attempts_per_minute, 60.0)
    ingest_limiter = IngestRequests(settings.ingest_requests_per_second, 1.0)
    notifier = PausedNotifier(notification_log, live, push_sender)
    _webhooks(runtime, settings, signing_key, notifier, webhook_transport)
    runtime.provide(GatewayCommands, commands)
    runtime.provide(GatewayQueries, queries)
    runtime.provide(LoginAttempts, login_limiter)
    runtime.provide(IngestRequests, ingest_limiter)
    runtime.provide(HttpBackends, backends)
    runtime.provide(proxy.ServiceDocuments, proxy.ServiceDocuments(backends))
    # The gateway's own routes first: the forwarding router catches every other `/api/v1/<resource>`.
    routers = [http.api, push.api, hardware.api, webhooks.api, proxy.documents, proxy.api]
    runtime.add_readiness("pdf_fonts", fonts_ready)  # the hardware list PDF needs them
    for pattern in proxy.UPLOAD_PATHS:
        runtime.allow_larger_bodies(pattern, settings.upload_max_bytes)
    app = runtime.create_app(title="partnerapp gateway", routers=routers)
    # Operators and tests lift a block by resetting these.
    app.state.login_limiter = login_limiter
    app.state.ingest_limiter = ingest_limiter
    # Wrong credentials, the lockout and the per-client limit; both read and write the store.
    openapi.declare_errors(app, {"POST /api/v1/auth/login": (401, 429, 503), "POST /api/v1/auth/refresh": (401, 503)})
    webhooks.document_deliveries(app)  # the OpenAPI 3.1 `webhooks`: what a partner's URL receives
    app.add_middleware(AuditTrail, audit=audit)
    if settings.web_dir is not None:
        _serve_web_app(app, settings, settings.web_dir)  # last: every route above wins
    return app


def _serve_web_app(app: FastAPI, settings: Settings, web_dir: Path) -> None:
    app.add_api_route("/config.json", _web_config(settings), methods=["GET"], include_in_schema=False)
    headers = security_headers((tile_origin(settings.map_tile_url),))
    app.mount("/", SinglePageApp(web_dir, headers), name="web")


def _web_config(settings: Settings) -> Callable[[], Awaitable[JSONResponse]]:
    """`/config.json`, the web app's run-time settings (web/src/config.ts), from the gateway's: a
    deployment sets its tile server once, and the CSP above allows exactly that origin."""
    body = {
        "map": {
            "tile_url": settings.map_tile_url,
            "attribution": settings.map_attribution,
            "max_zoom": settings.map_max_zoom,
        }
    }

    async def web_config() -> JSONResponse:
        return JSONResponse(body, headers={"Cache-Control": "no-cache", **SECURITY_HEADERS})

    return web_config
