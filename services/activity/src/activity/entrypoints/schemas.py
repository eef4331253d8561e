"""Request and response bodies of the activity service's HTTP API."""

from __future__ import annotations

import uuid
from datetime import date as date_
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AliasChoices, AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from activity.domain.model import RecordKind, Window
from activity.domain.remote_actions import ActionKind, ActionState
from contracts.events.activity import Action, DeviceInfo, GeoPoint
from contracts.serials import SERIAL_PATTERN, canonical_serial
from servicekit.api import PageOut, ResponseModel

Serial = Annotated[str, Field(min_length=3, max_length=64, pattern=SERIAL_PATTERN), AfterValidator(canonical_serial)]
Pin = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z]+$")]
MAX_BATCH = 500
# A detail must be storable as it is: a plain field name (no `$`, `.` or NUL, which a document store
# refuses or reads as an operator or a path) and a finite number; a larger integer is kept as a float.
DetailName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
DetailValue = (
    str | Annotated[int, Field(ge=-(2**63), lt=2**63)] | Annotated[float, Field(allow_inf_nan=False)] | bool | None
)


class IngestEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: uuid.UUID = Field(
        description="Made by the terminal, unique among its instance's events; a retried batch is stored once"
    )
    serial: Serial
    pin: Pin | None = None
    action: Action
    occurred_at: AwareDatetime
    device: DeviceInfo | None = None
    battery_pct: int | None = Field(default=None, ge=0, le=100)
    location: GeoPoint | None = None
    details: dict[DetailName, DetailValue] = Field(
        default_factory=dict,
        max_length=32,
        description=(
            "Free details. Read by the remote-action trail: `session_epoch` (the epoch the terminal saw) and "
            "`impersonation_id` (the WDS panel's `impersonation_started` / `impersonation_ended` name the grant, "
            "the impersonation token's `jti`)"
        ),
    )

    def reported(self) -> dict[str, Any]:
        """The event's fields as the ingest use case takes them (device and location as models)."""
        return {**self.model_dump(exclude_none=False), "device": self.device, "location": self.location}


class IngestBatch(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "events": [
                        {
                            "event_id": "0b6f7d7e-8a8b-4f55-9c57-3f1c2b7a9e10",
                            "serial": "R58N123ABC",
                            "pin": "4821",
                            "action": "clock_in",
                            "occurred_at": "2026-11-29T08:01:12+01:00",
                            "battery_pct": 81,
                            "location": {"lat": 40.4168, "lon": -3.7038, "accuracy_m": 12},
                        }
                    ]
                }
            ]
        },
    )

    events: list[IngestEvent] = Field(min_length=1, max_length=MAX_BATCH)


class ReleaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(min_length=3, max_length=2000)] | None = None


class Accepted(BaseModel):
    accepted: int


class RecordOut(ResponseModel):
    id: str = Field(description="Opaque; names the record's bucket")
    event_id: str = Field(
        # Read from the record: the id users see (the terminal's, where it made one).
        validation_alias=AliasChoices("shown_event_id", "event_id"),
        description="Telemetry: the id the terminal gave the event (unique within its instance); else the event's id",
    )
    kind: RecordKind
    serial: str
    pin: str | None
    instance_id: str
    action: str
    occurred_at: datetime
    received_at: datetime
    device: dict[str, Any] | None
    battery_pct: int | None
    location: dict[str, Any] | None
    details: dict[str, Any]
    late: bool = Field(
        default=False, description="Received later than ACTIVITY_LATE_SYNC_THRESHOLD_S after its terminal time"
    )


class RecordPage(PageOut[RecordOut]):
    items: list[RecordOut] = Field(description="Newest first")
    window: dict[str, datetime]

    @field_validator("window", mode="before")
    @classmethod
    def _ends(cls, value: object) -> object:
        return {"from": value.start, "to": value.end} if isinstance(value, Window) else value


class TerminalOut(ResponseModel):
    serial: str
    instance_id: str
    pin: str | None
    last_seen: datetime
    last_action: str
    maker: str | None
    model: str | None
    os: str | None
    os_version: str | None
    app_version: str | None
    battery_pct: int | None
    location: dict[str, Any] | None
    license_id: str | None
    last_position: PositionOut | None = None


class TerminalPage(PageOut[TerminalOut]): ...


# ----------------------------------------------------------------- field operations (issue #20)

Month = Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}$", description="YYYY-MM")]
TimeZoneName = Annotated[str, Field(min_length=1, max_length=64, description="IANA time zone; Europe/Madrid")]


class PositionOut(ResponseModel):
    record_id: str
    occurred_at: datetime = Field(description="The terminal's time")
    received_at: datetime = Field(description="The server's time")
    lat: float
    lon: float
    accuracy_m: float | None
    action: str
    gap_before_s: int | None = Field(
        default=None, description="Seconds since the previous point, when more than the gap threshold"
    )


class PositionPage(PageOut[PositionOut]):
    items: list[PositionOut] = Field(description="In time order")
    gap_threshold_s: int


class PauseIO(ResponseModel):
    start: AwareDatetime
    end: AwareDatetime


class WorkDayOut(ResponseModel):
    date: date_
    start: datetime | None
    end: datetime | None
    pauses: list[PauseIO]
    worked_s: int
    flags: list[str]
    version: int = Field(description="1: as the terminal reported; each correction adds one")
    corrected_by: str | None
    corrected_at: datetime | None
    reason: str | None
    source_record_ids: list[str] = Field(description="The activity records the day was built from")


class WorkDayWithVersions(WorkDayOut):
    versions: list[WorkDayOut] = Field(description="Oldest first")


class WorkingMonthOut(ResponseModel):
    instance_id: str
    pin: str
    user: str | None
    month: str
    days: list[WorkDayOut]
    total_worked_s: int
    rules_version: str


class CorrectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instance_id: Annotated[str, Field(min_length=1, max_length=64)]
    pin: Pin
    date: date_
    start: AwareDatetime
    end: AwareDatetime | None = None
    pauses: list[PauseIO] = Field(default_factory=list, max_length=50)
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    tz: TimeZoneName | None = Field(default=None, description="Whose day `date` is; Europe/Madrid")


TerminalOut.model_rebuild()


class RemoteActionOut(ResponseModel):
    """A remote action on a terminal: requested by the platform, delivered (the terminal showed it
    had seen it), applied (it took effect on the terminal), with times."""

    id: str
    kind: ActionKind
    instance_id: str
    serial: str | None
    license_id: str | None
    requested_at: datetime
    requested_by: str | None = Field(description="The user who asked for it")
    delivered_at: datetime | None
    applied_at: datetime | None
    state: ActionState
    overdue: bool = Field(
        description="Still requested (not delivered) after ACTIVITY_ACTION_OVERDUE_S (never for an impersonation)"
    )
    expired: bool = Field(
        description="An impersonation still requested when its grant expired: the panel never opened a session with it"
    )


class RemoteActionPage(PageOut[RemoteActionOut]):
    items: list[RemoteActionOut] = Field(description="Newest request first")
