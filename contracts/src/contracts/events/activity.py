"""Terminal telemetry: one envelope per activity event; the envelope id is the event id."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from contracts.events.common import Id, Payload
from contracts.serials import SerialId

Action = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_.-]*$")]


class GeoPoint(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    accuracy_m: float | None = Field(default=None, ge=0)


class DeviceInfo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    maker: str | None = Field(default=None, max_length=64)
    model: str | None = Field(default=None, max_length=64)
    os: str | None = Field(default=None, max_length=32)
    os_version: str | None = Field(default=None, max_length=32)
    app_version: str | None = Field(default=None, max_length=32)


class TerminalActivity(Payload):
    """What a field terminal did, as it reported it.

    `partner_id` and `instance_id` are set by whoever admits the event (the ingest endpoint
    from the ingest key, or a trusted bridge), never taken from the terminal on trust.
    """

    serial: SerialId
    pin: str | None = Field(default=None, max_length=32)
    instance_id: Id
    partner_id: Id
    action: Action
    occurred_at: AwareDatetime
    received_at: AwareDatetime
    device: DeviceInfo | None = None
    battery_pct: int | None = Field(default=None, ge=0, le=100)
    location: GeoPoint | None = None
    details: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
