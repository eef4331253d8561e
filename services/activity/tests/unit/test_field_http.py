"""The field operations routes on in-memory use cases: the month, a day's versions, a correction, the
exports' totals and hash, positions with gaps, `late` on records, refusals naming their field, and
another partner's worker or terminal as 404."""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest
from pypdf import PdfReader

from activity.bootstrap import bootstrap_test_app
from activity.config import Settings
from activity.domain.model import ActivityRecord, Terminal
from activity.service_layer.testing import ActivityFakes
from servicekit.auth import TokenIssuer, generate_key_pair
from servicekit.principal import Principal
from servicekit.settings import PlatformSettings

pytestmark = pytest.mark.unit

PARTNER, OTHER = "ptn-acme", "ptn-rival"
INSTANCE, PIN, SERIAL = "ins-001", "4821", "SN-0001"
PRIVATE, PUBLIC = generate_key_pair()
ISSUER = TokenIssuer(PRIVATE, issuer="partnerapp-gateway", audience="partnerapp")


def auth(partner: str = PARTNER, language: str = "en") -> dict[str, str]:
    token = ISSUER.issue(Principal("usr-ana", "partner", partner, frozenset({partner})))
    return {"Authorization": f"Bearer {token}", "Accept-Language": language}


def record(action: str, at: datetime, *, received: datetime | None = None, **more: Any) -> ActivityRecord:
    return ActivityRecord(
        event_id=str(uuid.uuid4()),
        serial=SERIAL,
        instance_id=INSTANCE,
        partner_id=PARTNER,
        action=action,
        occurred_at=at,
        received_at=received or at + timedelta(seconds=3),
        pin=PIN,
        location={"lat": 40.41, "lon": -3.70, "accuracy_m": 8.0},
        **more,
    )


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


@pytest.fixture
async def fakes() -> ActivityFakes:
    fakes = ActivityFakes()
    records = []
    for day in (2, 3, 4):
        records += [
            record("clock_in", utc(day, 7)),
            record("gps_fix", utc(day, 8)),
            record("break_start", utc(day, 11)),
            record("break_end", utc(day, 11, 30)),
            record("gps_fix", utc(day, 14)),  # after 6 h: a gap
            record("clock_out", utc(day, 15), received=utc(day, 17)),  # synced late
        ]
    await fakes.event_handlers._store(records)
    assert fakes.event_handlers.field_ops is not None
    await fakes.event_handlers.field_ops.apply(records)
    await fakes.field_store.name_worker(PARTNER, INSTANCE, PIN, "Zoë Łukasiewicz 李小龍")
    last = records[-1]
    fakes.terminals.states[(PARTNER, SERIAL)] = Terminal.from_record(last, None)
    return fakes


@pytest.fixture
async def client(fakes: ActivityFakes) -> AsyncIterator[httpx2.AsyncClient]:
    app = bootstrap_test_app(fakes, Settings(platform=PlatformSettings(auth_public_key=PUBLIC)))
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://activity") as client:
        yield client


WORKER = {"instance_id": INSTANCE, "pin": PIN}


async def test_the_month_shows_each_day_and_the_total(client: httpx2.AsyncClient) -> None:
    answer = await client.get("/v1/activity/working-time", params={**WORKER, "month": "2026-11"}, headers=auth())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [d["date"] for d in body["days"]] == ["2026-11-02", "2026-11-03", "2026-11-04"]
    assert all(d["worked_s"] == 7.5 * 3600 for d in body["days"])
    assert body["total_worked_s"] == 3 * 7.5 * 3600
    assert body["user"] == "Zoë Łukasiewicz 李小龍"
    assert "late_sync" in body["days"][0]["flags"]
    assert len(body["days"][0]["source_record_ids"]) == 4


async def test_a_correction_is_a_new_version_and_the_original_stays(client: httpx2.AsyncClient) -> None:
    fix = {
        **WORKER,
        "date": "2026-11-03",
        "start": "2026-11-03T08:00:00+01:00",
        "end": "2026-11-03T17:00:00+01:00",
        "pauses": [{"start": "2026-11-03T13:00:00+01:00", "end": "2026-11-03T14:00:00+01:00"}],
        "reason": "Olvidó fichar la salida",
    }
    headers = {**auth(), "Idempotency-Key": "fix-0003-aaaa"}
    made = await client.post("/v1/activity/working-time/corrections", json=fix, headers=headers)
    assert made.status_code == 201, made.text
    assert (made.json()["version"], made.json()["worked_s"], made.json()["corrected_by"]) == (2, 8 * 3600, "usr-ana")
    again = await client.post("/v1/activity/working-time/corrections", json=fix, headers=headers)
    assert again.json()["version"] == 2  # a retry stores once
    other = {**fix, "end": "2026-11-03T18:00:00+01:00"}  # the key again, with another correction
    reused = await client.post("/v1/activity/working-time/corrections", json=other, headers=headers)
    assert reused.status_code == 422, reused.text
    assert reused.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in reused.json()["errors"]] == ["Idempotency-Key"]
    day = await client.get("/v1/activity/working-time/days", params={**WORKER, "date": "2026-11-03"}, headers=auth())
    versions = day.json()["versions"]
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[0]["worked_s"] == 7.5 * 3600 and versions[0]["corrected_by"] is None
    assert day.json()["version"] == 2
    month = await client.get("/v1/activity/working-time", params={**WORKER, "month": "2026-11"}, headers=auth())
    assert month.json()["total_worked_s"] == 2 * 7.5 * 3600 + 8 * 3600


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"reason": ""}, "reason"),
        ({"end": "2026-11-03T07:00:00+01:00"}, "end"),
        ({"start": "2026-11-04T08:00:00+01:00"}, "start"),
        ({"pauses": [{"start": "2026-11-03T20:00:00+01:00", "end": "2026-11-03T21:00:00+01:00"}]}, "pauses.0"),
        ({"tz": "Mars/Olympus"}, "tz"),
    ],
)
async def test_a_bad_correction_names_its_field_and_stores_nothing(
    client: httpx2.AsyncClient, fakes: ActivityFakes, change: dict[str, Any], field: str
) -> None:
    fix = {**WORKER, "date": "2026-11-03", "start": "2026-11-03T08:00:00+01:00", "end": "2026-11-03T17:00:00+01:00"}
    answer = await client.post(
        "/v1/activity/working-time/corrections", json={"reason": "x", **fix, **change}, headers=auth()
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert field in {e["field"].removeprefix("body.") for e in answer.json()["errors"]}, answer.json()
    assert fakes.field_store.fixes == {}


@pytest.mark.parametrize(
    ("params", "field"),
    [({"month": "2026-13"}, "month"), ({"month": "nov"}, "month"), ({"month": "2026-11", "tz": "Nowhere/X"}, "tz")],
)
async def test_a_bad_month_or_zone_names_the_field(
    client: httpx2.AsyncClient, params: dict[str, str], field: str
) -> None:
    answer = await client.get("/v1/activity/working-time", params={**WORKER, **params}, headers=auth())
    assert answer.status_code == 422
    assert field in str(answer.json()["errors"])


async def test_another_partners_worker_and_terminal_are_not_found(client: httpx2.AsyncClient) -> None:
    month = {**WORKER, "month": "2026-11"}
    assert (await client.get("/v1/activity/working-time", params=month, headers=auth(OTHER))).status_code == 404
    day = {**WORKER, "date": "2026-11-03"}
    assert (await client.get("/v1/activity/working-time/days", params=day, headers=auth(OTHER))).status_code == 404
    export = await client.get("/v1/activity/working-time/export", params=month, headers=auth(OTHER))
    assert export.status_code == 404
    positions = await client.get(
        f"/v1/activity/terminals/{SERIAL}/positions", params={"date": "2026-11-03"}, headers=auth(OTHER)
    )
    assert positions.status_code == 404


async def test_the_csv_totals_equal_the_apis_and_its_hash_is_in_the_header(client: httpx2.AsyncClient) -> None:
    params = {**WORKER, "month": "2026-11"}
    api = (await client.get("/v1/activity/working-time", params=params, headers=auth())).json()
    exported = await client.get(
        "/v1/activity/working-time/export", params={**params, "format": "csv"}, headers=auth(language="es")
    )
    assert exported.status_code == 200
    assert exported.content.startswith("\ufeff".encode())
    assert exported.headers["x-content-sha256"] == hashlib.sha256(exported.content).hexdigest()
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "Fecha"
    assert [int(r[5]) for r in rows[1:-1]] == [d["worked_s"] for d in api["days"]]
    assert rows[-1][0] == "TOTAL" and int(rows[-1][5]) == api["total_worked_s"]


async def test_the_pdf_prints_the_hash_the_name_and_the_total(client: httpx2.AsyncClient) -> None:
    params = {**WORKER, "month": "2026-11", "format": "pdf"}
    exported = await client.get("/v1/activity/working-time/export", params=params, headers=auth(language="en"))
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"] == "application/pdf"
    digest = exported.headers["x-content-sha256"]
    csv_file = await client.get(
        "/v1/activity/working-time/export", params={**params, "format": "csv"}, headers=auth(language="en")
    )
    assert digest == hashlib.sha256(csv_file.content).hexdigest()  # the PDF's hash: its CSV's
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(exported.content)).pages)
    assert digest in text.replace("\n", "")
    assert "Łukasiewicz" in text
    assert f"{3 * 27000} s (22:30)" in text


async def test_positions_come_in_time_order_with_gaps_marked_and_paged(client: httpx2.AsyncClient) -> None:
    url = f"/v1/activity/terminals/{SERIAL.lower()}/positions"
    first = await client.get(url, params={"date": "2026-11-03", "limit": 4}, headers=auth())
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["gap_threshold_s"] == 600
    times = [p["occurred_at"] for p in body["items"]]
    assert times == sorted(times) and len(times) == 4
    second = await client.get(
        url, params={"date": "2026-11-03", "limit": 4, "cursor": body["next_cursor"]}, headers=auth()
    )
    items = body["items"] + second.json()["items"]
    assert len(items) == 6 and second.json()["next_cursor"] is None
    assert items[0]["gap_before_s"] is None
    assert [p["gap_before_s"] for p in items[1:]] == [3600, 3 * 3600, 1800, 2.5 * 3600, 3600]
    assert items[0]["accuracy_m"] == 8.0
    terminal = await client.get(f"/v1/activity/terminals/{SERIAL}", headers=auth())
    assert terminal.json()["last_position"]["occurred_at"].startswith("2026-11-04T15:00")


async def test_records_say_whether_they_arrived_late(client: httpx2.AsyncClient) -> None:
    params = {"serial": SERIAL, "from": "2026-11-03T00:00:00Z", "to": "2026-11-04T00:00:00Z"}
    found = (await client.get("/v1/activity/records", params=params, headers=auth())).json()["items"]
    late = {r["action"]: r["late"] for r in found}
    assert late["clock_out"] is True and late["clock_in"] is False


async def test_a_refusal_is_worded_in_the_readers_language(client: httpx2.AsyncClient) -> None:
    params = {**WORKER, "month": "2026-11", "tz": "Europe/Nowhere"}
    answer = await client.get("/v1/activity/working-time", params=params, headers=auth(language="es"))
    assert answer.status_code == 422
    assert "zona horaria" in str(answer.json())


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
async def test_a_day_at_the_ends_of_the_calendar_is_refused_not_a_crash(client: httpx2.AsyncClient, day: str) -> None:
    answers = [
        await client.get("/v1/activity/working-time/days", params={**WORKER, "date": day}, headers=auth()),
        await client.get(f"/v1/activity/terminals/{SERIAL}/positions", params={"date": day}, headers=auth()),
        await client.get("/v1/activity/working-time", params={**WORKER, "month": day[:7]}, headers=auth()),
    ]
    for answer in answers:
        assert answer.status_code == 422, answer.text
    fix = {**WORKER, "date": day, "start": f"{day}T08:00:00+00:00", "reason": "x"}
    refused = await client.post("/v1/activity/working-time/corrections", json=fix, headers=auth())
    assert refused.status_code == 422
    assert "date" in str(refused.json()["errors"])
    early = {**WORKER, "date": "2026-11-03", "start": f"{day}T00:30:00+01:00", "reason": "x"}
    refused = await client.post("/v1/activity/working-time/corrections", json=early, headers=auth())
    assert refused.status_code == 422
    assert "start" in str(refused.json()["errors"])
