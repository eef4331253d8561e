"""The remote-action trail across two services, on the real Kafka and FerretDB: a partner clears a
terminal's session and releases its license in the instances service; a simulator terminal
(the simulator's own code: the configuration fetch and the re-login it queues) reacts through the
same HTTP calls a real terminal makes; the activity service shows each action requested →
delivered → applied, with the times of the terminal's events on its timeline."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import jwt
import pytest
from pymongo import MongoClient

from activity.bootstrap import build_app as build_activity
from activity.config import Settings as ActivitySettings
from activity.entrypoints.simulator import SimTerminal, check_session, make_event
from instances.bootstrap import build_app as build_instances
from instances.config import Settings as InstancesSettings
from servicekit.auth import generate_key_pair
from servicekit.settings import PlatformSettings
from servicekit.testing import KafkaProbe, eventually, started

pytestmark = pytest.mark.integration

PARTNER = "ptn-acme"
CONFIG_URL = "/v1/device/configuration"
OVERDUE_S = 2


@pytest.fixture
async def services(
    platform: PlatformSettings, database_name: str
) -> AsyncIterator[tuple[httpx2.AsyncClient, httpx2.AsyncClient]]:
    instances_app = build_instances(
        InstancesSettings(
            mongo_database=f"{database_name}_i",
            consumer_group=f"instances-{uuid.uuid4().hex[:8]}",
            outbox_scan_seconds=0.2,
            impersonation_key=generate_key_pair()[0],
            platform=platform,
        )
    )
    instances_transport = httpx2.ASGITransport(app=instances_app)
    activity_app = build_activity(
        ActivitySettings(
            mongo_database=database_name,
            consumer_group=f"activity-{uuid.uuid4().hex[:8]}",
            action_overdue_s=OVERDUE_S,
            platform=platform,
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


async def test_clear_session_and_release_license_walk_requested_delivered_applied_with_a_simulator_terminal(
    services: tuple[httpx2.AsyncClient, httpx2.AsyncClient], token_for: Callable[..., str]
) -> None:
    instances, activity = services
    auth = {"Authorization": f"Bearer {token_for(PARTNER, user_id='usr-ana')}"}
    rival = {"Authorization": f"Bearer {token_for(f'ptn-rival-{uuid.uuid4().hex[:8]}', user_id='usr-eve')}"}
    iid = await new_instance(instances, auth)
    serial, silent = f"SR{uuid.uuid4().hex[:8]}".upper(), f"SQ{uuid.uuid4().hex[:8]}".upper()
    people = [
        {"user_name": "Ana", "email": "ana@example.com", "pin": "4821", "serial": serial},
        {"user_name": "Bea", "email": "bea@example.com", "pin": "5555", "serial": silent},
    ]
    added = await instances.post(f"/v1/instances/{iid}/licenses", headers=auth, json={"licenses": people})
    assert added.status_code == 201, added.text
    key = (await instances.post(f"/v1/instances/{iid}/ingest-key", headers=auth)).json()["ingest_key"]

    rng = random.Random(7)  # noqa: S311  (simulated data)
    terminal = SimTerminal(serial, "4821", "Zebra", "TC21")
    await check_session(instances, CONFIG_URL, key, terminal, first=True)
    started_epoch = terminal.seen_epoch
    assert started_epoch >= 0

    async def send(action: str, **overrides: Any) -> dict[str, Any]:
        event = {**make_event(terminal, action, datetime.now(UTC), rng), **overrides}
        response = await activity.post("/v1/ingest/events", json={"events": [event]}, headers={"X-Ingest-Key": key})
        assert response.status_code == 202, response.text
        return event

    async def admitted() -> bool:  # the key reaches the activity service through Kafka
        event = make_event(terminal, terminal.next_action(rng), datetime.now(UTC), rng)
        response = await activity.post("/v1/ingest/events", json={"events": [event]}, headers={"X-Ingest-Key": key})
        return response.status_code == 202

    await eventually(admitted)  # the terminal logs in

    # The partner clears the working terminal's session, and the one of a terminal that never answers.
    for target in (serial, silent):
        cleared = await instances.post(f"/v1/instances/{iid}/clear-session", headers=auth, json={"serial": target})
        assert cleared.status_code == 200, cleared.text

    async def actions_of(who: str, headers: dict[str, str] = auth) -> list[dict[str, Any]]:
        response = await activity.get(f"/v1/activity/terminals/{who}/actions", headers=headers)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def requested() -> list[dict[str, Any]] | None:
        items = await actions_of(serial)
        return items or None

    (first,) = await eventually(requested)
    assert (first["kind"], first["state"], first["requested_by"]) == ("session_clear", "requested", "usr-ana")
    assert (first["instance_id"], first["serial"], first["delivered_at"], first["applied_at"]) == (
        iid,
        serial,
        None,
        None,
    )

    # The terminal fetches its configuration, sees the new epoch and logs in again, as the simulator does.
    async def sees_new_epoch() -> bool:
        return await check_session(instances, CONFIG_URL, key, terminal, first=False)

    await eventually(sees_new_epoch)
    assert terminal.seen_epoch > started_epoch
    sent = [await send(terminal.next_action(rng)) for _ in range(3)]
    assert [e["action"] for e in sent] == ["session_expired", "config_fetched", "login"]
    assert sent[2]["details"] == {"session_epoch": terminal.seen_epoch}

    async def applied() -> dict[str, Any] | None:
        items = await actions_of(serial)
        return items[0] if items and items[0]["state"] == "applied" else None

    done = await eventually(applied)
    parse = datetime.fromisoformat
    assert parse(done["requested_at"]) <= parse(done["delivered_at"]) <= parse(done["applied_at"])
    assert done["overdue"] is False

    # The times are those of the terminal's events on its timeline.
    timeline = (
        await activity.get("/v1/activity/records", params={"serial": serial, "limit": 200}, headers=auth)
    ).json()["items"]
    at = {r["action"]: parse(r["occurred_at"]) for r in timeline}
    assert parse(done["delivered_at"]) == at["session_expired"]
    assert parse(done["applied_at"]) == at["login"]
    assert "session.cleared" in at

    # Release the license from the terminal's login record; the terminal then stops using that seat.
    login = next(r for r in timeline if r["action"] == "login")
    released = await activity.post(
        f"/v1/activity/records/{login['id']}/release-license", json={"reason": "Terminal handed in"}, headers=auth
    )
    assert released.status_code == 200, released.text

    async def release_requested() -> dict[str, Any] | None:
        items = await actions_of(serial)
        return items[0] if items and items[0]["kind"] == "license_release" else None

    release = await eventually(release_requested)
    assert (release["state"], release["license_id"]) == ("requested", added.json()["license_ids"][0])
    await send("logout")  # still with the released PIN: it has heard from the platform
    await send("login", pin=None)

    async def release_applied() -> dict[str, Any] | None:
        items = await actions_of(serial)
        return items[0] if items and items[0]["state"] == "applied" else None

    release = await eventually(release_applied)
    assert parse(release["delivered_at"]) < parse(release["applied_at"])
    assert [a["kind"] for a in await actions_of(serial)] == ["license_release", "session_clear"], "newest first"

    # The instance view: the clear that no terminal picked up is overdue, the one applied is not.
    async def overdue() -> list[dict[str, Any]] | None:
        response = await activity.get(
            "/v1/activity/actions", params={"instance_id": iid, "overdue": "true"}, headers=auth
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items or None

    (late,) = await eventually(overdue, timeout=OVERDUE_S + 30)
    assert (late["serial"], late["kind"], late["state"], late["overdue"]) == (
        silent,
        "session_clear",
        "requested",
        True,
    )
    every = (await activity.get("/v1/activity/actions", params={"instance_id": iid}, headers=auth)).json()["items"]
    assert sorted((a["serial"], a["kind"], a["state"]) for a in every) == sorted(
        [
            (serial, "session_clear", "applied"),
            (serial, "license_release", "applied"),
            (silent, "session_clear", "requested"),
        ]
    )
    applied_only = await activity.get(
        "/v1/activity/actions", params={"instance_id": iid, "state": "applied", "limit": 1}, headers=auth
    )
    assert len(applied_only.json()["items"]) == 1
    assert applied_only.json()["next_cursor"], "paged"
    more = await activity.get(
        "/v1/activity/actions",
        params={"instance_id": iid, "state": "applied", "limit": 1, "cursor": applied_only.json()["next_cursor"]},
        headers=auth,
    )
    assert {a["kind"] for a in [*applied_only.json()["items"], *more.json()["items"]]} == {
        "session_clear",
        "license_release",
    }

    # Another partner sees none of it.
    assert (await activity.get(f"/v1/activity/terminals/{serial}/actions", headers=rival)).status_code == 404
    assert (await activity.get("/v1/activity/actions", params={"instance_id": iid}, headers=rival)).status_code == 404
    assert (await activity.get("/v1/activity/actions", headers=rival)).json()["items"] == []
    stamp = datetime.now(UTC) - timedelta(days=1)
    assert parse(done["requested_at"]) > stamp


async def test_an_impersonation_is_requested_on_the_terminal_and_moved_on_by_the_panels_events(
    services: tuple[httpx2.AsyncClient, httpx2.AsyncClient], token_for: Callable[..., str], kafka: KafkaProbe
) -> None:
    instances, activity = services
    auth = {"Authorization": f"Bearer {token_for(PARTNER, user_id='usr-ana')}"}
    rival = {"Authorization": f"Bearer {token_for(f'ptn-rival-{uuid.uuid4().hex[:8]}', user_id='usr-eve')}"}
    iid = await new_instance(instances, auth)
    serial = f"SP{uuid.uuid4().hex[:8]}".upper()
    person = {"user_name": "Ana", "email": "ana@example.com", "pin": "4821", "serial": serial}
    added = await instances.post(f"/v1/instances/{iid}/licenses", headers=auth, json={"licenses": [person]})
    assert added.status_code == 201, added.text
    (license_id,) = added.json()["license_ids"]
    key = (await instances.post(f"/v1/instances/{iid}/ingest-key", headers=auth)).json()["ingest_key"]

    granted = await instances.post(
        f"/v1/instances/{iid}/licenses/{license_id}/impersonate", headers=auth, json={"reason": "Customer called"}
    )
    assert granted.status_code == 200, granted.text
    grant_id = jwt.decode(granted.json()["token"], options={"verify_signature": False})["jti"]

    async def actions_of(who: str) -> list[dict[str, Any]] | None:
        response = await activity.get(f"/v1/activity/terminals/{who}/actions", headers=auth)
        if response.status_code == 404:  # the terminal is known once the license event arrives
            return None
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items or None

    async def requested() -> list[dict[str, Any]] | None:
        return await actions_of(serial)

    (action,) = await eventually(requested)
    assert (action["id"], action["kind"], action["state"], action["requested_by"]) == (
        grant_id, "impersonation", "requested", "usr-ana",
    )  # fmt: skip
    assert (action["instance_id"], action["serial"], action["license_id"]) == (iid, serial, license_id)
    assert (action["delivered_at"], action["applied_at"], action["expired"], action["overdue"]) == (
        None, None, False, False,
    )  # fmt: skip
    parse = datetime.fromisoformat
    assert abs(parse(action["requested_at"]) - datetime.now(UTC)) < timedelta(minutes=1)

    # The same request delivered again by Kafka makes no second action.
    (record,) = [
        r
        for r in await kafka.read_all("license.impersonated", until=lambda rs: any(r.key == iid.encode() for r in rs))
        if r.key == iid.encode()
    ]
    await kafka.send("license.impersonated", record.value, key=record.key, headers=record.headers)

    # The WDS panel reports the session it opened with the grant, through the same ingest endpoint
    # (another serial than the terminal's: the grant id is what names the action).
    panel_serial = f"WEB{uuid.uuid4().hex[:8]}".upper()

    async def panel(action: str, at: datetime, grant: str = grant_id) -> int:
        event = {
            "event_id": str(uuid.uuid4()),
            "serial": panel_serial,
            "pin": "4821",
            "action": action,
            "occurred_at": at.isoformat(),
            "details": {"impersonation_id": grant},
        }
        response = await activity.post("/v1/ingest/events", json={"events": [event]}, headers={"X-Ingest-Key": key})
        return response.status_code

    now = datetime.now(UTC)  # after the request; to the millisecond, as stored
    start = now.replace(microsecond=now.microsecond // 1000 * 1000) + timedelta(milliseconds=1)

    async def started() -> bool:  # the key reaches the activity service through Kafka
        return await panel("impersonation_started", start) == 202

    await eventually(started)
    assert await panel("impersonation_started", start, grant="imp-unknown") == 202  # another grant: nothing

    async def delivered() -> dict[str, Any] | None:
        items = await actions_of(serial)
        return items[0] if items and items[0]["state"] == "delivered" else None

    action = await eventually(delivered)
    assert parse(action["delivered_at"]) == start
    end = start + timedelta(minutes=4)
    assert await panel("impersonation_ended", end) == 202

    async def applied() -> dict[str, Any] | None:
        items = await actions_of(serial)
        return items[0] if items and items[0]["state"] == "applied" else None

    action = await eventually(applied)
    assert (parse(action["delivered_at"]), parse(action["applied_at"])) == (start, end)

    async def one_after_the_redelivery() -> list[dict[str, Any]] | None:
        every = await activity.get("/v1/activity/actions", params={"instance_id": iid}, headers=auth)
        items: list[dict[str, Any]] = every.json()["items"]
        return items if len(items) == 1 and items[0]["state"] == "applied" else None

    await asyncio.sleep(2)  # let the redelivered request be consumed
    (only,) = await eventually(one_after_the_redelivery)
    assert only["id"] == grant_id

    # Another partner sees none of it.
    assert (await activity.get(f"/v1/activity/terminals/{serial}/actions", headers=rival)).status_code == 404
    assert (await activity.get("/v1/activity/actions", params={"instance_id": iid}, headers=rival)).status_code == 404
    assert (await activity.get("/v1/activity/actions", headers=rival)).json()["items"] == []
