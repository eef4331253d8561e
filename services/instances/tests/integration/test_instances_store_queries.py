"""Store queries per request of the instance list, an instance and its overview (the instance with a
page of its licenses), counted with PyMongo's command monitoring: one find, whatever the page size
and however many instances and licenses the store holds; the list reads the small listings, kept
current by every write and written for data stored before they existed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx2
import pytest
from pymongo import AsyncMongoClient

from instances.adapters.mongo import MongoInstanceRepository
from instances.bootstrap import build_app
from instances.config import Settings
from servicekit.auth import generate_key_pair
from servicekit.mongo import DocumentLocks
from servicekit.outbox import PENDING_FIELD
from servicekit.settings import PlatformSettings
from servicekit.testing import count_commands, eventually, started, watch_commands

pytestmark = pytest.mark.integration

PARTNER = f"ptn-count-{uuid.uuid4().hex[:8]}"  # other tests of the session share the topics
IMPERSONATION_PRIVATE, _ = generate_key_pair()


@pytest.fixture
async def client(
    platform: PlatformSettings, database_name: str, token_for: Callable[..., str]
) -> AsyncIterator[httpx2.AsyncClient]:
    watch_commands()  # before the app's client is created, so that it reports its commands
    settings = Settings(
        mongo_database=database_name,
        consumer_group=f"instances-{uuid.uuid4().hex[:8]}",
        impersonation_key=IMPERSONATION_PRIVATE,
        platform=platform,
    )
    app = build_app(settings)
    async with started(app):
        async with httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app),
            base_url="http://instances",
            headers={"Authorization": f"Bearer {token_for(PARTNER, user_id='usr-count')}"},
        ) as http:
            yield http


async def ok(response: httpx2.Response, expected: int = 200) -> dict[str, Any]:
    assert response.status_code == expected, response.text
    body: dict[str, Any] = response.json()
    return body


async def new_instance(client: httpx2.AsyncClient) -> dict[str, Any]:
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
    """More instances like the one made through the API, stored as it is (their events aside), with their listings."""
    for name in ("instances", "instance_list"):
        collection = mongo[database][name]
        original = await collection.find_one({"_id": instance_id})
        assert original is not None
        for field in ("_outbox", "_outbox_pending"):
            original.pop(field, None)
        await collection.insert_many(
            [
                original
                | {"_id": f"{instance_id}-{n:03d}", "created_at": original["created_at"] + timedelta(seconds=n)}
                for n in range(first, first + count)
            ]
        )


async def test_the_instance_list_and_an_instance_are_one_find_whatever_the_page_and_the_store_hold(
    client: httpx2.AsyncClient, database_name: str, mongo: AsyncMongoClient[Any]
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


async def test_the_overview_is_one_find_whatever_the_number_of_licenses(
    client: httpx2.AsyncClient, database_name: str
) -> None:
    made = await new_instance(client)
    await client.patch(f"/v1/instances/{made['id']}", json={"configuration": {"terminal_quota": 40}})
    per_request: dict[int, int] = {}
    added = 0
    for total in (2, 30):
        new = [
            {"user_name": f"User {n:02d}", "email": f"u{n}@example.com", "pin": f"{1000 + n}", "serial": f"SER-{n:04d}"}
            for n in range(added, total)
        ]
        await ok(await client.post(f"/v1/instances/{made['id']}/licenses", json={"licenses": new}), 201)
        added = total
        with count_commands(database_name) as counter:
            overview = await ok(await client.get(f"/v1/instances/{made['id']}/overview", params={"license_limit": 5}))
        per_request[total] = counter.total
        assert overview["instance"]["id"] == made["id"]
        assert overview["instance"]["licenses"]["in_use"] == total
        assert [lic["user_name"] for lic in overview["licenses"]["items"]] == [f"User {n:02d}" for n in range(5)][
            :total
        ]
        assert (overview["licenses"]["next_cursor"] is None) == (total <= 5)
    assert set(per_request.values()) == {1}, per_request


async def test_the_list_shows_every_write_at_once_and_a_missing_listing_is_written_by_the_catch_up(
    client: httpx2.AsyncClient, database_name: str, mongo: AsyncMongoClient[Any]
) -> None:
    async def ready() -> bool:  # the start's own catch-up has run: it would race with the one below
        return (await client.get("/readyz")).status_code == 200

    await eventually(ready)
    made = await new_instance(client)
    new = [{"user_name": "Ana", "email": "ana@example.com", "pin": "4321", "serial": "SER-0001"}]
    (license_id,) = (await ok(await client.post(f"/v1/instances/{made['id']}/licenses", json={"licenses": new}), 201))[
        "license_ids"
    ]
    await ok(await client.post(f"/v1/instances/{made['id']}/licenses/{license_id}/revoke", json={"reason": "left"}))
    await ok(await client.patch(f"/v1/instances/{made['id']}", json={"name": "Renamed crew"}))

    async def listed() -> dict[str, Any]:
        page = await ok(await client.get("/v1/instances", params={"q": made["id"]}))
        (item,) = page["items"]
        return item

    item = await listed()  # the caller's own writes, read back at once
    assert item["name"] == "Renamed crew"
    assert item["licenses"] == {"quota": 3, "in_use": 0, "active": 0, "released": 0, "revoked": 1}
    assert item == await ok(await client.get(f"/v1/instances/{made['id']}")), "the list shows what the detail shows"
    listing = await mongo[database_name]["instance_list"].find_one({"_id": made["id"]})
    assert listing is not None and "licenses" in listing and "contract" not in listing
    assert not {"terminal_sessions", "_outbox", "ingest_key_hash", "created_by"} & set(listing)

    # Stored before listings existed (no `_listed`), or left unlisted by a crash (`_listed: false`).
    instances, listings = mongo[database_name]["instances"], mongo[database_name]["instance_list"]

    async def relayed() -> bool:  # else the relay's update (FerretDB rewrites the whole document) may undo ours
        document = await instances.find_one({"_id": made["id"]}, {PENDING_FIELD: 1})
        return document is not None and document.get(PENDING_FIELD) is False

    await eventually(relayed)
    await listings.delete_one({"_id": made["id"]})
    await instances.update_one({"_id": made["id"]}, {"$unset": {"_listed": ""}})
    assert (await ok(await client.get("/v1/instances", params={"q": made["id"]})))["items"] == []
    app_instances = MongoInstanceRepository(mongo[database_name], DocumentLocks())  # what the catch-up runs
    assert await app_instances.catch_up_listings() == 0, "without `_listed` only the first pass finds it"
    assert await app_instances.catch_up_listings(including_unmarked=True) >= 1
    assert await listed() == item

    # Left unlisted by a crash: in a scratch database, as the running app's periodic catch-up would
    # otherwise race this one for it (and win now and then).
    scratch = mongo[f"{database_name}_crash"]
    try:
        document = await instances.find_one({"_id": made["id"]})
        assert document is not None
        await scratch["instances"].insert_one({**document, "_listed": False})
        crashed = MongoInstanceRepository(scratch, DocumentLocks())
        assert await crashed.catch_up_listings() == 1
        written = await scratch["instance_list"].find_one({"_id": made["id"]})
        assert written == await listings.find_one({"_id": made["id"]})
        assert (await scratch["instances"].find_one({"_id": made["id"]}) or {}).get("_listed") is True
        assert await crashed.catch_up_listings() == 0, "idempotent: nothing left to write"
    finally:
        await mongo.drop_database(scratch.name)
