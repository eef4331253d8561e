"""The two roles of the service (`ACTIVITY_ROLE`), as wired (no broker or store reached): `ingest`
serves the HTTP API and joins no consumer group, `consumer` subscribes to the topics and runs
retention but serves no API beyond health and metrics, `all` (the default) is both."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from activity.bootstrap import build_app
from activity.config import Settings
from activity.service_layer.event_handlers import EVENT_HANDLERS
from servicekit.runtime import ServiceRuntime

pytestmark = pytest.mark.unit

API_PATHS = {"/v1/ingest/events", "/v1/activity/records", "/v1/activity/terminals"}
HEALTH_PATHS = {"/healthz", "/readyz", "/metrics"}


def paths(app: FastAPI) -> set[str]:
    return set(app.openapi()["paths"])


def runtime_of(app: FastAPI) -> ServiceRuntime:
    runtime: ServiceRuntime = app.state.runtime
    return runtime


def jobs(app: FastAPI) -> set[str]:
    return {job.__name__ for job in runtime_of(app)._background}


def test_the_default_role_is_both_in_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACTIVITY_ROLE", raising=False)
    assert Settings().role == "all"
    app = build_app(Settings())
    assert paths(app) >= API_PATHS | HEALTH_PATHS
    assert set(runtime_of(app).consumer.topics) == set(EVENT_HANDLERS)
    assert "enforce_retention" in jobs(app)


def test_the_role_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTIVITY_ROLE", "consumer")
    assert Settings().role == "consumer"


def test_the_ingest_role_serves_the_api_and_consumes_nothing() -> None:
    app = build_app(Settings(role="ingest"))
    assert paths(app) >= API_PATHS | HEALTH_PATHS
    assert runtime_of(app).consumer.topics == []
    assert "enforce_retention" not in jobs(app)


def test_the_consumer_role_consumes_every_topic_and_serves_only_health_and_metrics() -> None:
    app = build_app(Settings(role="consumer"))
    assert paths(app) >= HEALTH_PATHS
    assert not {path for path in paths(app) if path.startswith("/v1/")}
    assert set(runtime_of(app).consumer.topics) == set(EVENT_HANDLERS)
    assert "enforce_retention" in jobs(app)
