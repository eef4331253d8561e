"""Store queries per request of the terminals' list and a terminal, counted with PyMongo's command
monitoring: one find, whatever the page size and however many terminals the store holds (the
list reads one document per partition of the telemetry topic, a terminal its partition's)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import httpx2
import pytest
from fastapi import FastAPI

from activity.bootstrap import build_app
from activity.config import Settings
from activity.domain.model import ActivityRecord
from activity.service_layer.queries import ActivityQueries
from servicekit.api import provided_on
from servicekit.settings import PlatformSettings
from servicekit.testing import count_commands, started, watch_commands

pytestmark = pytest.mark.integration

PARTNER = f"ptn-count-{uuid.uuid4().hex[:8]}"  # other tests of the session share the topics


@pytest.fixture
async def app(platform: PlatformSettings, database_name: str) -> AsyncIterator[FastAPI]:
    watch_commands()  # before the app's client is created, so that it reports its commands
    settings = Settings(
        mongo_database=database_name, consumer_group=f"activity-{uuid.uuid4().hex[:8]}", platform=platform
    )
    application = build_app(settings)
    async with started(application):
        yield application


async def add_terminals(app: FastAPI, first: int, count: int) -> None:
    seen = datetime.now(UTC) - timedelta(hours=1)
    records = [
        ActivityRecord(
            event_id=str(uuid.uuid4()),
            serial=f"SN-{n:05d}",
            instance_id="ins-count",
            partner_id=PARTNER,
            action="clock_in",
            occurred_at=seen + timedelta(seconds=n),
            received_at=seen + timedelta(seconds=n),
            pin=f"{n:04d}",
        )
        for n in range(first, first + count)
    ]
    await provided_on(app, ActivityQueries).terminals.advance(records)


async def test_the_terminals_list_and_a_terminal_are_one_find_whatever_the_page_and_the_store_hold(
    app: FastAPI, token_for: Callable[..., str], database_name: str
) -> None:
    headers = {"Authorization": f"Bearer {token_for(PARTNER, user_id='usr-count')}"}
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://activity", headers=headers
    ) as client:
        await add_terminals(app, 0, 10)
        per_request: dict[tuple[int, int], int] = {}
        for stored in (10, 100):
            if stored == 100:
                await add_terminals(app, 10, 90)
            for limit in (5, 50):
                with count_commands(database_name) as counter:
                    response = await client.get("/v1/activity/terminals", params={"limit": limit})
                assert response.status_code == 200, response.text
                items = response.json()["items"]
                assert [t["serial"] for t in items] == [f"SN-{n:05d}" for n in range(stored - 1, -1, -1)][:limit]
                per_request[(stored, limit)] = counter.total
            with count_commands(database_name) as counter:
                response = await client.get("/v1/activity/terminals/sn-00007")
            assert response.json()["serial"] == "SN-00007"
            per_request[(stored, 1)] = counter.total
    assert set(per_request.values()) == {1}, per_request


async def test_several_terminals_by_serial_are_one_find_in_the_order_asked_and_only_the_partners(
    app: FastAPI, token_for: Callable[..., str], database_name: str
) -> None:
    await add_terminals(app, 200, 12)
    asked = ["sn-00211", "SN-00200", "SN-99999", "sn-00205", "SN-00200"]  # any case, an unknown one, a repeat
    per_request: list[int] = []
    for partner, expected in ((PARTNER, ["SN-00211", "SN-00200", "SN-00205"]), (f"{PARTNER}-other", [])):
        headers = {"Authorization": f"Bearer {token_for(partner, user_id='usr-count')}"}
        async with httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url="http://activity", headers=headers
        ) as client:
            with count_commands(database_name) as counter:
                response = await client.get("/v1/activity/terminals", params={"serial": asked, "limit": 10})
            assert response.status_code == 200, response.text
            assert [t["serial"] for t in response.json()["items"]] == expected
            assert response.json()["next_cursor"] is None
            per_request.append(counter.total)
            limited = await client.get("/v1/activity/terminals", params={"serial": asked, "limit": 1})
            assert [t["serial"] for t in limited.json()["items"]] == expected[:1]
            bad = await client.get("/v1/activity/terminals", params={"serial": ["no spaces allowed"]})
            assert bad.status_code == 422 and "serial" in bad.text
    assert per_request == [1, 1]
