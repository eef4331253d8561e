"""R-43 across two services: from an activity record, release the license bound to that terminal
through the instances service; the release then shows in the terminal's timeline."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest
from pymongo import MongoClient

from activity.bootstrap import build_app as build_activity
from activity.config import Settings as ActivitySettings
from instances.bootstrap import build_app as build_instances
from instances.config import Settings as InstancesSettings
from servicekit.settings import PlatformSettings
from servicekit.testing import eventually, started

pytestmark = pytest.mark.integration

PARTNER = "ptn-acme"


@pytest.fixture
async def services(
    platform: PlatformSettings, database_name: str
) -> AsyncIterator[tuple[httpx2.AsyncClient, httpx2.AsyncClient]]:
    instances_app = build_instances(
        InstancesSettings(
            mongo_database=f"{database_name}_i",
            consumer_group=f"instances-{uuid.uuid4().hex[:8]}",
            outbox_scan_seconds=0.2,
            platform=platform,
        )
    )
    instances_transport = httpx2.ASGITransport(app=instances_app)
    activity_app = build_activity(
        ActivitySettings(
            mongo_database=database_name, consumer_group=f"activity-{uuid.uuid4().hex[:8]}", platform=platform
        ),
        instances_transport=instances_transport,
    )
    async with started(instances_app), started(activity_app):
        async with (
            httpx2.AsyncClient(transport=instances_transport, base_url="http://instances") as instances,
            httpx2.AsyncClient(
                transport=httpx2.ASGITransport(app=activity_app), base_url="http://activity"
            ) as activity,
        ):
            yield instances, activity
    with MongoClient(platform.mongo_url.get_secret_value()) as client:
        client.drop_database(f"{database_name}_i")


async def test_release_a_license_from_an_activity_record(
    services: tuple[httpx2.AsyncClient, httpx2.AsyncClient], token_for: Callable[..., str]
) -> None:
    instances, activity = services
    auth = {"Authorization": f"Bearer {token_for(PARTNER, user_id='usr-ana')}"}
    company = (
        await instances.post(
            "/v1/companies",
            headers=auth,
            json={
                "name": "Talleres Gómez S.L.",
                "tax_id": f"B{uuid.uuid4().int % 10**8:08d}",
                "address": {"street": "Calle 1", "city": "Soria", "postal_code": "42001", "province": "Soria"},
                "contact_person": "Luis Gómez",
                "email": "luis@example.com",
                "phone": "+34 975 000 000",
            },
        )
    ).json()
    draft = (
        await instances.post(
            "/v1/provisionings", headers=auth, json={"company_id": company["id"], "type": "WDS", "name": "Taller"}
        )
    ).json()
    await instances.post(f"/v1/provisionings/{draft['id']}/provision", headers=auth)
    iid = (
        await instances.post(
            f"/v1/provisionings/{draft['id']}/generate", headers={**auth, "Idempotency-Key": f"k-{uuid.uuid4().hex}"}
        )
    ).json()["id"]
    serial, other_serial = f"SR{uuid.uuid4().hex[:8]}", f"SO{uuid.uuid4().hex[:8]}"
    people = [
        {"user_name": "Ana", "email": "ana@example.com", "pin": "4821", "serial": serial},
        {"user_name": "Bea", "email": "bea@example.com", "pin": "5555", "serial": other_serial},
    ]
    added = await instances.post(f"/v1/instances/{iid}/licenses", headers=auth, json={"licenses": people})
    assert added.status_code == 201, added.text
    key = (await instances.post(f"/v1/instances/{iid}/ingest-key", headers=auth)).json()["ingest_key"]

    now = datetime.now(UTC)
    events = [
        {"event_id": str(uuid.uuid4()), "serial": serial, "pin": pin, "action": action, "occurred_at": at.isoformat()}
        for pin, action, at in (("4821", "clock_in", now - timedelta(minutes=2)), ("5555", "login", now))
    ]

    async def admitted() -> bool:  # the key reaches the activity service through Kafka
        response = await activity.post("/v1/ingest/events", json={"events": events}, headers={"X-Ingest-Key": key})
        return response.status_code == 202

    await eventually(admitted)

    async def records() -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = (
            await activity.get("/v1/activity/records", params={"serial": serial}, headers=auth)
        ).json()["items"]
        return items if len(items) >= 2 else None

    found = {r["pin"]: r for r in await eventually(records)}

    async def license_bound() -> dict[str, Any] | None:
        terminal: dict[str, Any] = (await activity.get(f"/v1/activity/terminals/{serial}", headers=auth)).json()
        return terminal if terminal.get("license_id") else None

    bound_license = (await eventually(license_bound))["license_id"]
    assert bound_license == added.json()["license_ids"][0]
    rival = {"Authorization": f"Bearer {token_for('ptn-rival', user_id='usr-eve')}"}
    url = f"/v1/activity/records/{found['4821']['id']}/release-license"
    assert (await activity.post(url, json={}, headers=rival)).status_code == 404
    elsewhere = await activity.post(
        f"/v1/activity/records/{found['5555']['id']}/release-license", json={}, headers=auth
    )
    assert elsewhere.status_code == 409, "PIN 5555's license is bound to another terminal"
    assert elsewhere.json()["type"].endswith("bound-elsewhere")

    released = await activity.post(url, json={"reason": "Terminal handed in"}, headers=auth)
    assert released.status_code == 200, released.text
    assert released.json()["status"] == "released"
    assert released.json()["serial"] is None
    again = await activity.post(url, json={}, headers=auth)
    assert again.status_code == 409, "no active license of that PIN is bound any more"

    async def in_timeline() -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = (
            await activity.get("/v1/activity/records", params={"serial": serial, "kind": "license"}, headers=auth)
        ).json()["items"]
        return items if any(i["action"] == "license.released" for i in items) else None

    timeline = await eventually(in_timeline)
    assert [(r["action"], r["details"].get("reason")) for r in timeline] == [
        ("license.released", "Terminal handed in"),
        ("license.added", None),
    ], "newest first: the seat was bound to the terminal, then released"
    assert (await activity.get(f"/v1/activity/terminals/{serial}", headers=auth)).json()["license_id"] is None


async def new_instance(instances: httpx2.AsyncClient, auth: dict[str, str]) -> str:
    company = await instances.post(
        "/v1/companies",
        headers=auth,
        json={
            "name": "Talleres Gómez S.L.",
            "tax_id": f"B{uuid.uuid4().int % 10**8:08d}",
            "address": {"street": "Calle 1", "city": "Soria", "postal_code": "42001", "province": "Soria"},
            "contact_person": "Luis Gómez",
            "email": "luis@example.com",
            "phone": "+34 975 000 000",
        },
    )
    assert company.status_code == 201, company.text
    draft = await instances.post(
        "/v1/provisionings", headers=auth, json={"company_id": company.json()["id"], "type": "WDS", "name": "Taller"}
    )
    await instances.post(f"/v1/provisionings/{draft.json()['id']}/provision", headers=auth)
    generated = await instances.post(
        f"/v1/provisionings/{draft.json()['id']}/generate", headers={**auth, "Idempotency-Key": f"k-{uuid.uuid4().hex}"}
    )
    assert generated.status_code in (200, 201), generated.text
    return str(generated.json()["id"])


async def test_a_serial_is_one_terminal_in_any_letter_case_across_both_services(
    services: tuple[httpx2.AsyncClient, httpx2.AsyncClient], token_for: Callable[..., str]
) -> None:
    """Bound in lower case, reported in mixed case, looked up, searched, cleared and released in
    another: always the same terminal, and never a second license bound to it."""
    instances, activity = services
    auth = {"Authorization": f"Bearer {token_for(PARTNER, user_id='usr-ana')}"}
    iid = await new_instance(instances, auth)
    lower = f"sr{uuid.uuid4().hex[:8]}x"
    canonical, mixed = lower.upper(), lower.title()
    person = {"user_name": "Ana", "email": "ana@example.com", "pin": "4821", "serial": lower}
    added = await instances.post(f"/v1/instances/{iid}/licenses", headers=auth, json={"licenses": [person]})
    assert added.status_code == 201, added.text
    license_id = added.json()["license_ids"][0]
    again = {**person, "pin": "5555", "serial": canonical}
    taken = await instances.post(f"/v1/instances/{iid}/licenses", headers=auth, json={"licenses": [again]})
    assert taken.status_code == 409, "the same terminal, in another letter case, is bound already"
    assert taken.json()["type"].endswith("serial-bound")
    for spelling in (lower, canonical, mixed):
        found = await instances.get(f"/v1/instances/{iid}/licenses", headers=auth, params={"q": spelling})
        assert [(x["id"], x["serial"]) for x in found.json()["items"]] == [(license_id, canonical)], spelling

    key = (await instances.post(f"/v1/instances/{iid}/ingest-key", headers=auth)).json()["ingest_key"]
    event = {"event_id": str(uuid.uuid4()), "serial": mixed, "pin": "4821", "action": "clock_in"}
    event["occurred_at"] = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()

    async def admitted() -> bool:  # the key reaches the activity service through Kafka
        response = await activity.post("/v1/ingest/events", json={"events": [event]}, headers={"X-Ingest-Key": key})
        return response.status_code == 202

    await eventually(admitted)

    # Cleared in one spelling, the terminal asking in another must log in again.
    device = {"X-Ingest-Key": key}
    before = (await instances.get("/v1/device/configuration", params={"serial": lower}, headers=device)).json()
    cleared = await instances.post(f"/v1/instances/{iid}/clear-session", headers=auth, json={"serial": mixed})
    assert cleared.status_code == 200, cleared.text
    for spelling in (lower, canonical):
        after = (await instances.get("/v1/device/configuration", params={"serial": spelling}, headers=device)).json()
        assert after["session_epoch"] > before["session_epoch"], spelling

    async def bound() -> dict[str, Any] | None:
        terminal: dict[str, Any] = (await activity.get(f"/v1/activity/terminals/{lower}", headers=auth)).json()
        return terminal if terminal.get("license_id") else None

    assert (await eventually(bound))["license_id"] == license_id
    for spelling in (lower, canonical, mixed):
        terminal = (await activity.get(f"/v1/activity/terminals/{spelling}", headers=auth)).json()
        assert (terminal["serial"], terminal["license_id"]) == (canonical, license_id), spelling

    async def timeline() -> list[dict[str, Any]] | None:
        items: list[dict[str, Any]] = (
            await activity.get("/v1/activity/records", params={"serial": lower}, headers=auth)
        ).json()["items"]
        return items if len(items) >= 3 else None

    records = await eventually(timeline)
    assert sorted(r["action"] for r in records) == ["clock_in", "license.added", "session.cleared"]
    assert {r["serial"] for r in records} == {canonical}
    clock_in = next(r for r in records if r["action"] == "clock_in")
    released = await activity.post(f"/v1/activity/records/{clock_in['id']}/release-license", json={}, headers=auth)
    assert released.status_code == 200, released.text
    assert released.json()["status"] == "released"
