"""The working-time record through the real path: the simulator's terminals' events posted to the
ingest endpoint → Kafka → the consumer → FerretDB → the record API; a redelivered batch counted
once, a correction keeping the original visible, the exports' totals equal to the API's, another
partner's worker not found, and the map's positions of a day."""

from __future__ import annotations

import csv
import hashlib
import io
import random
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx2
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from pypdf import PdfReader

from activity.adapters.field_store import MongoFieldStore
from activity.bootstrap import build_app
from activity.config import Settings
from activity.domain.model import ActivityRecord
from activity.entrypoints.simulator import SimTerminal, make_event
from activity.service_layer.event_handlers import ActivityEventHandlers
from activity.service_layer.field_operations import FieldCommands, FieldQueries
from contracts import envelope_for
from contracts.events.common import Actor
from contracts.events.instances import IngestKeyRotated
from contracts.events.licenses import LicenseAdded
from servicekit.api import provided_on
from servicekit.settings import PlatformSettings
from servicekit.testing import KafkaProbe, eventually, started

pytestmark = pytest.mark.integration

PARTNER, OTHER_PARTNER = "ptn-acme", "ptn-rival"


@pytest.fixture
async def activity(platform: PlatformSettings, database_name: str) -> AsyncIterator[tuple[FastAPI, httpx2.AsyncClient]]:
    settings = Settings(
        mongo_database=database_name, consumer_group=f"activity-{uuid.uuid4().hex[:8]}", platform=platform
    )
    app = build_app(settings)
    async with started(app):
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://activity") as client:
            yield app, client


async def issue_key(app: FastAPI, kafka: KafkaProbe) -> tuple[str, str]:
    """An instance and its ingest key, known to the service through instance.ingest_key_rotated."""
    instance_id = f"ins-{uuid.uuid4().hex[:10]}"
    key = f"pik_{instance_id}.{uuid.uuid4().hex}{uuid.uuid4().hex}"
    rotated = IngestKeyRotated(
        instance_id=instance_id,
        partner_id=PARTNER,
        key_sha256=hashlib.sha256(key.encode()).hexdigest(),
        rotated_by=Actor(user_id="usr-ana", role="partner"),
    )
    event = envelope_for(rotated, source="instances")
    await kafka.send("instance.ingest_key_rotated", event.to_json_bytes(), key=instance_id.encode())
    handlers: ActivityEventHandlers = provided_on(app, ActivityEventHandlers)

    async def known() -> object:
        return await handlers.keys.get(instance_id)

    await eventually(known)
    return instance_id, key


MADRID = ZoneInfo("Europe/Madrid")
DAY_WORKED = 8 * 3600 - 30 * 60  # 08:00-16:00 with a 30-minute break


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=MADRID).astimezone(UTC)


def working_day(terminal: SimTerminal, day: date, rng: random.Random) -> list[dict[str, Any]]:
    """A terminal's day as the simulator's terminals report it: clock-in, GPS fixes, a break, tasks, clock-out."""
    script = [
        ("clock_in", 8, 0),
        ("gps_fix", 9, 0),
        ("task_started", 10, 0),
        ("break_start", 11, 0),
        ("break_end", 11, 30),
        ("task_completed", 13, 0),
        ("gps_fix", 15, 0),
        ("clock_out", 16, 0),
    ]
    return [make_event(terminal, action, local(day, h, m), rng) for action, h, m in script]


async def month_of(client: httpx2.AsyncClient, token: str, instance_id: str, pin: str, month: str) -> httpx2.Response:
    return await client.get(
        "/v1/activity/working-time",
        params={"instance_id": instance_id, "pin": pin, "month": month},
        headers={"Authorization": f"Bearer {token}"},
    )


async def test_the_simulators_days_read_back_as_the_record(
    activity: tuple[FastAPI, httpx2.AsyncClient],
    kafka: KafkaProbe,
    token_for: Callable[..., str],
) -> None:
    app, client = activity
    instance_id, key = await issue_key(app, kafka)
    rng = random.Random(7)  # noqa: S311
    terminals = [SimTerminal(f"SIMWT{uuid.uuid4().hex[:6]}".upper(), pin, "Zebra", "TC21") for pin in ("5101", "5102")]
    today = datetime.now(MADRID).date()
    days = [today - timedelta(days=n) for n in range(29, 1, -1)]  # four weeks, within ingest's 30 days
    for terminal in terminals:
        events = [e for day in days for e in working_day(terminal, day, rng)]
        for start in range(0, len(events), 50):
            batch = {"events": events[start : start + 50]}
            answer = await client.post("/v1/ingest/events", json=batch, headers={"X-Ingest-Key": key})
            assert answer.status_code == 202, answer.text
        # A terminal retrying its first batch: the same event ids, stored and counted once.
        again = await client.post("/v1/ingest/events", json={"events": events[:50]}, headers={"X-Ingest-Key": key})
        assert again.status_code == 202
    named = LicenseAdded(
        license_id="lic-wt-1",
        instance_id=instance_id,
        partner_id=PARTNER,
        company_id="cmp-1",
        user_name="Ελένη Σαββίδου",
        email="eleni@example.com",
        pin="5101",
        serial=terminals[0].serial,
        added_by=Actor(user_id="usr-ana", role="partner"),
    )
    await kafka.send("license.added", envelope_for(named, source="instances").to_json_bytes(), key=b"lic-wt-1")

    token = token_for(PARTNER, user_id="usr-inspector")
    months = sorted({d.strftime("%Y-%m") for d in days})

    async def complete() -> list[dict[str, Any]] | None:
        bodies = []
        for month in months:
            answer = await month_of(client, token, instance_id, "5101", month)
            if answer.status_code != 200:
                return None
            bodies.append(answer.json())
        stored = sum(len(d["source_record_ids"]) for b in bodies for d in b["days"])  # 4 clock events a day
        return bodies if stored >= 4 * len(days) and bodies[0]["user"] is not None else None

    bodies = await eventually(complete, timeout=60)
    shown = [d for b in bodies for d in b["days"]]
    assert [d["date"] for d in shown] == [d.isoformat() for d in days]
    assert all(d["worked_s"] == DAY_WORKED for d in shown), shown
    assert all(d["flags"] == ["late_sync"] for d in shown), "sent days after: synced late, nothing else"
    assert all(len(d["source_record_ids"]) == 4 for d in shown)  # clock-in/out and the break, once each
    assert sum(b["total_worked_s"] for b in bodies) == len(days) * DAY_WORKED
    assert bodies[0]["user"] == "Ελένη Σαββίδου"
    record_id = shown[0]["source_record_ids"][0]
    one = await client.get(f"/v1/activity/records/{record_id}", headers={"Authorization": f"Bearer {token}"})
    assert one.status_code == 200 and one.json()["action"] == "clock_in" and one.json()["late"] is True

    # A correction: a new version; the terminal's stays version 1.
    fixed_day = days[3]
    fix = {
        "instance_id": instance_id,
        "pin": "5101",
        "date": fixed_day.isoformat(),
        "start": local(fixed_day, 8).isoformat(),
        "end": local(fixed_day, 17).isoformat(),
        "pauses": [{"start": local(fixed_day, 13).isoformat(), "end": local(fixed_day, 14).isoformat()}],
        "reason": "Se quedó a terminar la instalación",
    }
    auth = {"Authorization": f"Bearer {token}"}
    made = await client.post("/v1/activity/working-time/corrections", json=fix, headers=auth)
    assert made.status_code == 201, made.text
    assert (made.json()["version"], made.json()["worked_s"]) == (2, 8 * 3600)
    detail = await client.get(
        "/v1/activity/working-time/days",
        params={"instance_id": instance_id, "pin": "5101", "date": fixed_day.isoformat()},
        headers=auth,
    )
    versions = detail.json()["versions"]
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[0]["worked_s"] == DAY_WORKED and versions[0]["corrected_by"] is None
    assert (versions[1]["corrected_by"], versions[1]["reason"]) == ("usr-inspector", fix["reason"])

    # The exports' totals are the API's.
    month = fixed_day.strftime("%Y-%m")
    api = (await month_of(client, token, instance_id, "5101", month)).json()
    assert api["total_worked_s"] == sum(d["worked_s"] for d in api["days"])
    params = {"instance_id": instance_id, "pin": "5101", "month": month}
    exported = await client.get(
        "/v1/activity/working-time/export",
        params={**params, "format": "csv"},
        headers={**auth, "Accept-Language": "es"},
    )
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[-1][0] == "TOTAL" and int(rows[-1][5]) == api["total_worked_s"]
    assert [int(r[5]) for r in rows[1:-1]] == [d["worked_s"] for d in api["days"]]
    pdf = await client.get(
        "/v1/activity/working-time/export",
        params={**params, "format": "pdf"},
        headers={**auth, "Accept-Language": "es"},
    )
    assert pdf.status_code == 200
    assert pdf.headers["x-content-sha256"] == hashlib.sha256(exported.content).hexdigest()
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages).replace("\n", "")
    assert pdf.headers["x-content-sha256"] in text
    assert f"{api['total_worked_s']} s" in text
    assert "Σαββίδου" in text

    # Another partner: not their worker.
    rival = token_for(OTHER_PARTNER)
    assert (await month_of(client, rival, instance_id, "5101", month)).status_code == 404
    assert (
        await client.get(
            "/v1/activity/working-time/export", params=params, headers={"Authorization": f"Bearer {rival}"}
        )
    ).status_code == 404

    # The map: the day's positions of the terminal, in time order, and its last position.
    track = await client.get(
        f"/v1/activity/terminals/{terminals[0].serial}/positions", params={"date": days[0].isoformat()}, headers=auth
    )
    assert track.status_code == 200, track.text
    points = track.json()["items"]
    assert len(points) == 8 and [p["occurred_at"] for p in points] == sorted(p["occurred_at"] for p in points)
    assert points[0]["gap_before_s"] is None and points[1]["gap_before_s"] == 3600
    terminal = await client.get(f"/v1/activity/terminals/{terminals[0].serial}", headers=auth)
    last = terminal.json()["last_position"]
    assert last is not None and datetime.fromisoformat(last["occurred_at"]) == local(days[-1], 16)
    hidden = await client.get(
        f"/v1/activity/terminals/{terminals[0].serial}/positions",
        params={"date": days[0].isoformat()},
        headers={"Authorization": f"Bearer {rival}"},
    )
    assert hidden.status_code == 404


async def test_retention_drops_whole_months_of_the_record_and_never_keeps_it_under_four_years(
    mongo: Any, database_name: str
) -> None:
    with pytest.raises(ValidationError):
        Settings(working_time_retention_days=365)  # the record is kept four years, whatever telemetry is
    store = MongoFieldStore(mongo[database_name])
    today = date(2026, 12, 2)
    old, kept = datetime(2022, 11, 15, 8, tzinfo=UTC), datetime(2022, 12, 15, 8, tzinfo=UTC)
    records = [
        ActivityRecord(str(uuid.uuid4()), "SN-RET", "ins-ret", PARTNER, "clock_in", at, at, pin="77")
        for at in (old, kept)
    ]
    assert await store.add_clock_events(records) == 2
    commands = FieldCommands(store, FieldQueries(store, store, None))  # type: ignore[arg-type]
    assert await commands.enforce_retention(today, 4 * 365 + 1) == 1
    names = await mongo[database_name].list_collection_names()
    assert not any(n.startswith("wt_events_202211") for n in names)
    assert any(n.startswith("wt_events_202212") for n in names)
