"""Hostile input through the gateway, and through it the services: NUL characters, bodies over the
limit, deeply nested JSON, operator injection, regular-expression bombs, broken time windows,
silly limits, timestamps without a zone, unknown enum values, overlong strings, wrong content
types, path traversal and forged cursors.

Every answer is below 500 and a problem+json document (naming the field where one is at fault),
and nothing is written: the affected objects are read before and after each attack.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest
import pytest_asyncio

from .conftest import Stack, add_user
from .test_gateway_platform import COMPANY, PartnerWorld, build_world

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

PROBLEM = "application/problem+json"
BOMB = "(a+)+$" + "a" * 90 + "!"  # catastrophic backtracking if it ever reached a regex engine as a pattern
ADDRESS = {"street": "Calle 1", "city": "Soria", "postal_code": "42001", "province": "Soria"}
LISTS: tuple[
    tuple[str, dict[str, str]], ...
] = (  # every paginated list of the public API, with the parameters it needs
    ("/api/v1/companies", {}),
    ("/api/v1/provisionings", {}),
    ("/api/v1/instances", {}),
    ("/api/v1/instances/{instance_id}/licenses", {}),
    ("/api/v1/threads", {}),
    ("/api/v1/threads/{thread_id}/messages", {}),
    ("/api/v1/reports/instances", {}),
    ("/api/v1/reports/licenses", {}),
    ("/api/v1/reports/active-services", {"from": "2026-01-01", "to": "2026-01-31"}),
    ("/api/v1/reports/operations/rows", {"from": "2026-01-01", "to": "2026-01-31"}),
    ("/api/v1/activity/records", {"serial": "{serial}"}),
    ("/api/v1/activity/terminals", {}),
)


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def worlds(stack: Stack) -> tuple[PartnerWorld, PartnerWorld]:
    mine, theirs = await asyncio.gather(build_world(stack, _unique), build_world(stack, _unique))
    return mine, theirs


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def api(stack: Stack, worlds: tuple[PartnerWorld, PartnerWorld]) -> AsyncIterator[httpx2.AsyncClient]:
    async with stack.client(worlds[0].token) as client:
        yield client


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def staff_api(stack: Stack, worlds: tuple[PartnerWorld, PartnerWorld]) -> AsyncIterator[httpx2.AsyncClient]:
    token = await stack.token(await add_user(stack, _unique("staff"), "staff", (worlds[0].partner_id,)))
    async with stack.client(token) as client:
        yield client


def assert_problem(response: httpx2.Response, status: int | tuple[int, ...], field: str | None = None) -> None:
    label = f"{response.request.method} {response.request.url}"
    expected = (status,) if isinstance(status, int) else status
    assert response.status_code in expected, f"{label}: {response.status_code} {response.text[:400]}"
    assert response.headers["content-type"].startswith(PROBLEM), f"{label}: {response.headers['content-type']}"
    body = response.json()
    assert body["status"] == response.status_code
    assert body["type"].startswith("urn:partnerapp:problem:")
    if field is not None:
        fields = [error["field"] for error in body.get("errors", [])]
        named = any(name == field or name.startswith(f"{field}.") for name in fields)  # `stage.0` of a list
        assert named, f"{label}: {field!r} not named in {fields}"


async def snapshot(api: httpx2.AsyncClient, world: PartnerWorld) -> dict[str, Any]:
    """What a hostile request could have changed of a partner's data."""

    async def items(url: str, **params: str) -> list[Any]:
        response = await api.get(url, params={"limit": "100", **params})
        assert response.status_code == 200, response.text
        return list(response.json()["items"])

    instance = (await api.get(f"/api/v1/instances/{world.instance_id}")).json()
    company = (await api.get(f"/api/v1/companies/{world.company_id}")).json()
    return {
        "companies": sorted((c["id"], c["name"], c["tax_id"]) for c in await items("/api/v1/companies")),
        "provisionings": sorted(p["id"] for p in await items("/api/v1/provisionings")),
        "instance": (instance["version"], instance["name"], instance["status"], instance["expiry_date"]),
        "company": company,
        "licenses": sorted(
            (lic["id"], lic["status"]) for lic in await items(f"/api/v1/instances/{world.instance_id}/licenses")
        ),
        "messages": len(await items(f"/api/v1/threads/{world.thread_id}/messages")),
        "records": sorted(r["id"] for r in await items("/api/v1/activity/records", serial=world.serial)),
    }


def _ids(world: PartnerWorld) -> dict[str, str]:
    return {
        "company_id": world.company_id,
        "instance_id": world.instance_id,
        "license_id": world.license_id,
        "thread_id": world.thread_id,
        "record_id": world.record_id,
        "serial": world.serial,
    }


def _event(serial: str, **changes: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "serial": serial,
        "pin": "4821",
        "action": "gps_fix",
        "occurred_at": (datetime.now(UTC) - timedelta(seconds=20)).isoformat(),
        **changes,
    }


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


async def test_nul_characters_in_ids_bodies_and_queries(
    api: httpx2.AsyncClient, worlds: tuple[PartnerWorld, PartnerWorld]
) -> None:
    mine, _ = worlds
    before = await snapshot(api, mine)
    company = {**COMPANY, "tax_id": "B00000001"}
    bodies = [
        ("POST", "/api/v1/companies", {**company, "name": "Acme\x00Evil"}, "name"),
        ("POST", "/api/v1/companies", {**company, "contact_person": "Ana\x00"}, "contact_person"),
        (
            "PATCH",
            f"/api/v1/companies/{mine.company_id}",
            {"address": {**ADDRESS, "city": "So\x00ria"}},
            "address.city",
        ),
        ("PATCH", f"/api/v1/instances/{mine.instance_id}", {"name": "\x00"}, "name"),
        ("POST", f"/api/v1/instances/{mine.instance_id}/cancellation-request", {"reason": "why\x00not"}, "reason"),
        (
            "POST",
            f"/api/v1/instances/{mine.instance_id}/licenses",
            {"licenses": [{"user_name": "Eve\x00", "email": "eve@example.com", "pin": "7777"}]},
            "licenses.0.user_name",
        ),
        ("POST", f"/api/v1/threads/{mine.thread_id}/messages", {"body": "hola\x00"}, "body"),
        ("POST", "/api/v1/provisionings", {"company_id": mine.company_id, "type": "WDS", "name": "N\x00"}, "name"),
        ("POST", "/api/v1/companies", {**company, "na\x00me": "x"}, "na\x00me"),
    ]
    for method, url, body, field in bodies:
        response = await api.request(method, url, json=body, headers={"Idempotency-Key": _unique("k")})
        assert_problem(response, 422, field)
    ingest = await api.post(
        "/api/v1/ingest/events",
        json={"events": [_event("SR\x00X")]},
        headers={"X-Ingest-Key": mine.ingest_key},
    )
    assert_problem(ingest, 422, "events.0.serial")
    for path in (
        f"/api/v1/companies/{mine.company_id}%00",
        f"/api/v1/instances/{mine.instance_id}%00/licenses",
        f"/api/v1/instances/{mine.instance_id}/licenses/{mine.license_id}%00",
        f"/api/v1/threads/{mine.thread_id}%00/messages",
        "/api/v1/activity/records/x%00y",
        "/api/v1/reports/instances/ins%00",
        "/api/v1/activity/terminals/SR%00X",
        f"/api/v1/views/instances/{mine.instance_id}%00",
    ):
        assert_problem(await api.get(path), (404, 422))
    # No store keeps U+0000 (FerretDB on PostgreSQL cannot even look one up): every service's edge
    # refuses it in a query too, naming the parameter.
    for url, params, field in (
        ("/api/v1/companies", {"q": "Acme\x00"}, "q"),
        ("/api/v1/instances", {"q": "\x00", "company_id": "cmp\x00"}, "company_id"),
        ("/api/v1/threads", {"q": "a\x00b"}, "q"),
        ("/api/v1/hardware", {"q": "\x00"}, "q"),
    ):
        assert_problem(await api.get(url, params=params), 422, field)
    assert_problem(await api.get("/api/v1/activity/records", params={"serial": "SR\x00"}), 422, "serial")
    assert_problem(await api.get("/api/v1/activity/records", params={"pin": "1\x00"}), 422, "pin")
    assert await snapshot(api, mine) == before, "nothing was written"


async def test_a_body_over_the_limit_is_a_413_and_writes_nothing(
    api: httpx2.AsyncClient, worlds: tuple[PartnerWorld, PartnerWorld]
) -> None:
    mine, _ = worlds
    before = await snapshot(api, mine)
    huge = {**COMPANY, "tax_id": "B00000002", "name": "x" * 2_000_000}

    async def streamed() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        yield json.dumps({**COMPANY, "tax_id": "B00000003", "contact_person": ""})[:-2].encode()
        for _ in range(40):
            yield b"x" * 65_536
        yield b'"}'

    for response in (
        await api.post("/api/v1/companies", json=huge),
        await api.post("/api/v1/companies", content=streamed(), headers={"content-type": "application/json"}),
        await api.post("/api/v1/auth/login", json={"email": "a@example.com", "password": "p" * 2_000_000}),
        await api.post(
            "/api/v1/ingest/events",
            json={"events": [_event(mine.serial, details={"k": "v" * 2_000_000})]},
            headers={"X-Ingest-Key": mine.ingest_key},
        ),
    ):
        assert_problem(response, 413)
    assert await snapshot(api, mine) == before


async def test_deeply_nested_json_is_refused_without_a_recursion_error(
    api: httpx2.AsyncClient, worlds: tuple[PartnerWorld, PartnerWorld]
) -> None:
    mine, _ = worlds
    before = await snapshot(api, mine)
    arrays = ("[" * 10_000 + "]" * 10_000).encode()
    objects = ('{"a":' * 10_000 + "1" + "}" * 10_000).encode()
    json_headers = {"content-type": "application/json"}
    for url, headers in (
        ("/api/v1/companies", json_headers),
        ("/api/v1/auth/login", json_headers),
        (f"/api/v1/threads/{mine.thread_id}/messages", {**json_headers, "Idempotency-Key": _unique("k")}),
        ("/api/v1/ingest/events", {**json_headers, "X-Ingest-Key": mine.ingest_key}),
    ):
        for body in (arrays, objects):
            assert_problem(await api.post(url, content=body, headers=headers), (400, 422))
    # Nested deep enough to parse, inside fields that take objects: refused by their shape.
    nested = '{"x":' * 500 + "1" + "}" * 500
    configuration = f'{{"company_id": "{mine.company_id}", "type": "WDS", "name": "N", "configuration": {nested}}}'
    response = await api.post("/api/v1/provisionings", content=configuration.encode(), headers=json_headers)
    assert_problem(response, 422, "configuration.x")
    details = json.dumps({"events": [_event(mine.serial, details={})]}).replace('"details": {}', f'"details": {nested}')
    response = await api.post(
        "/api/v1/ingest/events", content=details.encode(), headers={**json_headers, "X-Ingest-Key": mine.ingest_key}
    )
    assert_problem(response, 422)
    assert await snapshot(api, mine) == before


async def test_operator_injection_in_json_query_path_and_cursor(
    api: httpx2.AsyncClient, worlds: tuple[PartnerWorld, PartnerWorld]
) -> None:
    mine, theirs = worlds
    before = await snapshot(api, mine)
    gt, ne = {"$gt": ""}, {"$ne": None}
    bodies = [
        ("POST", "/api/v1/provisionings", {"company_id": gt, "type": "WDS", "name": "N"}, "company_id"),
        ("POST", "/api/v1/auth/login", {"email": ne, "password": ne}, "email"),
        ("POST", "/api/v1/auth/refresh", {"refresh_token": ne}, "refresh_token"),
        (
            "PATCH",
            f"/api/v1/companies/{mine.company_id}",
            {"name": {"$set": {"partner_id": theirs.partner_id}}},
            "name",
        ),
        ("POST", f"/api/v1/threads/{mine.thread_id}/messages", {"body": ne}, "body"),
        (
            "POST",
            f"/api/v1/instances/{mine.instance_id}/licenses",
            {"licenses": [{"user_name": "Eve", "email": "eve@example.com", "pin": gt}]},
            "licenses.0.pin",
        ),
        ("POST", f"/api/v1/instances/{mine.instance_id}/clear-session", {"serial": ne}, "serial"),
        ("POST", f"/api/v1/instances/{mine.instance_id}/extend", {"new_expiry_date": gt}, "new_expiry_date"),
    ]
    for method, url, body, field in bodies:
        response = await api.request(method, url, json=body, headers={"Idempotency-Key": _unique("k")})
        assert_problem(response, 422, field)
    ingest = await api.post(
        "/api/v1/ingest/events",
        json={"events": [_event(theirs.serial, instance_id=gt), _event(gt)]},  # type: ignore[arg-type]
        headers={"X-Ingest-Key": mine.ingest_key},
    )
    assert_problem(ingest, 422, "events.1.serial")
    # Bracketed query keys are not operators to any service: ignored, and the answer stays the caller's.
    for url in (
        "/api/v1/companies?q[$gt]=",
        "/api/v1/instances?company_id[$ne]=x",
        "/api/v1/threads?partner_id[$ne]=x",
        "/api/v1/reports/instances?partner_id[$ne]=x&company_id[$ne]=x",
        "/api/v1/reports/licenses?instance_id[$gt]=",
        "/api/v1/activity/terminals?serial[$ne]=x",
    ):
        response = await api.get(url)
        assert response.status_code == 200, f"{url}: {response.text}"
        assert theirs.partner_id not in response.text and theirs.company_id not in response.text, url
        assert response.json()["items"], f"{url}: the caller's own items"
    # An operator as a string value is a literal: it matches nothing.
    for url, params in (
        ("/api/v1/instances", {"company_id": json.dumps(ne)}),
        ("/api/v1/companies", {"q": json.dumps(gt)}),
        ("/api/v1/reports/licenses", {"instance_id": "$gt"}),
    ):
        response = await api.get(url, params=params)
        assert response.status_code in (200, 422), response.text
        if response.status_code == 200:
            assert response.json()["items"] == [], url
        else:
            assert_problem(response, 422)
    assert_problem(await api.get("/api/v1/activity/records?serial[$ne]=x"), 422, "serial")
    encoded = "%7B%22%24gt%22%3A%22%22%7D"  # {"$gt":""} in a path
    for path in (
        f"/api/v1/companies/{encoded}",
        f"/api/v1/instances/{encoded}",
        f"/api/v1/instances/{mine.instance_id}/licenses/{encoded}",
        f"/api/v1/threads/{encoded}",
        f"/api/v1/reports/instances/{encoded}",
        f"/api/v1/reports/licenses/{encoded}",
        f"/api/v1/activity/records/{encoded}",
        f"/api/v1/views/instances/{encoded}",
        f"/api/v1/views/threads/{encoded}",
    ):
        assert_problem(await api.get(path), (404, 422))
    # Forged cursors: operators, other types, numbers and dates the store cannot hold.
    forged = [
        _cursor([ne, "x"]),
        _cursor(["x", gt]),
        _cursor([[1, 2], "x"]),
        _cursor({"a": 1}),
        _cursor([10**30, "x"]),
        _cursor([{"datetime": "2026-01-01T00:00:00"}, "x"]),
        _cursor([{"datetime": "0001-01-01T00:00:00+23:59"}, "x"]),
        _cursor(["not-a-date", "x"]),
        "not base64 at all!",
    ]
    ids = _ids(mine)
    for template, params in LISTS:
        url = template.format(**ids)
        for cursor in forged:
            query = {name: value.format(**ids) for name, value in params.items()}
            response = await api.get(url, params={**query, "cursor": cursor})
            if response.status_code == 200:  # a cursor of another shape may just select nothing more
                continue
            assert_problem(response, 422, "cursor")
    assert await snapshot(api, mine) == before


async def test_regex_bombs_in_every_search_are_matched_literally_and_fast(
    api: httpx2.AsyncClient, staff_api: httpx2.AsyncClient, worlds: tuple[PartnerWorld, PartnerWorld]
) -> None:
    mine, _ = worlds
    literal = "(a+)+$ {x}"
    created = await api.post("/api/v1/companies", json={**COMPANY, "name": f"Bomb {literal}", "tax_id": "B00000009"})
    assert created.status_code == 201, created.text
    searches = [
        ("/api/v1/companies", "q"),
        ("/api/v1/instances", "q"),
        (f"/api/v1/instances/{mine.instance_id}/licenses", "q"),
        ("/api/v1/threads", "q"),
        ("/api/v1/hardware", "q"),
        ("/api/v1/hardware.pdf", "q"),
    ]
    for url, name in searches:
        for text in (BOMB, ".*", "^", "\\", "[", "(?i)a{1000000}"):
            started = time.monotonic()
            response = await api.get(url, params={name: text})
            elapsed = time.monotonic() - started
            assert response.status_code == 200, f"{url} {text!r}: {response.text[:300]}"
            assert elapsed < 2.0, f"{url} {text!r} took {elapsed:.2f} s"
            if "items" in response.text[:20]:
                assert response.json()["items"] == [], f"{url} {text!r} is matched literally"
    found = (await api.get("/api/v1/companies", params={"q": literal})).json()["items"]
    assert [c["id"] for c in found] == [created.json()["id"]], "metacharacters are plain text"
    started = time.monotonic()
    response = await staff_api.get("/api/v1/audit", params={"action": BOMB})
    assert response.status_code == 200 and time.monotonic() - started < 2.0
    assert response.json()["items"] == []
    threads = await api.get("/api/v1/threads", params={"q": "Bomb (a+)"})
    assert [t["company_id"] for t in threads.json()["items"]] in ([], [created.json()["id"]])


async def test_inverted_unbounded_and_off_calendar_time_windows(
    api: httpx2.AsyncClient, staff_api: httpx2.AsyncClient, worlds: tuple[PartnerWorld, PartnerWorld]
) -> None:
    mine, _ = worlds
    now = datetime.now(UTC)
    records = "/api/v1/activity/records"
    serial = {"serial": mine.serial}
    cases: list[tuple[httpx2.AsyncClient, str, dict[str, str], str]] = [
        (api, records, {**serial, "from": now.isoformat(), "to": (now - timedelta(hours=1)).isoformat()}, "from"),
        (api, records, {**serial, "from": now.isoformat(), "to": now.isoformat()}, "from"),
        (api, records, {**serial, "from": "0001-01-01T00:00:00+00:00", "to": "9999-12-31T23:59:59+00:00"}, "from"),
        (api, records, {**serial, "from": "0001-01-01T00:00:00+23:59"}, "from"),
        (api, records, {**serial, "to": "9999-12-31T23:59:59-23:59"}, "from"),
        (api, records, {**serial, "from": "9999-12-31T12:00:00+00:00"}, "from"),
        (staff_api, "/api/v1/audit", {"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "from"),
        (staff_api, "/api/v1/audit", {"from": "0001-01-01T00:00:00+23:59"}, "from"),
        (staff_api, "/api/v1/audit", {"to": "9999-12-31T23:59:59-23:59"}, "to"),
    ]
    for period_route in ("/api/v1/reports/summary", "/api/v1/reports/monthly", "/api/v1/reports/instances"):
        cases.append(
            (api, period_route, {"activated_from": "2026-02-01", "activated_to": "2026-01-01"}, "activated_to")
        )
        cases.append(
            (api, period_route, {"activated_from": "0001-01-01", "activated_to": "9999-12-31"}, "activated_to")
        )
        cases.append((api, period_route, {"activated_from": "2026-01-01"}, "activated_to"))
    for day_route in (
        "/api/v1/reports/operations",
        "/api/v1/reports/operations/rows",
        "/api/v1/reports/operations/rows/export.csv",
        "/api/v1/reports/active-services",
        "/api/v1/reports/active-services/export.xlsx",
    ):
        cases.append((api, day_route, {"from": "2026-02-01", "to": "2026-01-01"}, "to"))
        cases.append((api, day_route, {"from": "0001-01-01", "to": "9999-12-31"}, "to"))
    for client, url, params, field in cases:
        started = time.monotonic()
        response = await client.get(url, params=params)
        assert_problem(response, 422, field)
        assert time.monotonic() - started < 2.0
    # At the very edges of the calendar, a valid window answers (empty) rather than overflowing.
    for url, params in (
        (records, {**serial, "from": "0001-01-01T00:00:00+00:00", "to": "0001-01-02T00:00:00+00:00"}),
        (records, {**serial, "from": "9999-12-30T00:00:00+00:00", "to": "9999-12-31T00:00:00+00:00"}),
        ("/api/v1/reports/operations", {"from": "9999-12-30", "to": "9999-12-31"}),
        ("/api/v1/reports/active-services", {"from": "0001-01-01", "to": "0001-01-31"}),
        ("/api/v1/reports/monthly", {"activated_from": "9999-12-01", "activated_to": "9999-12-31"}),
    ):
        response = await api.get(url, params=params)
        assert response.status_code == 200, f"{url} {params}: {response.text[:300]}"


async def test_limits_zero_negative_and_huge_are_refused(
    api: httpx2.AsyncClient, staff_api: httpx2.AsyncClient, worlds: tuple[PartnerWorld, PartnerWorld]
) -> None:
    ids = _ids(worlds[0])
    for template, params in LISTS:
        url = template.format(**ids)
        query = {name: value.format(**ids) for name, value in params.items()}
        for limit in ("0", "-1", str(10**6), "1e3", "ten", str(10**30), ""):
            assert_problem(await api.get(url, params={**query, "limit": limit}), 422, "limit")
    for limit in ("0", "-1", str(10**6)):
        assert_problem(await staff_api.get("/api/v1/audit", params={"limit": limit}), 422, "limit")
    for days in ("-1", str(10**6), "x"):
        assert_problem(await api.get("/api/v1/instances", params={"expiring_within_days": days}), 422)


async def test_timestamps_without_a_zone_are_refused_naming_the_field(
    api: httpx2.AsyncClient, staff_api: httpx2.AsyncClient, worlds: tuple[PartnerWorld, PartnerWorld]
) -> None:
    mine, _ = worlds
    before = await snapshot(api, mine)
    naive = (datetime.now(UTC) - timedelta(minutes=5)).replace(tzinfo=None).isoformat()
    for name in ("from", "to"):
        response = await api.get("/api/v1/activity/records", params={"serial": mine.serial, name: naive})
        assert_problem(response, 422, name)
        assert_problem(await staff_api.get("/api/v1/audit", params={name: naive}), 422, name)
    ingest = await api.post(
        "/api/v1/ingest/events",
        json={"events": [_event(mine.serial), _event(mine.serial, occurred_at=naive)]},
        headers={"X-Ingest-Key": mine.ingest_key},
    )
    assert_problem(ingest, 422, "events.1.occurred_at")
    await asyncio.sleep(1.0)  # a wrongly accepted event would be stored by now
    assert await snapshot(api, mine) == before, "the batch's valid event was not written either"


async def test_unknown_enum_values_overlong_strings_and_wrong_content_types(
    api: httpx2.AsyncClient, worlds: tuple[PartnerWorld, PartnerWorld]
) -> None:
    mine, _ = worlds
    before = await snapshot(api, mine)
    for url, params, field in (
        ("/api/v1/instances", {"type": "XYZ"}, "type"),
        ("/api/v1/instances", {"status": "zombie"}, "status"),
        ("/api/v1/instances", {"sort": "$where"}, "sort"),
        ("/api/v1/provisionings", {"stage": "limbo"}, "stage"),
        ("/api/v1/reports/summary", {"type": "xyz"}, "type"),
        ("/api/v1/reports/licenses", {"license_status": "stolen"}, "license_status"),
        ("/api/v1/reports/instances", {"sort": "-password"}, "sort"),
        ("/api/v1/activity/records", {"serial": mine.serial, "kind": "alien"}, "kind"),
        ("/api/v1/activity/records", {"serial": mine.serial, "action": "DROP TABLE"}, "action"),
        ("/api/v1/hardware.pdf", {"lang": "klingon"}, "lang"),
        ("/api/v1/companies", {"q": "x" * 101}, "q"),
        ("/api/v1/companies", {"cursor": "x" * 513}, "cursor"),
        ("/api/v1/activity/records", {"serial": "S" * 65}, "serial"),
    ):
        assert_problem(await api.get(url, params=params), 422, field)
    assert_problem(await api.get("/api/v1/reports/instances/export.exe"), (404, 422))
    company = {**COMPANY, "tax_id": "B00000004"}
    for body, field in (
        ({**company, "name": "x" * 201}, "name"),
        ({**company, "name": "x" * 100_000}, "name"),
        ({**company, "email": "x" * 300 + "@example.com"}, "email"),
        ({**company, "tax_id": "B" * 21}, "tax_id"),
    ):
        assert_problem(await api.post("/api/v1/companies", json=body), 422, field)
    draft = {"company_id": mine.company_id, "type": "XYZ", "name": "N"}
    assert_problem(await api.post("/api/v1/provisionings", json=draft), 422, "type")
    message = f"/api/v1/threads/{mine.thread_id}/messages"
    assert_problem(await api.post(message, json={"body": "x" * 5001}, headers={"Idempotency-Key": "k"}), 422, "body")
    response = await api.post(message, json={"body": "hola"}, headers={"Idempotency-Key": "k" * 5000})
    assert_problem(response, 422, "Idempotency-Key")
    response = await api.post(
        "/api/v1/ingest/events", json={"events": [_event(mine.serial)]}, headers={"X-Ingest-Key": "k" * 201}
    )
    assert_problem(response, (401, 422))
    # Wrong content types: the body is not read as JSON, so it is no valid object.
    raw = json.dumps({**COMPANY, "tax_id": "B00000005"}).encode()
    for url, headers in (
        ("/api/v1/companies", {"content-type": "text/plain"}),
        ("/api/v1/companies", {"content-type": "application/xml"}),
        ("/api/v1/companies", {"content-type": "application/x-www-form-urlencoded"}),
        ("/api/v1/companies", {"content-type": "multipart/form-data; boundary=x"}),
        ("/api/v1/auth/login", {"content-type": "text/plain"}),
        ("/api/v1/ingest/events", {"content-type": "text/plain", "X-Ingest-Key": mine.ingest_key}),
    ):
        assert_problem(await api.post(url, content=raw, headers=headers), (400, 415, 422))
    form = await api.post("/api/v1/companies", data={"name": "Acme"})
    assert_problem(form, (400, 415, 422))
    files = await api.post("/api/v1/companies", files={"name": ("a.txt", b"Acme")})
    assert_problem(files, (400, 415, 422))
    assert await snapshot(api, mine) == before


async def test_a_failed_batch_writes_none_of_it(
    api: httpx2.AsyncClient, worlds: tuple[PartnerWorld, PartnerWorld]
) -> None:
    mine, _ = worlds
    before = await snapshot(api, mine)
    licenses = f"/api/v1/instances/{mine.instance_id}/licenses"
    good = {"user_name": "Ana", "email": "ana@example.com", "pin": "5551"}
    for batch, status, field in (
        ([good, {"user_name": "Bea", "email": "not-an-email", "pin": "5552"}], 422, "licenses.1.email"),
        ([good, {"user_name": "Bea", "email": "bea@example.com", "pin": "5551"}], 409, None),  # the same PIN twice
        ([good, {"user_name": "Bea", "email": "bea@example.com", "pin": "4821"}], 409, None),  # a PIN in use
        ([{**good, "pin": f"{6000 + n}"} for n in range(20)], 409, None),  # over the terminal quota (10)
        ([good] * 501, 422, "licenses"),
    ):
        assert_problem(await api.post(licenses, json={"licenses": batch}), status, field)
    key = {"X-Ingest-Key": mine.ingest_key}
    ingest = "/api/v1/ingest/events"
    for events, field in (
        ([_event(mine.serial), _event(mine.serial, details={"$where": 1})], "events.1.details.$where.[key]"),
        ([_event(mine.serial), _event(mine.serial, details={"a.b": 1})], "events.1.details.a.b.[key]"),
        ([_event(mine.serial), _event(mine.serial, occurred_at="2999-01-01T00:00:00+00:00")], "events.1.occurred_at"),
        ([_event(mine.serial), _event(mine.serial, battery_pct=101)], "events.1.battery_pct"),
        ([_event(mine.serial), _event(mine.serial, partner_id="ptn-other")], "events.1.partner_id"),
    ):
        assert_problem(await api.post(ingest, json={"events": events}, headers=key), 422, field)
    nan = json.dumps({"events": [_event(mine.serial), _event(mine.serial, details={"k": float("nan")})]})
    response = await api.post(ingest, content=nan.encode(), headers={**key, "content-type": "application/json"})
    assert_problem(response, 422)
    await asyncio.sleep(1.5)  # an accepted event would have reached the store by now
    assert await snapshot(api, mine) == before, "no license added, no event stored"


async def test_path_traversal_does_not_reach_the_services_internal_routes(
    api: httpx2.AsyncClient, worlds: tuple[PartnerWorld, PartnerWorld]
) -> None:
    for path in (
        "/api/v1/instances/..%2F..%2Fmetrics",
        "/api/v1/instances/%2E%2E/%2E%2E/metrics",
        "/api/v1/threads/..%2F..%2Freadyz",
        "/api/v1/reports/..%2F..%2Fopenapi.json",
        "/api/v1/activity/.%2F..%2F..%2Fmetrics",
    ):
        response = await api.get(path)
        assert_problem(response, 404)
        assert "partnerapp_" not in response.text and "checks" not in response.text
