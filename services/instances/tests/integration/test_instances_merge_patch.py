"""PATCH is a JSON Merge Patch (RFC 7396) on every route of the instances service, on FerretDB.

A field sent alone changes that field only (the others keep their stored values, not the type's
defaults); `null` clears an optional field (a field with a default takes it again) and is a 422
on a required one; a merged result that is invalid is a 422 naming the field and stores nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import pytest

from instances.bootstrap import build_app
from instances.config import Settings
from servicekit.settings import PlatformSettings
from servicekit.testing import started

pytestmark = pytest.mark.integration

PARTNER = "ptn-acme"

# Every field away from the type's default, so a field reset to its default shows.
INITIAL: dict[str, dict[str, Any]] = {
    "WDS": {
        "profile": "enterprise",
        "terminal_quota": 7,
        "gps_tracking": False,
        "clock_in_methods": ["nfc", "qr"],
        "work_calendar": {
            "timezone": "Europe/Lisbon",
            "working_days": [1, 2, 3],
            "daily_hours": 6.0,
            "holidays": ["2026-12-25"],
        },
    },
    "MCRM": {"seat_quota": 7, "modules": ["orders", "catalog"], "offline_sync": False, "currency": "USD"},
    "S360": {
        "technician_quota": 7,
        "sla_hours": 24,
        "work_order_types": ["audit"],
        "signature_capture": False,
        "max_photos_per_order": 3,
    },
    "WTA": {
        "employee_quota": 30,
        "kiosk_count": 2,
        "clock_in_methods": ["biometric"],
        "overtime_policy": "daily",
        "rounding_minutes": 15,
    },
}
# (type, field, value sent, value expected after the merge)
CHANGES = [
    ("WDS", "profile", "essential", "essential"),
    ("WDS", "terminal_quota", 8, 8),
    ("WDS", "gps_tracking", True, True),
    ("WDS", "clock_in_methods", ["gps"], ["gps"]),
    (
        "WDS",
        "work_calendar",
        {"daily_hours": 7.5},
        {"timezone": "Europe/Lisbon", "working_days": [1, 2, 3], "daily_hours": 7.5, "holidays": ["2026-12-25"]},
    ),
    ("MCRM", "seat_quota", 9, 9),
    ("MCRM", "modules", ["visits"], ["visits"]),
    ("MCRM", "offline_sync", True, True),
    ("MCRM", "currency", "GBP", "GBP"),
    ("S360", "technician_quota", 9, 9),
    ("S360", "sla_hours", 72, 72),
    ("S360", "work_order_types", ["repair", "installation"], ["repair", "installation"]),
    ("S360", "signature_capture", True, True),
    ("S360", "max_photos_per_order", 20, 20),
    ("WTA", "employee_quota", 40, 40),
    ("WTA", "kiosk_count", 5, 5),
    ("WTA", "clock_in_methods", ["pin", "qr"], ["pin", "qr"]),
    ("WTA", "overtime_policy", "none", "none"),
    ("WTA", "rounding_minutes", 5, 5),
]
CHANGE_IDS = [f"{t}-{f}" for t, f, _, _ in CHANGES]


@pytest.fixture
async def client(
    platform: PlatformSettings, database_name: str, token_for: Callable[..., str]
) -> AsyncIterator[httpx2.AsyncClient]:
    settings = Settings(
        mongo_database=database_name,
        consumer_group=f"instances-{uuid.uuid4().hex[:8]}",
        outbox_scan_seconds=0.2,
        platform=platform,
    )
    app = build_app(settings)
    async with (
        started(app),
        httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app),
            base_url="http://instances",
            headers={"Authorization": f"Bearer {token_for(PARTNER, user_id='usr-ana')}"},
        ) as http,
    ):
        yield http


async def ok(response: httpx2.Response, expected: int = 200) -> dict[str, Any]:
    assert response.status_code == expected, response.text
    body: dict[str, Any] = response.json()
    return body


def company_body() -> dict[str, Any]:
    return {
        "name": "Transportes López S.L.",
        "tax_id": f"B{uuid.uuid4().int % 10**8:08d}",
        "address": {"street": "Calle Mayor 1", "city": "Madrid", "postal_code": "28013", "province": "Madrid"},
        "contact_person": "Lucía López",
        "email": "lucia@example.com",
        "phone": "+34 910 000 000",
    }


async def new_draft(client: httpx2.AsyncClient, instance_type: str) -> dict[str, Any]:
    company = await ok(await client.post("/v1/companies", json=company_body()), 201)
    body = {
        "company_id": company["id"],
        "type": instance_type,
        "name": "Crew",
        "term_months": 24,
        "configuration": INITIAL[instance_type],
    }
    return await ok(await client.post("/v1/provisionings", json=body), 201)


async def new_instance(client: httpx2.AsyncClient, instance_type: str) -> dict[str, Any]:
    draft = await new_draft(client, instance_type)
    await ok(await client.post(f"/v1/provisionings/{draft['id']}/provision"))
    key = {"Idempotency-Key": f"gen-{uuid.uuid4().hex}"}
    return await ok(await client.post(f"/v1/provisionings/{draft['id']}/generate", headers=key), 201)


def assert_problem(response: httpx2.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in response.json()["errors"]], response.text


# ---------------------------------------------------------------------- one field alone


@pytest.mark.parametrize(("instance_type", "field", "sent", "expected"), CHANGES, ids=CHANGE_IDS)
async def test_an_instance_field_patched_alone_leaves_every_other_field_as_it_was(
    client: httpx2.AsyncClient, instance_type: str, field: str, sent: Any, expected: Any
) -> None:
    instance = await new_instance(client, instance_type)
    before = instance["configuration"]
    patched = await ok(await client.patch(f"/v1/instances/{instance['id']}", json={"configuration": {field: sent}}))
    stored = await ok(await client.get(f"/v1/instances/{instance['id']}"))
    assert patched["configuration"] == stored["configuration"] == {**before, field: expected}
    assert stored["name"] == instance["name"]
    if instance_type == "WDS":
        assert stored["profile"] == stored["configuration"]["profile"]


@pytest.mark.parametrize(("instance_type", "field", "sent", "expected"), CHANGES, ids=CHANGE_IDS)
async def test_a_draft_field_patched_alone_leaves_every_other_field_as_it_was(
    client: httpx2.AsyncClient, instance_type: str, field: str, sent: Any, expected: Any
) -> None:
    draft = await new_draft(client, instance_type)
    before = draft["configuration"]
    patched = await ok(await client.patch(f"/v1/provisionings/{draft['id']}", json={"configuration": {field: sent}}))
    stored = await ok(await client.get(f"/v1/provisionings/{draft['id']}"))
    assert patched["configuration"] == stored["configuration"] == {**before, field: expected}
    assert (stored["name"], stored["term_months"]) == ("Crew", 24)


async def test_the_name_or_the_term_alone_leaves_the_configuration_and_each_other(client: httpx2.AsyncClient) -> None:
    draft = await new_draft(client, "WDS")
    renamed = await ok(await client.patch(f"/v1/provisionings/{draft['id']}", json={"name": "Night crew"}))
    assert (renamed["name"], renamed["term_months"], renamed["configuration"]) == (
        "Night crew",
        24,
        draft["configuration"],
    )
    longer = await ok(await client.patch(f"/v1/provisionings/{draft['id']}", json={"term_months": 36}))
    assert (longer["name"], longer["term_months"], longer["configuration"]) == (
        "Night crew",
        36,
        draft["configuration"],
    )

    instance = await new_instance(client, "MCRM")
    edited = await ok(await client.patch(f"/v1/instances/{instance['id']}", json={"name": "Sales north"}))
    assert edited["name"] == "Sales north"
    assert edited["configuration"] == instance["configuration"]


async def test_a_merge_patch_media_type_is_accepted(client: httpx2.AsyncClient) -> None:
    instance = await new_instance(client, "WDS")
    response = await client.patch(
        f"/v1/instances/{instance['id']}",
        content=json.dumps({"configuration": {"terminal_quota": 9}}),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    patched = await ok(response)
    assert patched["configuration"] == {**instance["configuration"], "terminal_quota": 9}


# ---------------------------------------------------------------------- null


async def test_null_takes_a_fields_default_again_and_leaves_the_others(client: httpx2.AsyncClient) -> None:
    instance = await new_instance(client, "WDS")
    before = instance["configuration"]
    patch = {"configuration": {"profile": None, "work_calendar": {"holidays": None}}}
    patched = await ok(await client.patch(f"/v1/instances/{instance['id']}", json=patch))
    assert patched["configuration"] == {
        **before,
        "profile": "professional",
        "work_calendar": {**before["work_calendar"], "holidays": []},
    }
    assert patched["profile"] == "professional"


@pytest.mark.parametrize(
    ("route", "patch", "field"),
    [
        ("instances", {"name": None}, "name"),
        ("instances", {"configuration": None}, "configuration"),
        ("provisionings", {"name": None}, "name"),
        ("provisionings", {"term_months": None}, "term_months"),
        ("provisionings", {"configuration": None}, "configuration"),
    ],
)
async def test_null_on_a_required_field_is_a_422_naming_it_and_changes_nothing(
    client: httpx2.AsyncClient, route: str, patch: dict[str, Any], field: str
) -> None:
    created = await (new_instance(client, "S360") if route == "instances" else new_draft(client, "S360"))
    url = f"/v1/{route}/{created['id']}"
    before = await ok(await client.get(url))  # as stored (the store keeps milliseconds)
    body = patch if "name" in patch else {"name": "Not stored", **patch}
    refused = await client.patch(url, json=body)
    assert_problem(refused, field)
    assert refused.json()["errors"][0]["message"] == f"no puede ser null: {field} es obligatorio", "es by default"
    english = await client.patch(url, json=body, headers={"Accept-Language": "en"})
    assert english.json()["errors"][0]["message"] == f"must not be null: {field} is required"
    assert await ok(await client.get(url)) == before


# ---------------------------------------------------------------------- invalid once merged


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"configuration": {"terminal_quota": 0}}, "configuration.terminal_quota"),
        ({"configuration": {"seat_quota": 5}}, "configuration.seat_quota"),  # another type's field
        ({"configuration": {"type": "MCRM"}}, "configuration.type"),
        ({"configuration": {"work_calendar": {"timezone": "Mars/Olympus"}}}, "configuration.work_calendar.timezone"),
        ({"configuration": {"clock_in_methods": ["pin", "pin"]}}, "configuration.clock_in_methods"),
        ({"configuration": "enterprise"}, "configuration"),
        ({"name": ""}, "name"),
    ],
)
@pytest.mark.parametrize("route", ["instances", "provisionings"])
async def test_an_invalid_merged_result_is_a_422_naming_the_field_and_nothing_is_stored(
    client: httpx2.AsyncClient, route: str, patch: dict[str, Any], field: str
) -> None:
    created = await (new_instance(client, "WDS") if route == "instances" else new_draft(client, "WDS"))
    url = f"/v1/{route}/{created['id']}"
    before = await ok(await client.get(url))
    # A valid field next to the invalid one is not stored either.
    assert_problem(await client.patch(url, json={"name": "Not stored", **patch}), field)
    assert await ok(await client.get(url)) == before


# ---------------------------------------------------------------------- companies


async def test_a_company_patch_merges_fields_and_the_address(client: httpx2.AsyncClient) -> None:
    created = await ok(await client.post("/v1/companies", json=company_body()), 201)
    url = f"/v1/companies/{created['id']}"
    company = await ok(await client.get(url))
    phoned = await ok(await client.patch(url, json={"phone": "+34 600 000 000"}))
    assert {**phoned, "updated_at": None} == {**company, "phone": "+34 600 000 000", "updated_at": None}

    moved = await ok(await client.patch(url, json={"address": {"city": "Bilbao", "country": "PT"}}))
    assert moved["address"] == {**company["address"], "city": "Bilbao", "country": "PT"}
    assert (moved["name"], moved["phone"]) == (company["name"], "+34 600 000 000")
    back = await ok(await client.patch(url, json={"address": {"country": None}}))
    assert back["address"] == {**company["address"], "city": "Bilbao", "country": "ES"}


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"name": None}, "name"),
        ({"address": None}, "address"),
        ({"address": {"city": None}}, "address.city"),
        ({"address": {"postal_code": "!"}}, "address.postal_code"),
        ({"email": "not-an-email"}, "email"),
    ],
)
async def test_an_invalid_company_patch_is_a_422_naming_the_field_and_nothing_is_stored(
    client: httpx2.AsyncClient, patch: dict[str, Any], field: str
) -> None:
    company = await ok(await client.post("/v1/companies", json=company_body()), 201)
    url = f"/v1/companies/{company['id']}"
    before = await ok(await client.get(url))
    assert_problem(await client.patch(url, json={"contact_person": "Not stored", **patch}), field)
    assert await ok(await client.get(url)) == before
