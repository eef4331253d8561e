"""Two partners' terminals with the same serial, through the gateway's public API with the real
services behind it: the other partner's telemetry, license binding and release, and session
clearing for that serial leave our terminal, its license, the terminal list and the timeline as
they were, and show the other partner none of our ids. The serial is the same in any letter case."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from servicekit.testing import eventually

from .conftest import Stack, add_user, new_company, provisioned_instance

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]


@dataclass
class Partner:
    token: str
    instance_id: str
    license_id: str
    ingest_key: str


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def partner_with_terminal(stack: Stack, serial: str | None) -> Partner:
    """A partner's instance with a license (PIN 4821) bound to `serial` as the partner typed it, and an ingest key."""
    token = await stack.token(await add_user(stack, unique("usr"), "partner", (unique("ptn"),)))
    async with stack.client(token) as api:
        instance_id = await provisioned_instance(api, await new_company(api))
        person = {"user_name": "Ana", "email": "ana@example.com", "pin": "4821", "serial": serial}
        added = await api.post(f"/api/v1/instances/{instance_id}/licenses", json={"licenses": [person]})
        assert added.status_code == 201, added.text
        key = (await api.post(f"/api/v1/instances/{instance_id}/ingest-key")).json()["ingest_key"]
    return Partner(token, instance_id, added.json()["license_ids"][0], key)


async def send(stack: Stack, partner: Partner, serial: str, action: str, minutes_ago: float, pin: str = "4821") -> None:
    event = {
        "event_id": str(uuid.uuid4()),
        "serial": serial,
        "pin": pin,
        "action": action,
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat(),
        "battery_pct": 90 if action == "clock_in" else 3,
    }
    async with stack.client() as terminal:

        async def admitted() -> bool:  # the key reaches the activity service through Kafka
            sent = await terminal.post(
                "/api/v1/ingest/events", json={"events": [event]}, headers={"X-Ingest-Key": partner.ingest_key}
            )
            return sent.status_code == 202

        await eventually(admitted)


async def view(stack: Stack, partner: Partner, serial: str) -> dict[str, Any]:
    """What the partner sees of the serial: the terminal, its entries in the list, its timeline."""
    async with stack.client(partner.token) as api:
        terminal = await api.get(f"/api/v1/activity/terminals/{serial}")
        assert terminal.status_code in (200, 404), terminal.text
        listed = (await api.get("/api/v1/activity/terminals", params={"limit": 100})).json()["items"]
        timeline = await api.get("/api/v1/activity/records", params={"serial": serial})
        assert timeline.status_code == 200, timeline.text
    return {
        "terminal": terminal.json() if terminal.status_code == 200 else {},
        "listed": [t for t in listed if t["serial"] == serial.upper()],
        "timeline": timeline.json()["items"],
    }


async def test_a_serial_is_one_terminal_in_any_letter_case(stack: Stack) -> None:
    lower = unique("sr").lower()
    ours = await partner_with_terminal(stack, lower)  # bound as the partner typed it
    await send(stack, ours, lower.title(), "clock_in", 5)  # reported in another spelling

    async def settled() -> dict[str, Any] | None:
        seen = await view(stack, ours, lower)
        return seen if seen["terminal"].get("license_id") and len(seen["timeline"]) >= 2 else None

    seen = await eventually(settled)
    assert (seen["terminal"]["serial"], seen["terminal"]["license_id"]) == (lower.upper(), ours.license_id)
    assert seen["listed"] == [seen["terminal"]], "one terminal, not one per spelling"
    for spelling in (lower.upper(), lower.title()):
        assert await view(stack, ours, spelling) == seen, spelling


async def test_another_partner_using_our_serial_changes_and_sees_nothing_of_ours(stack: Stack) -> None:
    canonical = unique("SR").upper()
    ours = await partner_with_terminal(stack, canonical)
    await send(stack, ours, canonical, "clock_in", 5)

    async def settled() -> dict[str, Any] | None:  # telemetry and the license binding have arrived
        seen = await view(stack, ours, canonical)
        return seen if seen["terminal"].get("license_id") and len(seen["timeline"]) >= 2 else None

    before = await eventually(settled)
    assert before["terminal"]["license_id"] == ours.license_id
    assert before["terminal"]["instance_id"] == ours.instance_id
    assert before["listed"] == [before["terminal"]]

    # The other partner reports newer telemetry for the same serial with its own key, then binds
    # a license of its own to it, releases that from its record and clears its terminals' sessions.
    theirs = await partner_with_terminal(stack, None)
    await send(stack, theirs, canonical, "tamper", 1, pin="5555")

    async def theirs_seen() -> dict[str, Any] | None:
        seen = await view(stack, theirs, canonical)
        return seen if seen["terminal"] and seen["timeline"] else None

    their_view = await eventually(theirs_seen)
    assert their_view["terminal"]["license_id"] is None, "our license is not theirs to see"
    async with stack.client(theirs.token) as api:
        person = {"user_name": "Eve", "email": "eve@example.com", "pin": "5555", "serial": canonical}
        added = await api.post(f"/api/v1/instances/{theirs.instance_id}/licenses", json={"licenses": [person]})
        assert added.status_code == 201, "their own license may bind the serial: it is their own terminal"
    their_license = added.json()["license_ids"][0]

    async def theirs_bound() -> dict[str, Any] | None:
        seen = await view(stack, theirs, canonical)
        return seen if seen["terminal"].get("license_id") == their_license else None

    their_view = await eventually(theirs_bound)
    record = next(r for r in their_view["timeline"] if r["action"] == "tamper")
    async with stack.client(theirs.token) as api:
        released = await api.post(f"/api/v1/activity/records/{record['id']}/release-license", json={})
        assert released.status_code == 200, released.text
        cleared = await api.post(f"/api/v1/instances/{theirs.instance_id}/clear-session", json={})
        assert cleared.status_code == 200, cleared.text
        mine_by_id = await api.get(f"/api/v1/activity/records/{before['timeline'][0]['id']}")
        assert mine_by_id.status_code == 404

    async def theirs_done() -> dict[str, Any] | None:
        seen = await view(stack, theirs, canonical)
        actions = {r["action"] for r in seen["timeline"]}
        done = {"license.released", "session.cleared"} <= actions and seen["terminal"].get("license_id", 0) is None
        return seen if done else None

    their_view = await eventually(theirs_done)
    assert their_view["terminal"]["instance_id"] == theirs.instance_id
    assert their_view["terminal"]["last_action"] == "tamper"
    assert their_view["listed"] == [their_view["terminal"]]
    assert {r["instance_id"] for r in their_view["timeline"]} == {theirs.instance_id}
    shown = json.dumps(their_view)
    assert ours.license_id not in shown and ours.instance_id not in shown

    after = await view(stack, ours, canonical)
    assert after == before, "our terminal, its license, the list and the timeline are as they were"


async def instance_with_key(stack: Stack, token: str) -> tuple[str, str]:
    """Another instance of the token's partner (no licenses) and its ingest key."""
    async with stack.client(token) as api:
        instance_id = await provisioned_instance(api, await new_company(api), name="Taller 2")
        key = await api.post(f"/api/v1/instances/{instance_id}/ingest-key")
        assert key.status_code in (200, 201), key.text
    return instance_id, key.json()["ingest_key"]


async def post_events(stack: Stack, ingest_key: str, events: list[dict[str, Any]]) -> None:
    async with stack.client() as terminal:

        async def admitted() -> bool:  # the key reaches the activity service through Kafka
            sent = await terminal.post(
                "/api/v1/ingest/events", json={"events": events}, headers={"X-Ingest-Key": ingest_key}
            )
            return sent.status_code == 202

        await eventually(admitted)


async def test_the_same_terminal_event_id_from_another_partner_or_instance_is_kept_and_counted(stack: Stack) -> None:
    """Terminals make their own event ids: partners' and instances' events with the same id, serial
    and time are each stored, shown and counted; a retried batch is stored and counted once."""
    serial = unique("SE").upper()
    ours = await partner_with_terminal(stack, serial)
    second_instance, second_key = await instance_with_key(stack, ours.token)
    theirs = await partner_with_terminal(stack, None)
    now = datetime.now(UTC)
    event = {"event_id": str(uuid.uuid4()), "serial": serial, "pin": "4821", "action": "clock_in",
             "occurred_at": (now - timedelta(minutes=5)).isoformat()}  # fmt: skip
    for key in (ours.ingest_key, theirs.ingest_key, second_key, ours.ingest_key):  # the last one: a retry
        await post_events(stack, key, [event])
    # Last on the serial's partition: once it is stored and counted, so is everything before it.
    marker = {**event, "event_id": str(uuid.uuid4()), "action": "clock_out", "occurred_at": now.isoformat()}
    await post_events(stack, ours.ingest_key, [marker])
    period = {"from": (now - timedelta(minutes=5)).date().isoformat(), "to": now.date().isoformat()}

    async def settled(partner: Partner, telemetry: int, operations: int) -> tuple[list[Any], dict[str, Any]] | None:
        async with stack.client(partner.token) as api:
            timeline = await api.get("/api/v1/activity/records", params={"serial": serial, "kind": "telemetry"})
            rows = await api.get("/api/v1/reports/operations/rows", params=period)
        assert timeline.status_code == rows.status_code == 200, (timeline.text, rows.text)
        records, counted = timeline.json()["items"], {r["instance_id"]: r["by_action"] for r in rows.json()["items"]}
        return (
            (records, counted) if len(records) >= telemetry and sum(map(len, counted.values())) >= operations else None
        )

    our_records, our_counts = await eventually(lambda: settled(ours, 3, 3), timeout=60)
    their_records, their_counts = await eventually(lambda: settled(theirs, 1, 1), timeout=60)

    assert sorted((r["instance_id"], r["action"]) for r in our_records) == sorted(
        [(ours.instance_id, "clock_in"), (second_instance, "clock_in"), (ours.instance_id, "clock_out")]
    ), "the retry is stored once, the second instance's event as well"
    assert [r for r in our_records if r["event_id"] == event["event_id"] and r["instance_id"] == ours.instance_id]
    assert [(r["instance_id"], r["event_id"]) for r in their_records] == [(theirs.instance_id, event["event_id"])]
    assert our_counts == {
        ours.instance_id: {"clock_in": 1, "clock_out": 1}, second_instance: {"clock_in": 1},
    }, "counted once per instance, the retry not again"  # fmt: skip
    assert their_counts == {theirs.instance_id: {"clock_in": 1}}
    async with stack.client(theirs.token) as api:
        for record in our_records:
            assert (await api.get(f"/api/v1/activity/records/{record['id']}")).status_code == 404
