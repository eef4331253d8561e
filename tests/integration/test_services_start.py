"""Every service starts against the real Kafka and FerretDB and reports itself ready."""

from __future__ import annotations

import importlib
import uuid
from typing import Any

import httpx2
import pytest

from activity.bootstrap import build_app as build_activity_app
from activity.config import Settings as ActivitySettings
from servicekit.settings import PlatformSettings
from servicekit.testing import started

pytestmark = pytest.mark.integration

SERVICES = ["gateway", "instances", "support", "reports", "activity"]


@pytest.mark.parametrize("service", SERVICES)
async def test_service_starts_and_is_ready(
    service: str, platform: PlatformSettings, database_name: str, key_pair: tuple[str, str]
) -> None:
    bootstrap: Any = importlib.import_module(f"{service}.bootstrap")
    config: Any = importlib.import_module(f"{service}.config")
    own: dict[str, Any] = {"token_private_key": key_pair[0]} if service == "gateway" else {}
    settings = config.Settings(
        mongo_database=database_name, consumer_group=f"{service}-{uuid.uuid4().hex[:6]}", platform=platform, **own
    )
    app = bootstrap.build_app(settings)
    async with started(app):
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=f"http://{service}") as client:
            health = await client.get("/healthz")
            assert health.json() == {"status": "ok", "service": service}
            ready = await client.get("/readyz")
            body = ready.json()
            assert ready.status_code == 200, body
            assert body["checks"]["kafka"]["ok"]
            assert body["checks"]["mongo"]["ok"]
            assert body["checks"]["mongo"]["database"] == database_name
            if service in ("gateway", "instances"):  # they render PDFs
                assert body["checks"]["pdf_fonts"]["ok"], body
            openapi = await client.get("/openapi.json")
            assert openapi.status_code == 200
            metrics = await client.get("/metrics")
            assert metrics.status_code == 200
            assert "partnerapp_events_dead_lettered" in metrics.text
            assert "partnerapp_events_published" in metrics.text
            assert (
                'partnerapp_http_request_duration_seconds_count{method="GET",route="/openapi.json",status="2xx"} 1.0'
                in (metrics.text)
            ), "HTTP latency by route template"


async def test_readyz_says_not_ready_when_the_store_is_unreachable(topic_prefix: str) -> None:
    platform = PlatformSettings(
        topic_prefix=topic_prefix, mongo_url="mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=300"
    )  # type: ignore[arg-type]
    app = build_activity_app(ActivitySettings(platform=platform))
    runtime = app.state.runtime
    # Not started: only the readiness checks are exercised, against a port nothing listens on.
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://activity") as client:
        await runtime.broker.connect()
        try:
            ready = await client.get("/readyz")
        finally:
            await runtime.broker.stop()
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "not-ready"
    assert body["checks"]["mongo"]["ok"] is False
    assert body["checks"]["kafka"]["ok"] is True


@pytest.mark.parametrize("role", ["ingest", "consumer"])
async def test_each_activity_role_starts_alone_and_is_ready(
    role: str, platform: PlatformSettings, database_name: str
) -> None:
    settings = ActivitySettings(
        mongo_database=database_name, consumer_group=f"activity-{uuid.uuid4().hex[:6]}", platform=platform, role=role
    )
    app = build_activity_app(settings)
    async with started(app):
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://activity") as client:
            assert (await client.get("/healthz")).json() == {"status": "ok", "service": "activity"}
            ready = await client.get("/readyz")
            body = ready.json()
            assert ready.status_code == 200, body
            assert body["checks"]["kafka"]["ok"]
            assert body["checks"]["mongo"]["ok"]
            assert ("consumer" in body["checks"]) == (role == "consumer"), "only the consumer role joins the group"
            metrics = await client.get("/metrics")
            assert "partnerapp_events_published" in metrics.text
