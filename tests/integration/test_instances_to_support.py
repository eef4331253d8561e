"""Choreography across two services on the real Kafka: the instances service's events give the
support service its threads (company.created) and system notes (license.revoked,
instance.cancellation_requested), with no call between the two."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
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


@pytest.fixture
async def services(
    platform: PlatformSettings, database_name: str
) -> AsyncIterator[tuple[httpx2.AsyncClient, httpx2.AsyncClient]]:
    group = uuid.uuid4().hex[:8]
    instances_app = build_instances(
        InstancesSettings(
            mongo_database=f"{database_name}_i", consumer_group=f"i-{group}", outbox_scan_seconds=0.2, platform=platform
        )
    )
    support_app = build_support(
        SupportSettings(mongo_database=database_name, consumer_group=f"s-{group}", platform=platform)
    )
    async with started(instances_app), started(support_app):
        async with (
            httpx2.AsyncClient(transport=httpx2.ASGITransport(app=instances_app), base_url="http://i") as instances,
            httpx2.AsyncClient(transport=httpx2.ASGITransport(app=support_app), base_url="http://s") as support,
        ):
            yield instances, support
    with MongoClient(platform.mongo_url.get_secret_value()) as client:
        client.drop_database(f"{database_name}_i")


async def test_a_company_gets_its_thread_and_revocations_leave_a_note(
    services: tuple[httpx2.AsyncClient, httpx2.AsyncClient], token_for: Callable[..., str]
) -> None:
    instances, support = services
    auth = {"Authorization": f"Bearer {token_for(PARTNER, user_id='usr-ana')}"}
    company = (
        await instances.post(
            "/v1/companies",
            headers=auth,
            json={
                "name": "Frutas Huerta Viva S.L.",
                "tax_id": f"B{uuid.uuid4().int % 10**8:08d}",
                "address": {"street": "Camino 2", "city": "Murcia", "postal_code": "30001", "province": "Murcia"},
                "contact_person": "Rosa Pérez",
                "email": "rosa@example.com",
                "phone": "+34 968 000 000",
            },
        )
    ).json()
    thread_id = f"thr-{company['id']}"

    async def thread() -> dict[str, Any] | None:
        response = await support.get(f"/v1/threads/{thread_id}", headers=auth)
        return response.json() if response.status_code == 200 else None

    assert (await eventually(thread))["company_name"] == "Frutas Huerta Viva S.L."

    draft = (
        await instances.post(
            "/v1/provisionings", headers=auth, json={"company_id": company["id"], "type": "WTA", "name": "Almacén"}
        )
    ).json()
    await instances.post(f"/v1/provisionings/{draft['id']}/provision", headers=auth)
    await instances.post(
        f"/v1/provisionings/{draft['id']}/generate", headers={**auth, "Idempotency-Key": f"k-{draft['id']}"}
    )
    added = await instances.post(
        f"/v1/instances/{draft['id']}/licenses",
        headers=auth,
        json={"licenses": [{"user_name": "Rosa", "email": "rosa@example.com", "pin": "7777", "serial": "SER-HV-1"}]},
    )
    (license_id,) = added.json()["license_ids"]
    await instances.post(
        f"/v1/instances/{draft['id']}/licenses/{license_id}/revoke", headers=auth, json={"reason": "Left the company"}
    )
    await instances.post(
        f"/v1/instances/{draft['id']}/cancellation-request", headers=auth, json={"reason": "Season over"}
    )

    async def notes() -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = (await support.get(f"/v1/threads/{thread_id}/messages", headers=auth)).json()[
            "items"
        ]
        return items if len(items) >= 2 else None

    bodies = sorted(n["body"] for n in await eventually(notes))
    assert bodies == [
        f"Se ha revocado la licencia {license_id} (PIN 7777, terminal SER-HV-1). Motivo: Left the company",
        f"Se ha solicitado la cancelación de la instancia {draft['id']}. Motivo: Season over",
    ], "in Spanish for a reader who names no language"
    english = (
        await support.get(f"/v1/threads/{thread_id}/messages", headers={**auth, "Accept-Language": "en"})
    ).json()["items"]
    assert sorted(n["body"] for n in english) == [
        f"Cancellation requested for instance {draft['id']}. Reason: Season over",
        f"License {license_id} (PIN 7777, terminal SER-HV-1) was revoked. Reason: Left the company",
    ]
    assert (await support.get(f"/v1/threads/{thread_id}", headers=auth)).json()["unread"] == 2
