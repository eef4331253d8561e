"""The activity use cases' refusals and answers, on in-memory fakes (`activity.service_layer.testing`):
what each raises is what the HTTP edge answers, with no route deciding."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from activity.domain.model import ActivityRecord, InvalidWindow, RecordKind, Terminal
from activity.service_layer.commands import RejectedEvents, ReleaseRefused
from activity.service_layer.ports import IngestKey, InstancesUnavailable, Released
from activity.service_layer.queries import RecordSearch
from activity.service_layer.testing import ActivityFakes, FakeInstances
from contracts import envelope_for
from contracts.events.common import Actor
from contracts.events.instances import IngestKeyRotated
from contracts.events.licenses import LicenseReleased
from servicekit.errors import InvalidInput, NotFound

pytestmark = pytest.mark.unit

NOW = datetime(2024, 3, 15, 12, 0, tzinfo=UTC)
PARTNER, OTHER_PARTNER = "ptn-acme", "ptn-rival"
INSTANCE = "ins-001"
INGEST_KEY = f"pik_{INSTANCE}.{'0123456789abcdef' * 4}"
WHO = Actor(user_id="usr-ana", role="partner")


def a_record(**overrides: Any) -> ActivityRecord:
    values: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "serial": "SN-0001",
        "instance_id": INSTANCE,
        "partner_id": PARTNER,
        "action": "clock_in",
        "occurred_at": NOW - timedelta(hours=1),
        "received_at": NOW - timedelta(hours=1),
        "pin": "4821",
    }
    return ActivityRecord(**(values | overrides))


def stored(fakes: ActivityFakes, **overrides: Any) -> ActivityRecord:
    record = a_record(**overrides)
    fakes.records.by_id[record.id] = record
    return record


def a_terminal(serial: str, last_seen: datetime, partner_id: str = PARTNER) -> Terminal:
    return Terminal(serial, partner_id, INSTANCE, "4821", last_seen, "clock_in")


# ---------------------------------------------------------------------- queries


@pytest.mark.parametrize("asked", [RecordSearch(PARTNER), RecordSearch(PARTNER, serial="SN-0001", pin="4821")])
async def test_search_needs_exactly_one_of_serial_or_pin(asked: RecordSearch) -> None:
    with pytest.raises(InvalidInput) as refused:
        await ActivityFakes().queries.search(asked, NOW)
    assert (refused.value.status, refused.value.detail) == (422, "Give exactly one of serial or pin.")
    assert refused.value.errors == [
        {
            "field": "serial",
            "message": "exactly one of serial or pin",
            "code": "serial_or_pin",
            "params": {},
            "in": "query",
        }
    ]


async def test_search_refuses_a_window_naming_from_in_the_query() -> None:
    asked = RecordSearch(PARTNER, pin="4821", start=NOW, end=NOW - timedelta(hours=1))
    with pytest.raises(InvalidWindow) as refused:
        await ActivityFakes().queries.search(asked, NOW)
    assert isinstance(refused.value, InvalidInput) and refused.value.status == 422
    assert refused.value.detail == "from must be before to"
    assert [(e["field"], e["in"], e["code"]) for e in refused.value.errors] == [("from", "query", "window_order")]


async def test_search_answers_the_window_searched_the_last_24_hours_by_default() -> None:
    fakes = ActivityFakes()
    mine = stored(fakes)
    stored(fakes, partner_id=OTHER_PARTNER)
    found = await fakes.queries.search(RecordSearch(PARTNER, serial="sn-0001"), NOW)
    assert found.items == [mine]
    assert (found.window.start, found.window.end) == (NOW - timedelta(hours=24), NOW)
    assert found.next_cursor is None


async def test_a_record_of_another_partner_or_none_at_all_is_not_found() -> None:
    fakes = ActivityFakes()
    theirs = stored(fakes, partner_id=OTHER_PARTNER)
    for record_id in (theirs.id, "nope"):
        with pytest.raises(NotFound) as missing:
            await fakes.queries.record(record_id, PARTNER)
        assert (missing.value.status, missing.value.detail) == (404, f"No activity record {record_id}.")
    assert await fakes.queries.record(theirs.id, OTHER_PARTNER) == theirs


async def test_a_terminal_is_found_by_any_spelling_of_its_serial_and_named_canonically_when_missing() -> None:
    fakes = ActivityFakes()
    state = a_terminal("SN-00A1", NOW)
    fakes.terminals.states[(PARTNER, "SN-00A1")] = state
    assert await fakes.queries.terminal(PARTNER, "sn-00a1") == state
    with pytest.raises(NotFound) as missing:
        await fakes.queries.terminal(OTHER_PARTNER, "sn-00a1")
    assert missing.value.detail == "No terminal SN-00A1."


async def test_latest_lists_the_partners_terminals_last_seen_first() -> None:
    fakes = ActivityFakes()
    older, newer = a_terminal("SN-0001", NOW - timedelta(days=1)), a_terminal("SN-0002", NOW)
    fakes.terminals.states |= {(PARTNER, "SN-0001"): older, (PARTNER, "SN-0002"): newer}
    fakes.terminals.states[(OTHER_PARTNER, "SN-0003")] = a_terminal("SN-0003", NOW, OTHER_PARTNER)
    page = await fakes.queries.latest(PARTNER, 20, None)
    assert page.items == [newer, older]


# ---------------------------------------------------------------------- commands


def test_rejected_events_answer_a_422_naming_each_event_in_the_body() -> None:
    error = {"field": "events.1.occurred_at", "message": "is in the future", "code": "in_the_future"}
    refusal = RejectedEvents([error])
    assert isinstance(refusal, InvalidInput) and refusal.status == 422 and refusal.slug == "validation"
    assert refusal.detail == "Rejected events: events.1.occurred_at: is in the future."
    assert refusal.extensions["errors"] == [{**error, "in": "body"}]
    assert refusal.errors == [error]


async def test_a_rotated_ingest_key_admits_its_instances_events() -> None:
    fakes = ActivityFakes()
    rotated = IngestKeyRotated(
        instance_id=INSTANCE,
        partner_id=PARTNER,
        key_sha256=hashlib.sha256(INGEST_KEY.encode()).hexdigest(),
        rotated_by=WHO,
    )
    await fakes.event_handlers.ingest_key_rotated(envelope_for(rotated, source="instances"))
    assert fakes.keys.keys == {INSTANCE: IngestKey(INSTANCE, PARTNER, rotated.key_sha256)}
    event = {"event_id": uuid.uuid4(), "serial": "SN-0001", "action": "login", "occurred_at": NOW}
    assert await fakes.commands.ingest(INGEST_KEY, [event], NOW) == 1
    [[envelope]] = fakes.publisher.published
    assert (envelope.data.instance_id, envelope.data.partner_id) == (INSTANCE, PARTNER)


async def test_release_of_a_record_the_partner_cannot_see_is_not_found() -> None:
    fakes = ActivityFakes(instances=FakeInstances("SN-0001"))
    theirs = stored(fakes, partner_id=OTHER_PARTNER)
    with pytest.raises(NotFound) as missing:
        await fakes.commands.release_license("token", PARTNER, theirs.id, None)
    assert missing.value.detail == f"No activity record {theirs.id}."


NO_LICENSE = "No active license with PIN 4821 in this instance."
ELSEWHERE = "The license with PIN 4821 is not bound to terminal SN-0001."


@pytest.mark.parametrize(
    ("instances", "pin", "slug", "detail"),
    [
        (None, "4821", "not-configured", "Releasing licenses is not configured on this service."),
        (FakeInstances("SN-0001"), None, "no-pin", "The record names no PIN, so no license."),
        (FakeInstances("SN-0001", active=False), "4821", "no-active-license", NO_LICENSE),
        (FakeInstances("SN-0002"), "4821", "bound-elsewhere", ELSEWHERE),
        (FakeInstances(None), "4821", "bound-elsewhere", ELSEWHERE),
    ],
)  # fmt: skip
async def test_release_is_refused_with_a_conflict_saying_why(
    instances: FakeInstances | None, pin: str | None, slug: str, detail: str
) -> None:
    fakes = ActivityFakes(instances=instances)
    record = stored(fakes, pin=pin)
    with pytest.raises(ReleaseRefused) as refused:
        await fakes.commands.release_license("token", PARTNER, record.id, None)
    assert (refused.value.status, refused.value.slug, refused.value.detail) == (409, slug, detail)
    assert instances is None or instances.released == []


async def test_release_asks_the_instances_service_with_the_callers_token_and_gives_its_answer() -> None:
    answer = Released(409, {"type": "urn:partnerapp:problem:conflict", "detail": "already released"})
    instances = FakeInstances("sn-0001", license_id="lic-7", answer=answer)
    fakes = ActivityFakes(instances=instances)
    record = stored(fakes)
    assert await fakes.commands.release_license("the-token", PARTNER, record.id, "handed in") == (record, answer)
    assert (instances.tokens, instances.released) == (["the-token"], ["lic-7"])


def test_an_unavailable_instances_service_is_a_503_to_retry() -> None:
    down = InstancesUnavailable("instances answered 502")
    assert (down.status, down.slug, down.reason) == (503, "instances-unavailable", "instances answered 502")
    assert down.detail == "The instances service is unavailable; retry shortly."
    assert down.extensions == {}, "how it failed is not the caller's to see"


async def test_retention_drops_the_days_before_the_cutoff() -> None:
    fakes = ActivityFakes()
    old = stored(fakes, occurred_at=datetime(2024, 1, 30, 23, tzinfo=UTC))
    kept = stored(fakes, occurred_at=datetime(2024, 1, 31, 1, tzinfo=UTC))
    assert await fakes.commands.enforce_retention(date(2024, 3, 1), 30) == 1
    assert fakes.records.dropped_before == ["20240131"]
    assert old.id not in fakes.records.by_id and kept.id in fakes.records.by_id


# ---------------------------------------------------------------------- event handlers


async def test_a_released_license_records_its_reason_and_unbinds_the_terminal() -> None:
    fakes = ActivityFakes()
    released = LicenseReleased(
        license_id="lic-1",
        instance_id=INSTANCE,
        partner_id=PARTNER,
        company_id="cmp-1",
        pin="4821",
        serial="SN-0001",
        reason="handed in",
        released_by=WHO,
    )
    event = envelope_for(released, source="instances", time=NOW)
    await fakes.event_handlers.record_license_event(event)
    [record] = fakes.records.by_id.values()
    assert (record.kind, record.action, record.details) == (
        RecordKind.LICENSE,
        "license.released",
        {"license_id": "lic-1", "reason": "handed in"},
    )
    assert fakes.terminals.bound == {(PARTNER, INSTANCE, "SN-0001"): (None, NOW)}
    await fakes.event_handlers.record_license_event(event)  # redelivered: stored once
    assert (fakes.event_handlers.stats.stored, fakes.event_handlers.stats.duplicates) == (1, 1)
