"""The remote-action trail on the real Kafka and FerretDB: a redelivered request makes one action,
an instance-wide clear is one action per terminal of the instance, the terminals' own telemetry
moves each on, and every read is the partner's own."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI
from pymongo import AsyncMongoClient

from activity.adapters.remote_actions_mongo import ACTIONS, OPEN_ACTIONS, SIGHTINGS, MongoRemoteActionStore
from activity.bootstrap import build_app
from activity.config import Settings
from activity.domain.remote_actions import Observed
from contracts import envelope_for
from contracts.events.common import Actor
from contracts.events.instances import IngestKeyRotated, SessionCleared
from servicekit.settings import PlatformSettings
from servicekit.testing import KafkaProbe, eventually, started

pytestmark = pytest.mark.integration

PARTNER = "ptn-acme"
WHO = Actor(user_id="usr-ana", role="partner")


@pytest.fixture
async def activity(platform: PlatformSettings, database_name: str) -> AsyncIterator[tuple[FastAPI, httpx2.AsyncClient]]:
    settings = Settings(
        mongo_database=database_name,
        consumer_group=f"activity-{uuid.uuid4().hex[:8]}",
        action_overdue_s=3600,
        platform=platform,
    )
    app = build_app(settings)
    async with started(app):
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://activity") as client:
            yield app, client


async def test_a_redelivered_instance_wide_clear_is_one_action_per_terminal_moved_on_by_each(
    activity: tuple[FastAPI, httpx2.AsyncClient],
    kafka: KafkaProbe,
    token_for: Callable[..., str],
    platform: PlatformSettings,
    database_name: str,
) -> None:
    _, client = activity
    auth = {"Authorization": f"Bearer {token_for(PARTNER)}"}
    instance_id = f"ins-{uuid.uuid4().hex[:10]}"
    key = f"pik_{instance_id}.{uuid.uuid4().hex}{uuid.uuid4().hex}"
    rotated = envelope_for(
        IngestKeyRotated(
            instance_id=instance_id,
            partner_id=PARTNER,
            key_sha256=hashlib.sha256(key.encode()).hexdigest(),
            rotated_by=WHO,
        ),
        source="instances",
    )
    await kafka.send("instance.ingest_key_rotated", rotated.to_json_bytes(), key=instance_id.encode())
    serials = [f"SN{uuid.uuid4().hex[:6].upper()}{n}" for n in range(2)]

    def event(serial: str, action: str, minutes: float = 0, **details: Any) -> dict[str, Any]:
        at = datetime.now(UTC) + timedelta(minutes=minutes)
        return {
            "event_id": str(uuid.uuid4()),
            "serial": serial,
            "pin": "4821",
            "action": action,
            "occurred_at": at.isoformat(),
            "details": details,
        }

    async def ingest(events: list[dict[str, Any]]) -> bool:
        response = await client.post("/v1/ingest/events", json={"events": events}, headers={"X-Ingest-Key": key})
        return response.status_code == 202

    before = [event(s, "login", -1, session_epoch=0) for s in serials]
    await eventually(lambda: ingest(before))

    async def known() -> bool:
        listed = (await client.get("/v1/activity/terminals", headers=auth)).json()["items"]
        return {t["serial"] for t in listed} >= set(serials)

    await eventually(known)
    cleared = envelope_for(
        SessionCleared(instance_id=instance_id, partner_id=PARTNER, serial=None, session_epoch=1, cleared_by=WHO),
        source="instances",
    )
    for _ in range(2):  # the outbox relay may publish an event again after a crash
        await kafka.send("session.cleared", cleared.to_json_bytes(), key=instance_id.encode())

    async def listed() -> list[dict[str, Any]] | None:
        response = await client.get("/v1/activity/actions", params={"instance_id": instance_id}, headers=auth)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items if len(items) >= 2 else None

    actions = await eventually(listed)
    assert sorted((a["serial"], a["state"], a["kind"]) for a in actions) == [
        (s, "requested", "session_clear") for s in sorted(serials)
    ]
    # One terminal logs in with the new epoch (sent twice: a retried batch); the other only an old one.
    fresh = [event(serials[0], "config_fetched", session_epoch=1), event(serials[0], "login", 0.01, session_epoch=1)]
    assert await ingest(fresh)
    assert await ingest(fresh)
    assert await ingest([event(serials[1], "login", session_epoch=0)])

    async def moved() -> dict[str, str] | None:
        items = (await client.get("/v1/activity/actions", params={"instance_id": instance_id}, headers=auth)).json()[
            "items"
        ]
        states = {a["serial"]: a["state"] for a in items}
        return states if states.get(serials[0]) == "applied" else None

    assert await eventually(moved) == {serials[0]: "applied", serials[1]: "requested"}
    by_state = await client.get(
        "/v1/activity/actions", params={"instance_id": instance_id, "state": "requested"}, headers=auth
    )
    assert [a["serial"] for a in by_state.json()["items"]] == [serials[1]]
    not_yet = await client.get(
        "/v1/activity/actions", params={"instance_id": instance_id, "overdue": "true"}, headers=auth
    )
    assert not_yet.json()["items"] == [], "an hour has not passed"
    rival = {"Authorization": f"Bearer {token_for(f'ptn-rival-{uuid.uuid4().hex[:8]}')}"}
    assert (await client.get(f"/v1/activity/terminals/{serials[0]}/actions", headers=rival)).status_code == 404
    assert (
        await client.get("/v1/activity/actions", params={"instance_id": instance_id}, headers=rival)
    ).status_code == 404

    # Stored once each; only the action still waiting for its terminal is in the open collection.
    async with AsyncMongoClient(platform.mongo_url.get_secret_value(), tz_aware=True) as mongo:
        db = mongo[database_name]
        assert await db[ACTIONS].count_documents({"instance_id": instance_id}) == 2

        async def closed() -> bool:
            return [d["serial"] async for d in db[OPEN_ACTIONS].find({"instance_id": instance_id})] == [serials[1]]

        await eventually(closed)


async def test_sightings_are_kept_by_grant_dropped_once_read_and_pruned_by_age(
    platform: PlatformSettings, database_name: str
) -> None:
    now = datetime.now(UTC)

    def seen(grant: str) -> Observed:
        return Observed("PANEL-1", PARTNER, "impersonation_started", None, now, now, grant_id=grant)

    async with AsyncMongoClient(platform.mongo_url.get_secret_value(), tz_aware=True) as mongo:
        store = MongoRemoteActionStore(mongo[database_name])
        await store.sighted({"imp-a": [seen("imp-a")], "imp-b": [seen("imp-b")]})
        await store.sighted({"imp-a": [seen("imp-a")]})  # a second event of the same grant
        assert [e.grant_id for e in await store.sightings("imp-a")] == ["imp-a", "imp-a"]
        await store.forget_sightings("imp-a")
        assert await store.sightings("imp-a") == []
        assert await store.prune_sightings(now - timedelta(minutes=1)) == 0  # imp-b is younger
        assert await store.prune_sightings(datetime.now(UTC) + timedelta(seconds=1)) == 1
        assert await mongo[database_name][SIGHTINGS].count_documents({}) == 0
