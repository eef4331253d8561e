"""The whole back end for end-to-end tests through the gateway, on the real Kafka and FerretDB.

The gateway runs in a real HTTP server (uvicorn, a free port: SSE needs real streaming); the
services it calls run in the same process behind ASGI transports, each with its own database
and consumer group. One stack per test module: starting it takes a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
import pytest_asyncio
import uvicorn
from fastapi import FastAPI
from opentelemetry.sdk.trace import SpanProcessor
from pydantic import SecretStr
from pymongo import MongoClient

from activity.bootstrap import build_app as build_activity
from activity.config import Settings as ActivitySettings
from contracts import all_topic_partitions
from gateway.bootstrap import build_app as build_gateway
from gateway.config import Settings as GatewaySettings
from gateway.domain.model import Language
from gateway.service_layer.commands import GatewayCommands
from instances.bootstrap import build_app as build_instances
from instances.config import Settings as InstancesSettings
from reports.bootstrap import build_app as build_reports
from reports.config import Settings as ReportsSettings
from servicekit.api import provided_on
from servicekit.settings import PlatformSettings
from servicekit.telemetry import Telemetry, setup_telemetry
from servicekit.testing import started as app_started
from servicekit.topics import delete_topics, ensure_topics
from support.bootstrap import build_app as build_support
from support.config import Settings as SupportSettings

KAFKA = os.environ.get("PARTNERAPP_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
MONGO = "mongodb://127.0.0.1:27017/"
PASSWORD = "correct horse battery staple"
UNREACHABLE = "http://127.0.0.1:9"  # discard port: nothing listens
# The built web app; PARTNERAPP_WEB_DIST points elsewhere (e.g. a build of one's own while developing).
WEB_DIST = Path(os.environ.get("PARTNERAPP_WEB_DIST") or Path(__file__).resolve().parents[2] / "web" / "dist")


COMPANY: dict[str, Any] = {
    "name": "Talleres Gómez S.L.",
    "address": {"street": "Calle 1", "city": "Soria", "postal_code": "42001", "province": "Soria"},
    "contact_person": "Luis Gómez",
    "email": "luis@example.com",
    "phone": "+34 975 000 000",
}


async def new_company(api: httpx2.AsyncClient, name: str | None = None) -> str:
    """A company of the caller's partner, through the public API (a tax id of its own): its id."""
    body = {**COMPANY, "tax_id": f"B{uuid.uuid4().int % 10**8:08d}", **({"name": name} if name else {})}
    created = await api.post("/api/v1/companies", json=body)
    assert created.status_code == 201, created.text
    company_id: str = created.json()["id"]
    return company_id


async def provisioned_instance(
    api: httpx2.AsyncClient, company_id: str, *, name: str = "Taller", generate: bool = True
) -> str:
    """A WDS provisioning of the company, provisioned and (unless told not to) its contract generated: its id."""
    draft = await api.post("/api/v1/provisionings", json={"company_id": company_id, "type": "WDS", "name": name})
    assert draft.status_code == 201, draft.text
    instance_id: str = draft.json()["id"]
    assert (await api.post(f"/api/v1/provisionings/{instance_id}/provision")).status_code == 200
    if generate:
        generated = await api.post(
            f"/api/v1/provisionings/{instance_id}/generate", headers={"Idempotency-Key": str(uuid.uuid4())}
        )
        assert generated.status_code in (200, 201), generated.text
    return instance_id


@pytest.fixture(scope="module")
def topic_prefix() -> Iterator[str]:
    """Topics of this module's own: a stack's consumers read from offset 0, so on the session's
    topics a late module's reports and activity would first replay every earlier test's events."""
    prefix = f"e2e-{uuid.uuid4().hex[:10]}."
    asyncio.run(ensure_topics(KAFKA, all_topic_partitions(), prefix=prefix))
    yield prefix
    asyncio.run(delete_topics(KAFKA, [f"{prefix}{name}" for name in all_topic_partitions()]))


@dataclass
class Stack:
    url: str
    app: FastAPI
    databases: list[str]
    users: dict[str, str] = field(default_factory=dict)
    """user id -> e-mail"""

    def client(self, token: str | None = None) -> httpx2.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx2.AsyncClient(base_url=self.url, headers=headers, timeout=30)

    async def login(self, email: str, *, partner_id: str | None = None) -> dict[str, Any]:
        async with self.client() as client:
            response = await client.post(
                "/api/v1/auth/login", json={"email": email, "password": PASSWORD, "partner_id": partner_id}
            )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def token(self, email: str, *, partner_id: str | None = None) -> str:
        return str((await self.login(email, partner_id=partner_id))["access_token"])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def serve(app: FastAPI, port: int) -> AsyncIterator[None]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    for _ in range(600):
        if server.started or task.done():
            break
        await asyncio.sleep(0.1)
    if not server.started:
        server.should_exit = True
        await task
        raise RuntimeError("the gateway did not start")
    try:
        yield
    finally:
        server.should_exit = True
        await task


def stack_platform(topic_prefix: str, key_pair: tuple[str, str]) -> PlatformSettings:
    return PlatformSettings(
        kafka_bootstrap_servers=KAFKA,
        mongo_url=SecretStr(MONGO),
        topic_prefix=topic_prefix,
        auth_public_key=key_pair[1],
    )


@contextlib.asynccontextmanager
async def running_stack(
    topic_prefix: str,
    key_pair: tuple[str, str],
    *,
    down: tuple[str, ...] = (),
    web: bool = False,
    spans: SpanProcessor | None = None,
    impersonation_key: str | None = None,
    gateway_settings: dict[str, Any] | None = None,
) -> AsyncIterator[Stack]:
    """`down` names services left unreachable (their URL points where nothing listens); `web`
    serves the built web app (web/dist) from the gateway; `spans` receives every service's spans;
    `impersonation_key` (Ed25519 PEM) lets the instances service sign the panel's impersonation tokens;
    `gateway_settings` override the gateway's (e.g. the webhooks' schedule)."""

    def telemetry(service: str) -> Telemetry | None:
        return setup_telemetry(service, span_processors=[spans]) if spans else None

    platform = stack_platform(topic_prefix, key_pair)
    tag = uuid.uuid4().hex[:8]
    names = {name: f"test_{tag}_{name}" for name in ("instances", "support", "reports", "activity", "gateway")}
    common: dict[str, Any] = {"outbox_scan_seconds": 0.2, "platform": platform}
    instances = build_instances(
        InstancesSettings(
            mongo_database=names["instances"],
            consumer_group=f"instances-{tag}",
            impersonation_key=impersonation_key,
            **common,
        ),
        telemetry=telemetry("instances"),
    )
    instances_transport = httpx2.ASGITransport(app=instances)
    support = build_support(
        SupportSettings(mongo_database=names["support"], consumer_group=f"support-{tag}", **common),
        telemetry=telemetry("support"),
    )
    activity = build_activity(
        ActivitySettings(mongo_database=names["activity"], consumer_group=f"activity-{tag}", platform=platform),
        instances_transport=instances_transport,
        telemetry=telemetry("activity"),
    )
    reports = build_reports(
        ReportsSettings(mongo_database=names["reports"], consumer_group=f"reports-{tag}", **common),
        telemetry=telemetry("reports"),
    )
    apps = {"instances": instances, "support": support, "reports": reports, "activity": activity}
    every: dict[str, httpx2.AsyncBaseTransport] = {
        "instances": instances_transport,
        "support": httpx2.ASGITransport(app=support),
        "reports": httpx2.ASGITransport(app=reports),
        "activity": httpx2.ASGITransport(app=activity),
    }
    transports = {name: transport for name, transport in every.items() if name not in down}
    port = _free_port()
    urls = {f"{name}_url": UNREACHABLE for name in ("instances", "support", "reports", "activity")}
    gateway = build_gateway(
        GatewaySettings(
            mongo_database=names["gateway"],
            consumer_group=f"gateway-{tag}",
            webhook_consumer_group=f"gateway-webhooks-{tag}",
            token_private_key=SecretStr(key_pair[0]),
            optional_part_timeout_seconds=2.0,
            login_attempts_per_minute=10_000,
            web_dir=WEB_DIST if web else None,
            **urls,
            **common,
            **(gateway_settings or {}),
        ),
        transports=transports,
        telemetry=telemetry("gateway"),
    )
    try:
        async with contextlib.AsyncExitStack() as started:
            for name, app in apps.items():
                if name not in down:
                    await started.enter_async_context(app_started(app))
            await started.enter_async_context(serve(gateway, port))
            stack = Stack(url=f"http://127.0.0.1:{port}", app=gateway, databases=list(names.values()))
            yield stack
    finally:
        with MongoClient(MONGO, serverSelectionTimeoutMS=5000) as client:
            for database in names.values():
                client.drop_database(database)


async def add_user(
    stack: Stack, user_id: str, role: str, partners: tuple[str, ...], language: Language = Language.ES
) -> str:
    commands: GatewayCommands = provided_on(stack.app, GatewayCommands)
    email = f"{user_id}@example.com"
    await commands.create_user(
        user_id=user_id,
        email=email,
        name=user_id.title(),
        role=role,
        partner_ids=partners,
        password=PASSWORD,
        language=language,
    )
    stack.users[user_id] = email
    return email


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(topic_prefix: str, key_pair: tuple[str, str]) -> AsyncIterator[Stack]:
    async with running_stack(topic_prefix, key_pair) as started:
        yield started


@pytest.fixture
def unique() -> Callable[[str], str]:
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:8]}"
