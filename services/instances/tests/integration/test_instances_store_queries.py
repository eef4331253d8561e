"""Store queries per request of the instance list and an instance, counted with PyMongo's command
monitoring: one find, whatever the page size and however many instances the store holds."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from pymongo import AsyncMongoClient

from instances.bootstrap import build_app
from instances.config import Settings
from servicekit.auth import generate_key_pair
from servicekit.settings import PlatformSettings
from servicekit.testing import count_commands, watch_commands

pytestmark = pytest.mark.integration

PARTNER = f"ptn-count-{uuid.uuid4().hex[:8]}"  # other tests of the session share the topics
IMPERSONATION_PRIVATE, _ = generate_key_pair()


@pytest.fixture
async def client(
    platform: PlatformSettings, database_name: str, token_for: Callable[..., str]
) -> AsyncIterator[httpx.AsyncClient]:
    watch_commands()  # before the app's client is created, so that it reports its commands
    settings = Settings(
        mongo_database=database_name,
        consumer_group=f"instances-{uuid.uuid4().hex[:8]}",
        impersonation_key=IMPERSONATION_PRIVATE,
        platform=platform,
    )
    app = build_app(settings)
    async with LifespanManager(app, startup_timeout=60):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://instances",
            headers={"Authorization": f"Bearer {token_for(PARTNER, user_id='usr-count')}"},
        ) as http:
            yield http


async def ok(response: httpx.Response, expected: int = 200) -> dict[str, Any]:
    assert response.status_code == expected, response.text
    body: dict[str, Any] = response.json()
    return body


async def new_instance(client: httpx.AsyncClient) -> dict[str, Any]:
    company = {
        "name": "Transportes López S.L.",
        "tax_id": f"B{uuid.uuid4().int % 10**8:08d}",
        "address": {"street": "Calle Mayor 1", "city": "Madrid", "postal_code": "28013", "province": "Madrid"},
        "contact_person": "Lucía López",
        "email": "lucia@example.com",
        "phone": "+34 910 000 000",
    }
    company_id = (await ok(await client.post("/v1/companies", json=company), 201))["id"]
    config = {"terminal_quota": 3, "profile": "enterprise"}
    draft = await ok(
        await client.post(
            "/v1/provisionings",
            json={"company_id": company_id, "type": "WDS", "name": "Crew", "configuration": config},
        ),
        201,
    )
    await ok(await client.post(f"/v1/provisionings/{draft['id']}/provision"))
    key = {"Idempotency-Key": f"gen-{uuid.uuid4().hex}"}
    return await ok(await client.post(f"/v1/provisionings/{draft['id']}/generate", headers=key), 201)


async def copies(mongo: AsyncMongoClient[Any], database: str, instance_id: str, first: int, count: int) -> None:
    """More instances like the one made through the API, stored as it is (their events aside)."""
    collection = mongo[database]["instances"]
    original = await collection.find_one({"_id": instance_id})
    assert original is not None
    for field in ("_outbox", "_outbox_pending"):
        original.pop(field, None)
    await collection.insert_many(
        [
            original | {"_id": f"{instance_id}-{n:03d}", "created_at": original["created_at"] + timedelta(seconds=n)}
            for n in range(first, first + count)
        ]
    )


async def test_the_instance_list_and_an_instance_are_one_find_whatever_the_page_and_the_store_hold(
    client: httpx.AsyncClient, database_name: str, mongo: AsyncMongoClient[Any]
) -> None:
    made = await new_instance(client)
    await copies(mongo, database_name, made["id"], 1, 9)
    per_request: dict[tuple[int, int], int] = {}
    for stored in (10, 100):
        if stored == 100:
            await copies(mongo, database_name, made["id"], 10, 90)
        for limit in (5, 50):
            with count_commands(database_name) as counter:
                page = await ok(await client.get("/v1/instances", params={"limit": limit}))
            assert len(page["items"]) == min(limit, stored)
            per_request[(stored, limit)] = counter.total
        with count_commands(database_name) as counter:
            one = await ok(await client.get(f"/v1/instances/{made['id']}-007"))
        assert one["id"] == f"{made['id']}-007"
        per_request[(stored, 1)] = counter.total
    assert set(per_request.values()) == {1}, per_request
