"""Terminal telemetry: one envelope per activity event.

The envelope id is `telemetry_event_id(instance, terminal's event id)`: terminals make their own
event ids, so two instances (or partners) may send the same one, and the id alone must not make
one of them a duplicate of the other; a retry from the same instance still gets the same id.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from contracts.events.common import Id, Payload
from contracts.serials import SerialId

TELEMETRY_NAMESPACE = uuid.UUID("6f1d3c2a-5b7e-4c1f-9a8d-2e4b6c8d0f13")
"""Fixed forever: changing it would give a retried event a new id, so it would be stored twice."""


def telemetry_event_id(instance_id: str, terminal_event_id: uuid.UUID | str) -> uuid.UUID:
    """The envelope id of a terminal's event: instance ids are globally unique and bound to one
    partner, so the same terminal event id from another instance or partner never collides."""
    return uuid.uuid5(TELEMETRY_NAMESPACE, f"{instance_id}/{str(terminal_event_id).lower()}")


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
    `terminal_event_id` is the id the terminal gave the event (absent in older events, whose
    envelope id was the terminal's id).
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
    terminal_event_id: uuid.UUID | None = None
