"""What field terminals did (R-40..R-43): activity records, the latest state of each terminal,
and the day-and-shard buckets records are kept in so that a terminal's search touches little."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from servicekit.errors import InvalidInput, field_error

SHARDS = 16
"""Records of one UTC day are spread over this many buckets by serial. Fixed: changing it would
hide the records already stored (a bucket is found from the serial)."""

MAX_WINDOW = timedelta(days=31)
DEFAULT_WINDOW = timedelta(hours=24)
RECORD_ID = re.compile(r"([0-9]{8})~([0-9]{2})~([A-Za-z0-9_.:~-]{1,120})")  # event ids of fanned-out
# session records are "<uuid>~<serial>": up to 36 + 1 + 64 characters


class RecordKind(StrEnum):
    TELEMETRY = "telemetry"  # what the terminal reported
    LICENSE = "license"  # a license bound, released or revoked (from the instances service)
    SESSION = "session"  # a cleared session (from the instances service)


def shard_of(serial: str) -> int:
    return zlib.crc32(serial.encode()) % SHARDS


def day_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d")


def days_between(start: datetime, end: datetime) -> list[str]:
    """The UTC days a window touches, newest first."""
    first, last = start.astimezone(UTC).date(), end.astimezone(UTC).date()
    return [(last - timedelta(days=n)).strftime("%Y%m%d") for n in range((last - first).days + 1)]


def record_id(day: str, shard: int, event_id: str) -> str:
    """A record's public id names its bucket, so reading it is one look-up."""
    return f"{day}~{shard:02d}~{event_id}"


def parse_record_id(value: str) -> tuple[str, int, str] | None:
    match = RECORD_ID.fullmatch(value)
    if not match or int(match.group(2)) >= SHARDS:
        return None
    return match.group(1), int(match.group(2)), match.group(3)


class InvalidWindow(InvalidInput):
    """A 422 naming the query's `from`; `code` and `params` word the message for each reader."""

    def __init__(self, message: str, code: str, **params: object) -> None:
        super().__init__([field_error("from", code, message, where="query", params=params)], detail=message)
        self.code, self.params = code, params


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    @classmethod
    def of(cls, start: datetime | None, end: datetime | None, now: datetime) -> Window:
        """From/to as asked, the last 24 hours by default; at most 31 days, never inverted."""
        try:  # at either end of the calendar, the default span or the offset (in UTC) leaves it
            end = end or (start + DEFAULT_WINDOW if start else now)
            start = start or end - DEFAULT_WINDOW
            if start.tzinfo is None or end.tzinfo is None:
                raise InvalidWindow("from and to need a time zone offset", "window_offset")
            start, end = start.astimezone(UTC), end.astimezone(UTC)
        except OverflowError as exc:
            raise InvalidWindow("from and to must lie between the years 1 and 9999 (UTC)", "window_range") from exc
        if start >= end:
            raise InvalidWindow("from must be before to", "window_order")
        if end - start > MAX_WINDOW:
            raise InvalidWindow(
                f"the window can span at most {MAX_WINDOW.days} days", "window_span", days=MAX_WINDOW.days
            )
        return cls(start, end)

    def days(self) -> list[str]:
        return days_between(self.start, self.end - timedelta(microseconds=1))


@dataclass(frozen=True)
class ActivityRecord:
    """One thing that happened to a terminal, as stored.

    `event_id` is the envelope's id, unique across instances and partners (the store's key);
    `terminal_event_id` the id the terminal gave the event, None where there is none (system
    records, records stored before it was kept)."""

    event_id: str
    serial: str
    instance_id: str
    partner_id: str
    action: str
    occurred_at: datetime
    received_at: datetime
    kind: RecordKind = RecordKind.TELEMETRY
    pin: str | None = None
    device: dict[str, Any] | None = None
    battery_pct: int | None = None
    location: dict[str, Any] | None = None
    details: dict[str, Any] = field(default_factory=dict)
    terminal_event_id: str | None = None

    @property
    def shown_event_id(self) -> str:
        """The event id users see: the terminal's, where it made one."""
        return self.terminal_event_id or self.event_id

    @property
    def day(self) -> str:
        return day_of(self.occurred_at)

    @property
    def shard(self) -> int:
        return shard_of(self.serial)

    @property
    def id(self) -> str:
        return record_id(self.day, self.shard, self.event_id)

    def visible_to(self, partner_id: str) -> bool:
        return self.partner_id == partner_id


@dataclass(frozen=True)
class Terminal:
    """The latest known state of a serial (R-42)."""

    serial: str
    partner_id: str
    instance_id: str
    pin: str | None
    last_seen: datetime
    last_action: str
    maker: str | None = None
    model: str | None = None
    os: str | None = None
    os_version: str | None = None
    app_version: str | None = None
    battery_pct: int | None = None
    location: dict[str, Any] | None = None
    license_id: str | None = None  # the license bound to the terminal, from the instances' events
    last_position: dict[str, Any] | None = None  # the newest record with a location (the map, issue #20)

    @classmethod
    def from_record(cls, record: ActivityRecord, previous: Terminal | None) -> Terminal:
        """The terminal after this record; fields the record does not carry keep their last value."""
        device = record.device or {}
        keep = previous

        def pick(name: str, value: Any) -> Any:
            return value if value is not None else (getattr(keep, name) if keep else None)

        return cls(
            serial=record.serial,
            partner_id=record.partner_id,
            instance_id=record.instance_id,
            pin=pick("pin", record.pin),
            last_seen=record.occurred_at,
            last_action=record.action,
            maker=pick("maker", device.get("maker")),
            model=pick("model", device.get("model")),
            os=pick("os", device.get("os")),
            os_version=pick("os_version", device.get("os_version")),
            app_version=pick("app_version", device.get("app_version")),
            battery_pct=pick("battery_pct", record.battery_pct),
            location=pick("location", record.location),
            license_id=keep.license_id if keep else None,
            last_position=_position(record) if record.location else (keep.last_position if keep else None),
        )


def _position(record: ActivityRecord) -> dict[str, Any]:
    where = record.location or {}
    return {
        "record_id": record.id,
        "occurred_at": record.occurred_at,
        "received_at": record.received_at,
        "lat": where.get("lat"),
        "lon": where.get("lon"),
        "accuracy_m": where.get("accuracy_m"),
        "action": record.action,
    }


def retention_cutoff(today: date, retention_days: int) -> str:
    """Day buckets older than this are deleted."""
    return (today - timedelta(days=retention_days)).strftime("%Y%m%d")
