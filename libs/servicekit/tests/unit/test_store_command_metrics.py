"""The store commands a service sends are counted by name on its `/metrics`, and apart those sent
while answering an HTTP request."""

from __future__ import annotations

import asyncio

import httpx2
from fastapi import APIRouter, FastAPI
from prometheus_client import generate_latest
from pymongo.monitoring import CommandStartedEvent

from servicekit.metrics import HttpMetrics, ServiceMetrics


def started(command: dict[str, object]) -> CommandStartedEvent:
    return CommandStartedEvent(command, "db", request_id=1, connection_id=("127.0.0.1", 27017), operation_id=1)


def test_each_command_started_is_counted_by_its_name() -> None:
    metrics = ServiceMetrics()

    for command in ({"find": "instances"}, {"find": "threads"}, {"count": "messages"}):
        metrics.store_commands.started(started(command))

    exposed = generate_latest(metrics.registry).decode()
    assert 'partnerapp_store_commands_total{command="find"} 2.0' in exposed
    assert 'partnerapp_store_commands_total{command="count"} 1.0' in exposed


def test_nothing_counted_before_the_first_command() -> None:
    exposed = generate_latest(ServiceMetrics().registry).decode()

    assert "partnerapp_store_commands_total{" not in exposed


async def test_commands_sent_while_answering_a_request_are_counted_apart_from_background_work() -> None:
    metrics = ServiceMetrics()
    app = FastAPI()

    @app.get("/things")
    async def things() -> dict[str, str]:
        metrics.store_commands.started(started({"find": "things"}))

        async def spawned() -> None:  # work the request spawns is the request's too
            await asyncio.sleep(0)
            metrics.store_commands.started(started({"count": "things"}))

        await asyncio.create_task(spawned())
        return {}

    app.add_middleware(HttpMetrics, metrics=metrics)
    metrics.store_commands.started(started({"find": "changes"}))  # a background poll, before

    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://t") as client:
        for _ in range(3):
            assert (await client.get("/things")).status_code == 200
    metrics.store_commands.started(started({"find": "changes"}))  # and after

    exposed = generate_latest(metrics.registry).decode()
    assert 'partnerapp_store_commands_total{command="find"} 5.0' in exposed
    assert 'partnerapp_store_commands_in_requests_total{command="find"} 3.0' in exposed
    assert 'partnerapp_store_commands_in_requests_total{command="count"} 3.0' in exposed


async def test_requests_are_timed_by_the_template_of_the_route_that_answered() -> None:
    metrics = ServiceMetrics()
    app = FastAPI()
    api = APIRouter(prefix="/v1")  # the services' routes live in included routers

    @api.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    app.include_router(api)
    app.add_middleware(HttpMetrics, metrics=metrics)

    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://t") as client:
        for thing_id in ("a", "b"):
            assert (await client.get(f"/v1/things/{thing_id}")).status_code == 200
        assert (await client.get("/v1/nothing-here")).status_code == 404
        assert (await client.get("/openapi.json")).status_code == 200  # a plain Starlette route

    exposed = generate_latest(metrics.registry).decode()
    count = "partnerapp_http_request_duration_seconds_count"
    assert f'{count}{{method="GET",route="/v1/things/{{thing_id}}",status="2xx"}} 2.0' in exposed
    assert f'{count}{{method="GET",route="unmatched",status="4xx"}} 1.0' in exposed
    assert f'{count}{{method="GET",route="/openapi.json",status="2xx"}} 1.0' in exposed
    assert "/v1/things/a" not in exposed, "an id is never a label value"
