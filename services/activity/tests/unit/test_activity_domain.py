"""The activity domain (buckets, record ids, windows, terminal state) and its use cases against
in-memory fakes of the ports: no I/O."""

from __future__ import annotations

import hashlib
import uuid
import zlib
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from activity.domain.model import (
    SHARDS,
    ActivityRecord,
    InvalidWindow,
    RecordKind,
    Terminal,
    Window,
    day_of,
    days_between,
    parse_record_id,
    record_id,
    retention_cutoff,
    shard_of,
)
from activity.service_layer.commands import ActivityCommands, RejectedEvents, authenticate
from activity.service_layer.event_handlers import ActivityEventHandlers, record_from_telemetry
from activity.service_layer.ports import IngestKey, RecordQuery
from activity.service_layer.queries import ActivityQueries, RecordSearch, visible_record
from activity.service_layer.testing import (
    FakeActivityStore,
    FakeIngestKeyStore,
    FakeInstances,
    FakePublisher,
    FakeTerminalStore,
)
from contracts import EventEnvelope, envelope_for
from contracts.codec import decode_envelope
from contracts.events.activity import DeviceInfo, GeoPoint, TerminalActivity, telemetry_event_id
from contracts.events.common import Actor
from contracts.events.instances import SessionCleared
from contracts.events.licenses import LicenseAdded, LicenseRevoked
from contracts.ingest_keys import InvalidIngestKey
from servicekit.errors import NotFound
from servicekit.pagination import Page

pytestmark = pytest.mark.unit

NOW = datetime(2024, 3, 15, 12, 0, tzinfo=UTC)
PARTNER, OTHER_PARTNER = "ptn-acme", "ptn-rival"
INSTANCE = "ins-001"
SECRET = "0123456789abcdef" * 4
INGEST_KEY = f"pik_{INSTANCE}.{SECRET}"
WHO = Actor(user_id="usr-ana", role="partner")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


KNOWN_KEY = IngestKey(INSTANCE, PARTNER, sha256(INGEST_KEY))


@pytest.fixture
def records() -> FakeActivityStore:
    return FakeActivityStore()


@pytest.fixture
def terminals() -> FakeTerminalStore:
    return FakeTerminalStore({(PARTNER, INSTANCE): ["SN-0001", "SN-0002"], (OTHER_PARTNER, INSTANCE): ["SN-0003"]})


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def keys() -> FakeIngestKeyStore:
    return FakeIngestKeyStore(KNOWN_KEY)


@pytest.fixture
def commands(records: FakeActivityStore, keys: FakeIngestKeyStore, publisher: FakePublisher) -> ActivityCommands:
    return ActivityCommands(keys, publisher, records)


@pytest.fixture
def handlers(
    records: FakeActivityStore, terminals: FakeTerminalStore, keys: FakeIngestKeyStore
) -> ActivityEventHandlers:
    return ActivityEventHandlers(records, terminals, keys)


@pytest.fixture
def queries(records: FakeActivityStore, terminals: FakeTerminalStore) -> ActivityQueries:
    return ActivityQueries(records, terminals)


# ---------------------------------------------------------------------- builders


def record(**overrides: Any) -> ActivityRecord:
    values: dict[str, Any] = {
        "event_id": "evt-1",
        "serial": "SN-0001",
        "instance_id": INSTANCE,
        "partner_id": PARTNER,
        "action": "clock_in",
        "occurred_at": datetime(2024, 3, 15, 9, 30, tzinfo=UTC),
        "received_at": datetime(2024, 3, 15, 9, 31, tzinfo=UTC),
    }
    return ActivityRecord(**(values | overrides))


def ingest_event(minutes_ago: float = 10, **overrides: Any) -> dict[str, Any]:
    """One event as the HTTP layer hands it over (IngestEvent.model_dump())."""
    event: dict[str, Any] = {
        "event_id": uuid.uuid4(),
        "serial": "SN-0001",
        "pin": "4821",
        "action": "clock_in",
        "occurred_at": NOW - timedelta(minutes=minutes_ago),
        "device": {"maker": "Samsung", "model": "SM-A546B", "os": "Android", "os_version": "14", "app_version": "5.12"},
        "battery_pct": 80,
        "location": {"lat": 40.4, "lon": -3.7, "accuracy_m": None},
        "details": {"shift": "morning"},
    }
    return event | overrides


def telemetry(serial: str = "SN-0001", partner_id: str = PARTNER, **overrides: Any) -> EventEnvelope[Any]:
    values: dict[str, Any] = {
        "serial": serial,
        "pin": "4821",
        "instance_id": INSTANCE,
        "partner_id": partner_id,
        "action": "clock_in",
        "occurred_at": datetime(2024, 3, 15, 9, 30, tzinfo=UTC),
        "received_at": datetime(2024, 3, 15, 9, 31, tzinfo=UTC),
        "device": DeviceInfo(maker="Zebra", model="TC21", os="Android", os_version="11", app_version="5.12"),
        "battery_pct": 55,
        "location": GeoPoint(lat=41.39, lon=2.17),
        "details": {"shift": "night", "late": True},
    }
    return envelope_for(TerminalActivity(**(values | overrides)), source="activity", event_id=uuid.uuid4())


SYSTEM_TIME = datetime(2024, 3, 14, 18, 0, tzinfo=UTC)


def session_cleared(serial: str | None) -> EventEnvelope[Any]:
    payload = SessionCleared(instance_id=INSTANCE, partner_id=PARTNER, serial=serial, session_epoch=7, cleared_by=WHO)
    return envelope_for(payload, source="instances", time=SYSTEM_TIME)


# ---------------------------------------------------------------------- buckets and record ids


def test_shard_of_is_a_stable_crc32_bucket_within_range() -> None:
    assert shard_of("SN-0001") == 5  # pinned: a change would hide every record already stored
    assert shard_of("TERM-42") == 10
    for serial in ("a", "SN-0001", "x" * 64, "ñandú"):
        assert shard_of(serial) == zlib.crc32(serial.encode()) % SHARDS
        assert 0 <= shard_of(serial) < SHARDS


def test_day_of_is_the_utc_day_whatever_the_offset() -> None:
    assert day_of(datetime(2024, 3, 15, 23, 59, tzinfo=UTC)) == "20240315"
    madrid = timezone(timedelta(hours=2))
    assert day_of(datetime(2024, 3, 16, 1, 30, tzinfo=madrid)) == "20240315"
    new_york = timezone(timedelta(hours=-5))
    assert day_of(datetime(2024, 3, 15, 20, 0, tzinfo=new_york)) == "20240316"


def test_days_between_lists_utc_days_newest_first_across_month_end() -> None:
    start = datetime(2024, 2, 28, 10, tzinfo=UTC)
    end = datetime(2024, 3, 1, 2, tzinfo=UTC)
    assert days_between(start, end) == ["20240301", "20240229", "20240228"]
    assert days_between(end, end) == ["20240301"]


def test_record_id_round_trips_through_parse_record_id() -> None:
    event_id = f"{uuid.uuid4()}~SN-0001"
    value = record_id("20240315", 7, event_id)
    assert value == f"20240315~07~{event_id}"
    assert parse_record_id(value) == ("20240315", 7, event_id)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "nope",
        "2024031~07~evt",  # a 7-digit day
        "20240315~7~evt",  # a 1-digit shard
        "20240315~07~",  # no event id
        "20240315~07~evt id",  # a space
        "20240315~07~evt/../x",  # a slash
        "20240315-07-evt",
        "20240315~07~" + "e" * 121,  # event id longer than 120
    ],
)
def test_parse_record_id_refuses_malformed_ids(value: str) -> None:
    assert parse_record_id(value) is None


@pytest.mark.parametrize("shard", [SHARDS, SHARDS + 1, 99])
def test_parse_record_id_refuses_shards_beyond_the_last(shard: int) -> None:
    assert parse_record_id(f"20240315~{shard:02d}~evt") is None
    assert parse_record_id(f"20240315~{SHARDS - 1:02d}~evt") == ("20240315", SHARDS - 1, "evt")


@pytest.mark.parametrize("value", ["20240315~07~evt\n", "٢٠٢٤٠٣١٥~07~evt", "20240315~٠٧~evt"])
def test_parse_record_id_refuses_trailing_newline_and_non_ascii_digits(value: str) -> None:
    assert parse_record_id(value) is None


# ---------------------------------------------------------------------- windows


def test_window_defaults_to_the_last_24_hours_ending_now() -> None:
    assert Window.of(None, None, NOW) == Window(NOW - timedelta(hours=24), NOW)


def test_window_with_start_only_spans_24_hours_from_it() -> None:
    start = datetime(2024, 3, 1, 8, tzinfo=UTC)
    assert Window.of(start, None, NOW) == Window(start, start + timedelta(hours=24))


def test_window_with_end_only_spans_the_24_hours_before_it() -> None:
    end = datetime(2024, 3, 10, 8, tzinfo=UTC)
    assert Window.of(None, end, NOW) == Window(end - timedelta(hours=24), end)


@pytest.mark.parametrize("offset", [timedelta(0), timedelta(hours=-1)])
def test_window_refuses_equal_or_inverted_bounds(offset: timedelta) -> None:
    start = datetime(2024, 3, 10, 8, tzinfo=UTC)
    with pytest.raises(InvalidWindow, match="before"):
        Window.of(start, start + offset, NOW)


def test_window_spans_at_most_31_days() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    assert Window.of(start, start + timedelta(days=31), NOW).end == start + timedelta(days=31)
    with pytest.raises(InvalidWindow, match="31 days"):
        Window.of(start, start + timedelta(days=31, microseconds=1), NOW)


@pytest.mark.parametrize(
    ("start", "end", "now"),
    [
        (datetime(2024, 3, 1), datetime(2024, 3, 2, tzinfo=UTC), NOW),
        (datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 2), NOW),
        (datetime(2024, 3, 1), None, NOW),
        (None, None, datetime(2024, 3, 15, 12)),
    ],
)
def test_window_refuses_naive_datetimes(start: datetime | None, end: datetime | None, now: datetime) -> None:
    with pytest.raises(InvalidWindow, match="time zone"):
        Window.of(start, end, now)


def test_window_days_lists_the_utc_days_touched_newest_first() -> None:
    window = Window.of(datetime(2024, 3, 13, 22, tzinfo=UTC), datetime(2024, 3, 15, 1, tzinfo=UTC), NOW)
    assert window.days() == ["20240315", "20240314", "20240313"]


def test_window_ending_exactly_at_midnight_does_not_touch_the_next_day() -> None:
    window = Window.of(datetime(2024, 3, 14, tzinfo=UTC), datetime(2024, 3, 15, tzinfo=UTC), NOW)
    assert window.days() == ["20240314"]
    madrid_midnight = datetime(2024, 3, 16, tzinfo=timezone(timedelta(hours=2)))  # 22:00 UTC on the 15th
    assert Window.of(None, madrid_midnight, NOW).days() == ["20240315", "20240314"]


# ---------------------------------------------------------------------- records and terminals


def test_activity_record_id_names_its_utc_day_and_serial_bucket() -> None:
    late_evening = datetime(2024, 3, 15, 23, 30, tzinfo=timezone(timedelta(hours=-2)))  # 01:30 UTC on the 16th
    rec = record(event_id="evt-9", occurred_at=late_evening)
    assert rec.day == "20240316"
    assert rec.shard == shard_of("SN-0001") == 5
    assert rec.id == "20240316~05~evt-9"
    assert parse_record_id(rec.id) == ("20240316", 5, "evt-9")


def test_terminal_from_first_record_takes_the_record_values() -> None:
    rec = record(
        pin="4821",
        device={"maker": "Zebra", "model": "TC21", "os": "Android", "os_version": "11", "app_version": "5.12"},
        battery_pct=0,
        location={"lat": 1.0, "lon": 2.0},
    )
    terminal = Terminal.from_record(rec, None)
    assert terminal == Terminal(
        serial="SN-0001",
        partner_id=PARTNER,
        instance_id=INSTANCE,
        pin="4821",
        last_seen=rec.occurred_at,
        last_action="clock_in",
        maker="Zebra",
        model="TC21",
        os="Android",
        os_version="11",
        app_version="5.12",
        battery_pct=0,
        location={"lat": 1.0, "lon": 2.0},
        last_position={
            "record_id": rec.id,
            "occurred_at": rec.occurred_at,
            "received_at": rec.received_at,
            "lat": 1.0,
            "lon": 2.0,
            "accuracy_m": None,
            "action": "clock_in",
        },
    )


def test_terminal_from_record_keeps_previous_values_the_record_lacks_and_new_values_win() -> None:
    first = record(
        pin="4821",
        device={"maker": "Zebra", "model": "TC21", "os": "Android", "os_version": "11", "app_version": "5.12"},
        battery_pct=80,
        location={"lat": 1.0, "lon": 2.0},
    )
    previous = Terminal.from_record(first, None)
    later = record(
        event_id="evt-2",
        action="clock_out",
        occurred_at=datetime(2024, 3, 15, 17, tzinfo=UTC),
        pin=None,
        device={"maker": None, "model": None, "os": None, "os_version": "12", "app_version": None},
        battery_pct=None,
        location={"lat": 3.0, "lon": 4.0},
    )
    terminal = Terminal.from_record(later, previous)
    assert terminal.last_action == "clock_out"
    assert terminal.last_seen == datetime(2024, 3, 15, 17, tzinfo=UTC)
    assert (terminal.pin, terminal.maker, terminal.model, terminal.os) == ("4821", "Zebra", "TC21", "Android")
    assert (terminal.os_version, terminal.app_version) == ("12", "5.12")
    assert terminal.battery_pct == 80
    assert terminal.location == {"lat": 3.0, "lon": 4.0}


def test_terminal_from_record_without_device_keeps_the_whole_previous_device() -> None:
    previous = Terminal.from_record(
        record(device={"maker": "Zebra", "model": "TC21", "os": "Android", "os_version": "11", "app_version": "5"}),
        None,
    )
    terminal = Terminal.from_record(record(event_id="evt-2", device=None), previous)
    assert (terminal.maker, terminal.model, terminal.os, terminal.os_version, terminal.app_version) == (
        "Zebra",
        "TC21",
        "Android",
        "11",
        "5",
    )


def test_retention_cutoff_is_the_day_retention_days_before_today() -> None:
    assert retention_cutoff(date(2024, 3, 1), 30) == "20240131"
    assert retention_cutoff(date(2024, 3, 1), 1) == "20240229"
    assert retention_cutoff(date(2024, 3, 1), 0) == "20240301"


# ---------------------------------------------------------------------- authenticate


async def test_authenticate_with_the_right_key_gives_its_ingest_key(keys: FakeIngestKeyStore) -> None:
    assert await authenticate(keys, INGEST_KEY) == KNOWN_KEY


@pytest.mark.parametrize(
    "key",
    [
        f"pik_{INSTANCE}.{'f' * 64}",  # wrong secret
        f"pik_ins-unknown.{SECRET}",  # unknown instance
        f"{INSTANCE}.{SECRET}",  # no prefix
        f"pik_{INSTANCE}{SECRET}",  # no dot
        f"pik_.{SECRET}",  # empty instance
        "",
    ],
)
async def test_authenticate_refuses_unknown_wrong_or_malformed_keys(keys: FakeIngestKeyStore, key: str) -> None:
    with pytest.raises(InvalidIngestKey):
        await authenticate(keys, key)


# ---------------------------------------------------------------------- ingest


async def test_ingest_publishes_envelopes_with_the_key_ids_and_the_client_event_ids(
    commands: ActivityCommands, publisher: FakePublisher
) -> None:
    batch = [ingest_event(10), ingest_event(5, serial="SN-0002", pin=None, device=None, location=None)]
    assert await commands.ingest(INGEST_KEY, batch, NOW) == 2
    assert len(publisher.published) == 1
    envelopes = publisher.published[0]
    assert [e.data.terminal_event_id for e in envelopes] == [batch[0]["event_id"], batch[1]["event_id"]]
    assert [e.id for e in envelopes] == [telemetry_event_id(INSTANCE, e["event_id"]) for e in batch]
    assert all(e.type == "terminal.activity" and e.source == "activity" for e in envelopes)
    first: TerminalActivity = envelopes[0].data
    assert (first.instance_id, first.partner_id) == (INSTANCE, PARTNER)
    assert first.received_at == NOW
    assert first.occurred_at == NOW - timedelta(minutes=10)
    assert (first.serial, first.pin, first.action) == ("SN-0001", "4821", "clock_in")
    assert first.device == DeviceInfo(
        maker="Samsung", model="SM-A546B", os="Android", os_version="14", app_version="5.12"
    )
    assert first.location == GeoPoint(lat=40.4, lon=-3.7)
    assert first.details == {"shift": "morning"}
    assert envelopes[1].data.serial == "SN-0002" and envelopes[1].data.pin is None
    assert commands.stats.admitted == 2


async def test_the_envelope_id_is_the_same_for_a_retry_and_another_for_any_other_instance(
    commands: ActivityCommands, publisher: FakePublisher
) -> None:
    """Terminals make their event ids: only (instance, terminal event id) is unique."""
    other_key = f"pik_ins-other.{SECRET}"
    await commands.keys.put(IngestKey("ins-other", OTHER_PARTNER, sha256(other_key)))
    event = ingest_event(10)
    await commands.ingest(INGEST_KEY, [event], NOW)
    await commands.ingest(INGEST_KEY, [dict(event)], NOW)  # the terminal retries the batch
    await commands.ingest(other_key, [dict(event)], NOW)
    (mine,), (retry,), (theirs,) = publisher.published
    assert mine.id == retry.id, "a retry is the same event"
    assert theirs.id != mine.id, "another instance's event with the same terminal id is another event"
    assert mine.data.terminal_event_id == theirs.data.terminal_event_id == event["event_id"]
    records = [record_from_telemetry(e) for e in (mine, theirs)]
    assert records[0].id != records[1].id and records[0].day == records[1].day
    assert [r.shown_event_id for r in records] == [str(event["event_id"])] * 2


async def test_an_older_envelope_without_the_terminal_event_id_shows_its_envelope_id() -> None:
    data = TerminalActivity(
        serial="SN-0001", instance_id=INSTANCE, partner_id=PARTNER, action="login", occurred_at=NOW, received_at=NOW
    )
    old = envelope_for(data, source="activity")
    recorded = record_from_telemetry(decode_envelope(old.to_json_bytes()))
    assert (recorded.event_id, recorded.shown_event_id) == (str(old.id), str(old.id))


async def test_ingest_takes_instance_and_partner_from_the_key_even_if_the_body_names_others(
    commands: ActivityCommands, publisher: FakePublisher
) -> None:
    event = ingest_event(instance_id="ins-other", partner_id=OTHER_PARTNER)
    assert await commands.ingest(INGEST_KEY, [event], NOW) == 1
    data = publisher.published[0][0].data
    assert (data.instance_id, data.partner_id) == (INSTANCE, PARTNER)


async def test_ingest_accepts_events_exactly_at_the_tolerances(
    commands: ActivityCommands, publisher: FakePublisher
) -> None:
    batch = [ingest_event(-5), ingest_event(30 * 24 * 60)]
    assert await commands.ingest(INGEST_KEY, batch, NOW) == 2
    assert len(publisher.published[0]) == 2


async def test_ingest_refuses_the_whole_batch_naming_each_out_of_range_event(
    commands: ActivityCommands, publisher: FakePublisher
) -> None:
    batch = [
        ingest_event(10),
        ingest_event(occurred_at=NOW + timedelta(minutes=5, milliseconds=1)),
        ingest_event(10),
        ingest_event(occurred_at=NOW - timedelta(days=30, seconds=1)),
    ]
    with pytest.raises(RejectedEvents) as refused:
        await commands.ingest(INGEST_KEY, batch, NOW)
    assert refused.value.errors == [
        {"field": "events.1.occurred_at", "message": "is in the future", "code": "in_the_future"},
        {
            "field": "events.3.occurred_at",
            "message": "is older than 30 days",
            "code": "older_than_days",
            "params": {"days": 30},
        },
    ]
    assert publisher.published == []
    assert commands.stats.admitted == 0


async def test_ingest_with_a_bad_key_publishes_nothing(commands: ActivityCommands, publisher: FakePublisher) -> None:
    with pytest.raises(InvalidIngestKey):
        await commands.ingest(f"pik_{INSTANCE}.{'f' * 64}", [ingest_event()], NOW)
    assert publisher.published == []


# ---------------------------------------------------------------------- recording from Kafka


async def test_record_telemetry_maps_envelopes_to_records(
    handlers: ActivityEventHandlers, records: FakeActivityStore, terminals: FakeTerminalStore
) -> None:
    event = telemetry()
    await handlers.record_telemetry([event])
    [stored] = records.by_id.values()
    assert stored == ActivityRecord(
        event_id=str(event.id),
        serial="SN-0001",
        instance_id=INSTANCE,
        partner_id=PARTNER,
        action="clock_in",
        occurred_at=datetime(2024, 3, 15, 9, 30, tzinfo=UTC),
        received_at=datetime(2024, 3, 15, 9, 31, tzinfo=UTC),
        kind=RecordKind.TELEMETRY,
        pin="4821",
        device={"maker": "Zebra", "model": "TC21", "os": "Android", "os_version": "11", "app_version": "5.12"},
        battery_pct=55,
        location={"lat": 41.39, "lon": 2.17, "accuracy_m": None},
        details={"shift": "night", "late": True},
    )
    assert terminals.advanced == [[stored]]


async def test_record_telemetry_without_device_or_location_stores_none(
    handlers: ActivityEventHandlers, records: FakeActivityStore
) -> None:
    await handlers.record_telemetry([telemetry(device=None, location=None, pin=None, details={})])
    [stored] = records.by_id.values()
    assert (stored.device, stored.location, stored.pin, stored.details) == (None, None, None, {})


async def test_record_telemetry_counts_stored_and_duplicates_from_the_store(handlers: ActivityEventHandlers) -> None:
    first, second = telemetry(), telemetry("SN-0002")
    await handlers.record_telemetry([first, second])
    assert (handlers.stats.stored, handlers.stats.duplicates) == (2, 0)
    await handlers.record_telemetry([first, telemetry("SN-0003")])
    assert (handlers.stats.stored, handlers.stats.duplicates) == (3, 1)


async def test_license_event_without_serial_records_nothing(
    handlers: ActivityEventHandlers, records: FakeActivityStore, terminals: FakeTerminalStore
) -> None:
    event = envelope_for(
        LicenseAdded(
            license_id="lic-1",
            instance_id=INSTANCE,
            partner_id=PARTNER,
            company_id="cmp-1",
            user_name="Ana",
            email="ana@example.com",
            pin="4821",
            serial=None,
            added_by=WHO,
        ),
        source="instances",
    )
    await handlers.record_license_event(event)
    assert records.by_id == {}
    assert terminals.advanced == []
    assert handlers.stats.stored == 0


async def test_license_event_with_serial_records_a_license_record(
    handlers: ActivityEventHandlers, records: FakeActivityStore, terminals: FakeTerminalStore
) -> None:
    event = envelope_for(
        LicenseRevoked(
            license_id="lic-1",
            instance_id=INSTANCE,
            partner_id=PARTNER,
            company_id="cmp-1",
            pin="4821",
            serial="SN-0001",
            reason="  contract ended  ",
            revoked_by=WHO,
        ),
        source="instances",
        time=SYSTEM_TIME,
    )
    await handlers.record_license_event(event)
    [stored] = records.by_id.values()
    assert stored == ActivityRecord(
        event_id=str(event.id),
        serial="SN-0001",
        instance_id=INSTANCE,
        partner_id=PARTNER,
        action="license.revoked",
        occurred_at=SYSTEM_TIME,
        received_at=SYSTEM_TIME,
        kind=RecordKind.LICENSE,
        pin="4821",
        details={"license_id": "lic-1", "reason": "contract ended"},
    )
    assert terminals.advanced == [[]]  # system records never move a terminal's state
    assert terminals.bound == {(PARTNER, INSTANCE, "SN-0001"): (None, SYSTEM_TIME)}, "revoked: no longer bound"
    assert handlers.stats.stored == 1


async def test_session_cleared_for_one_serial_records_one_session_record(
    handlers: ActivityEventHandlers, records: FakeActivityStore
) -> None:
    event = session_cleared("SN-0009")
    await handlers.record_session_cleared(event)
    [stored] = records.by_id.values()
    assert stored.kind == RecordKind.SESSION
    assert stored.serial == "SN-0009"
    assert stored.event_id == f"{event.id}~SN-0009"
    assert (stored.action, stored.occurred_at, stored.pin) == ("session.cleared", SYSTEM_TIME, None)
    assert stored.details == {"session_epoch": 7, "scope": "terminal"}


async def test_session_cleared_for_the_instance_records_one_per_known_serial(
    handlers: ActivityEventHandlers, records: FakeActivityStore
) -> None:
    event = session_cleared(None)
    await handlers.record_session_cleared(event)
    stored = sorted(records.by_id.values(), key=lambda r: r.serial)
    assert [r.serial for r in stored] == ["SN-0001", "SN-0002"]
    assert [r.event_id for r in stored] == [f"{event.id}~SN-0001", f"{event.id}~SN-0002"]
    assert all(r.kind == RecordKind.SESSION and r.partner_id == PARTNER for r in stored)
    assert all(r.details == {"session_epoch": 7, "scope": "instance"} for r in stored)
    assert handlers.stats.stored == 2


async def test_session_cleared_for_an_instance_without_terminals_records_nothing(records: FakeActivityStore) -> None:
    handlers = ActivityEventHandlers(records, FakeTerminalStore(), FakeIngestKeyStore(KNOWN_KEY))
    await handlers.record_session_cleared(session_cleared(None))
    assert records.by_id == {}


async def test_session_record_of_a_longest_serial_can_be_read_by_its_id(
    handlers: ActivityEventHandlers, queries: ActivityQueries, records: FakeActivityStore
) -> None:
    serial = "S" * 64  # the longest Id the contracts allow
    await handlers.record_session_cleared(session_cleared(serial))
    [stored] = records.by_id.values()
    assert await queries.record(stored.id, PARTNER) == stored


# ---------------------------------------------------------------------- reading a record


async def test_record_returns_the_partners_own_record(
    handlers: ActivityEventHandlers, queries: ActivityQueries, records: FakeActivityStore
) -> None:
    await handlers.record_telemetry([telemetry()])
    [stored] = records.by_id.values()
    assert await queries.record(stored.id, PARTNER) == stored


async def test_record_of_another_partner_is_not_found(
    handlers: ActivityEventHandlers, records: FakeActivityStore
) -> None:
    await handlers.record_telemetry([telemetry(partner_id=OTHER_PARTNER)])
    [stored] = records.by_id.values()
    assert await visible_record(records, stored.id, PARTNER) is None
    assert await visible_record(records, stored.id, OTHER_PARTNER) == stored


@pytest.mark.parametrize("value", ["nope", "20240315~16~evt", "20240315~07~", "../20240315~07~evt"])
async def test_record_with_a_malformed_id_is_none_without_asking_the_store(
    records: FakeActivityStore, value: str
) -> None:
    assert await visible_record(records, value, PARTNER) is None
    assert records.gets == []


async def test_record_unknown_but_well_formed_id_is_none(records: FakeActivityStore) -> None:
    assert await visible_record(records, f"20240315~05~{uuid.uuid4()}", PARTNER) is None


# ---------------------------------------------------------------------- tenancy and serials


async def test_session_cleared_for_the_instance_reaches_only_its_partners_terminals(
    handlers: ActivityEventHandlers, records: FakeActivityStore, terminals: FakeTerminalStore
) -> None:
    """The other partner's SN-0003 is known under the same instance id in the fake: it is not cleared."""
    await handlers.record_session_cleared(session_cleared(None))
    assert sorted(r.serial for r in records.by_id.values()) == ["SN-0001", "SN-0002"]


async def test_license_events_bind_the_serial_of_their_own_partner_and_instance(
    handlers: ActivityEventHandlers, terminals: FakeTerminalStore
) -> None:
    added = LicenseAdded(
        license_id="lic-9", instance_id="ins-rival", partner_id=OTHER_PARTNER, company_id="cmp-9",
        user_name="Eve", email="eve@example.com", pin="4821", serial="sn-0001", added_by=WHO,
    )  # fmt: skip
    await handlers.record_license_event(envelope_for(added, source="instances", time=SYSTEM_TIME))
    assert terminals.bound == {(OTHER_PARTNER, "ins-rival", "SN-0001"): ("lic-9", SYSTEM_TIME)}


class SearchSpy(FakeActivityStore):
    def __init__(self) -> None:
        super().__init__()
        self.queries: list[RecordQuery] = []

    async def search(self, query: RecordQuery) -> Page[ActivityRecord]:
        self.queries.append(query)
        return await super().search(query)


class LookupSpy(FakeTerminalStore):
    def __init__(self) -> None:
        super().__init__()
        self.looked_up: list[tuple[str, str]] = []

    async def get(self, partner_id: str, serial: str) -> Terminal | None:
        self.looked_up.append((partner_id, serial))
        return None


async def test_search_and_terminal_look_up_use_the_canonical_serial() -> None:
    records, terminals = SearchSpy(), LookupSpy()
    queries = ActivityQueries(records, terminals)
    await queries.search(RecordSearch(PARTNER, serial="sn-00a1"), NOW)
    with pytest.raises(NotFound):  # the spy knows no terminal
        await queries.terminal(PARTNER, "Sn-00A1")
    assert [q.serial for q in records.queries] == ["SN-00A1"]
    assert terminals.looked_up == [(PARTNER, "SN-00A1")]


async def test_ingest_publishes_the_serial_in_its_canonical_form(
    commands: ActivityCommands, publisher: FakePublisher
) -> None:
    await commands.ingest(INGEST_KEY, [ingest_event(serial="sn-00a1")], NOW)
    [[envelope]] = publisher.published
    assert envelope.data.serial == "SN-00A1"


@pytest.mark.parametrize("stored", ["sn-0001", "SN-0001", "Sn-0001"])
async def test_release_license_matches_the_bound_serial_in_any_letter_case(
    records: FakeActivityStore, terminals: FakeTerminalStore, stored: str
) -> None:
    instances = FakeInstances(stored)
    commands = ActivityCommands(FakeIngestKeyStore(KNOWN_KEY), FakePublisher(), records, instances)
    await ActivityEventHandlers(records, terminals, commands.keys).record_telemetry([telemetry("SN-0001")])
    [record] = records.by_id.values()
    outcome = await commands.release_license("token", PARTNER, record.id, None)
    assert outcome is not None and outcome[1].status_code == 200
    assert instances.released == ["lic-1"]
