"""Idempotency-Key on every idempotent route of the platform, against the real Kafka and FerretDB.

The same key with the same request answers the original and stores it once; the same key with
another request (another body, or another target) is a 422 problem+json naming the header and
stores nothing, instead of answering the original and silently dropping the new request.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from pymongo import MongoClient

from instances.bootstrap import build_app as build_instances
from instances.config import Settings as InstancesSettings
from servicekit.settings import PlatformSettings
from servicekit.testing import eventually, started
from support.bootstrap import build_app as build_support
from support.config import Settings as SupportSettings

pytestmark = pytest.mark.integration

PARTNER = "ptn-acme"


@dataclass
class Platform:
    instances: httpx2.AsyncClient
    support: httpx2.AsyncClient
    instances_app: Any = None


@pytest.fixture
async def platform_apis(
    platform: PlatformSettings, database_name: str, token_for: Callable[..., str]
) -> AsyncIterator[Platform]:
    group = uuid.uuid4().hex[:8]
    instances_app = build_instances(
        InstancesSettings(
            mongo_database=f"{database_name}_i", consumer_group=f"i-{group}", outbox_scan_seconds=0.2, platform=platform
        )
    )
    support_app = build_support(
        SupportSettings(mongo_database=database_name, consumer_group=f"s-{group}", platform=platform)
    )
    auth = {"Authorization": f"Bearer {token_for(PARTNER, user_id='usr-ana')}"}
    async with started(instances_app), started(support_app):
        async with (
            httpx2.AsyncClient(
                transport=httpx2.ASGITransport(app=instances_app), base_url="http://i", headers=auth
            ) as instances,
            httpx2.AsyncClient(
                transport=httpx2.ASGITransport(app=support_app), base_url="http://s", headers=auth
            ) as support,
        ):
            yield Platform(instances, support, instances_app)
    with MongoClient(platform.mongo_url.get_secret_value()) as client:
        client.drop_database(f"{database_name}_i")


async def ok(response: httpx2.Response, expected: int = 200) -> dict[str, Any]:
    assert response.status_code == expected, response.text
    body: dict[str, Any] = response.json()
    return body


async def new_company(apis: Platform) -> str:
    body = {
        "name": "Frutas Huerta Viva S.L.",
        "tax_id": f"B{uuid.uuid4().int % 10**8:08d}",
        "address": {"street": "Camino 2", "city": "Murcia", "postal_code": "30001", "province": "Murcia"},
        "contact_person": "Rosa Pérez",
        "email": "rosa@example.com",
        "phone": "+34 968 000 000",
    }
    company_id: str = (await ok(await apis.instances.post("/v1/companies", json=body), 201))["id"]
    return company_id


async def new_thread(apis: Platform) -> str:
    thread_id = f"thr-{await new_company(apis)}"

    async def thread() -> bool | None:
        return (await apis.support.get(f"/v1/threads/{thread_id}")).status_code == 200 or None

    await eventually(thread)
    return thread_id


async def provisioned(apis: Platform) -> str:
    company_id = await new_company(apis)
    draft = await ok(
        await apis.instances.post(
            "/v1/provisionings", json={"company_id": company_id, "type": "WTA", "name": "Almacén"}
        ),
        201,
    )
    await ok(await apis.instances.post(f"/v1/provisionings/{draft['id']}/provision"))
    draft_id: str = draft["id"]
    return draft_id


async def messages(apis: Platform, thread_id: str) -> list[str]:
    items = (await ok(await apis.support.get(f"/v1/threads/{thread_id}/messages")))["items"]
    return [m["body"] for m in items]


@dataclass
class Route:
    """One idempotent route: a first request, another request to send with the same key, and what
    the store must hold afterwards (the first request's effect, once; nothing of the other)."""

    client: Callable[[Platform], httpx2.AsyncClient]
    prepare: Callable[[Platform], Awaitable[dict[str, Any]]]
    first: Callable[[dict[str, Any]], tuple[str, dict[str, Any] | None]]
    other: Callable[[dict[str, Any]], tuple[str, dict[str, Any] | None]]
    stored_once: Callable[[Platform, dict[str, Any]], Awaitable[None]]


async def two_threads(apis: Platform) -> dict[str, Any]:
    first, second = await asyncio.gather(new_thread(apis), new_thread(apis))
    return {"thread": first, "other_thread": second}


async def message_stored_once(apis: Platform, ctx: dict[str, Any]) -> None:
    assert await messages(apis, ctx["thread"]) == ["The terminal of Marta does not sync."]
    assert await messages(apis, ctx["other_thread"]) == []


async def two_provisionings(apis: Platform) -> dict[str, Any]:
    first, second = await asyncio.gather(provisioned(apis), provisioned(apis))
    return {"draft": first, "other_draft": second}


async def generated_once(apis: Platform, ctx: dict[str, Any]) -> None:
    first = await ok(await apis.instances.get(f"/v1/provisionings/{ctx['draft']}"))
    other = await ok(await apis.instances.get(f"/v1/provisionings/{ctx['other_draft']}"))
    assert (first["stage"], other["stage"]) == ("generated", "provisioned")


ROUTES = {
    "support message, other text": Route(
        client=lambda apis: apis.support,
        prepare=two_threads,
        first=lambda ctx: (f"/v1/threads/{ctx['thread']}/messages", {"body": "The terminal of Marta does not sync."}),
        other=lambda ctx: (f"/v1/threads/{ctx['thread']}/messages", {"body": "Never mind, it works now."}),
        stored_once=message_stored_once,
    ),
    "support message, other thread": Route(
        client=lambda apis: apis.support,
        prepare=two_threads,
        first=lambda ctx: (f"/v1/threads/{ctx['thread']}/messages", {"body": "The terminal of Marta does not sync."}),
        other=lambda ctx: (
            f"/v1/threads/{ctx['other_thread']}/messages",
            {"body": "The terminal of Marta does not sync."},
        ),
        stored_once=message_stored_once,
    ),
    "generate, other provisioning": Route(
        client=lambda apis: apis.instances,
        prepare=two_provisionings,
        first=lambda ctx: (f"/v1/provisionings/{ctx['draft']}/generate", None),
        other=lambda ctx: (f"/v1/provisionings/{ctx['other_draft']}/generate", None),
        stored_once=generated_once,
    ),
}


@pytest.mark.parametrize("name", ROUTES)
async def test_a_key_reused_for_another_request_is_a_422_and_stores_nothing(platform_apis: Platform, name: str) -> None:
    route = ROUTES[name]
    client = route.client(platform_apis)
    ctx = await route.prepare(platform_apis)
    key = {"Idempotency-Key": f"key-{uuid.uuid4().hex}"}
    url, body = route.first(ctx)
    original = await ok(await client.post(url, json=body, headers=key), 201)

    other_url, other_body = route.other(ctx)
    reused = await client.post(other_url, json=other_body, headers=key)
    assert reused.status_code == 422, reused.text
    assert reused.headers["content-type"].startswith("application/problem+json")
    problem = reused.json()
    assert problem["type"] == "urn:partnerapp:problem:idempotency-key-reused"
    assert [e["field"] for e in problem["errors"]] == ["Idempotency-Key"]

    replay = await ok(await client.post(url, json=body, headers=key), 201)
    assert replay["id"] == original["id"]
    await route.stored_once(platform_apis, ctx)


@pytest.mark.parametrize("name", ROUTES)
async def test_the_same_key_and_request_answer_the_original_stored_once(platform_apis: Platform, name: str) -> None:
    route = ROUTES[name]
    client = route.client(platform_apis)
    ctx = await route.prepare(platform_apis)
    key = {"Idempotency-Key": f"key-{uuid.uuid4().hex}"}
    url, body = route.first(ctx)
    first, second = await asyncio.gather(
        client.post(url, json=body, headers=key), client.post(url, json=body, headers=key)
    )
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    third = await ok(await client.post(url, json=body, headers=key), 201)
    assert first.json()["id"] == second.json()["id"] == third["id"]
    await route.stored_once(platform_apis, ctx)


async def test_a_key_whose_first_request_failed_is_free_for_a_corrected_one(platform_apis: Platform) -> None:
    thread_id = await new_thread(platform_apis)
    key = {"Idempotency-Key": f"key-{uuid.uuid4().hex}"}
    missing = await platform_apis.support.post(
        "/v1/threads/thr-cmp-missing/messages", json={"body": "The terminal of Marta does not sync."}, headers=key
    )
    assert missing.status_code == 404
    posted = await platform_apis.support.post(
        f"/v1/threads/{thread_id}/messages", json={"body": "The terminal of Marta does not sync."}, headers=key
    )
    assert posted.status_code == 201, posted.text
    assert await messages(platform_apis, thread_id) == ["The terminal of Marta does not sync."]


async def test_a_message_stored_under_a_key_is_not_answered_for_another_text(
    platform_apis: Platform, platform: PlatformSettings, database_name: str
) -> None:
    """Even when the key's record is gone (a crash between the message and the answer), the message
    the key names is not passed off as the answer to another text."""
    thread_id = await new_thread(platform_apis)
    key = {"Idempotency-Key": f"key-{uuid.uuid4().hex}"}
    url = f"/v1/threads/{thread_id}/messages"
    await ok(
        await platform_apis.support.post(url, json={"body": "The terminal of Marta does not sync."}, headers=key), 201
    )
    with MongoClient(platform.mongo_url.get_secret_value()) as client:
        assert client[database_name]["idempotency_keys"].delete_many({}).deleted_count == 1
    reused = await platform_apis.support.post(url, json={"body": "Never mind, it works now."}, headers=key)
    assert reused.status_code == 422, reused.text
    assert await messages(platform_apis, thread_id) == ["The terminal of Marta does not sync."]


async def test_keys_of_another_partner_never_collide(platform_apis: Platform, token_for: Callable[..., str]) -> None:
    key = f"key-{uuid.uuid4().hex}"
    mine = await provisioned(platform_apis)
    await ok(
        await platform_apis.instances.post(f"/v1/provisionings/{mine}/generate", headers={"Idempotency-Key": key}), 201
    )
    rival_auth = {"Authorization": f"Bearer {token_for('ptn-rival', user_id='usr-rival')}"}
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=platform_apis.instances_app), base_url="http://i", headers=rival_auth
    ) as rival_client:
        rival = await provisioned(Platform(rival_client, platform_apis.support))
        # The same key, from another partner, is another key: the rival's generate is not a reuse of mine.
        theirs = await ok(
            await rival_client.post(f"/v1/provisionings/{rival}/generate", headers={"Idempotency-Key": key}), 201
        )
    assert theirs["id"] == rival
