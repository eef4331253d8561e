"""Type-specific configuration of an instance: one model per product type, validated per type.

- WDS, Working Day Suite (time recording of field workers): seats = `terminal_quota`; contracted
  profile, GPS tracking, clock-in methods, work calendar.
- MCRM, Mobile CRM for sales reps: seats = `seat_quota`; modules, offline sync, currency.
- S360, Service 360 (field service, work orders): seats = `technician_quota`; SLA hours, work
  order types, signature capture, photos per order.
- WTA, Workforce Time & Attendance on shared kiosks: seats = `employee_quota`; kiosks, clock-in
  methods, overtime policy, rounding.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from contracts.events.common import InstanceType
from servicekit.errors import InvalidInput

_TIMEZONES = frozenset(available_timezones())


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=True)

    @property
    def quota(self) -> int:
        raise NotImplementedError


class WdsProfile(StrEnum):
    """Contracted WDS profile; reports split WDS by it (R-33)."""

    ESSENTIAL = "essential"
    PROFESSIONAL = "professional"
    ENTERPRISE = "enterprise"


class ClockInMethod(StrEnum):
    PIN = "pin"
    NFC = "nfc"
    QR = "qr"
    GPS = "gps"
    BIOMETRIC = "biometric"


Weekday = Annotated[int, Field(ge=1, le=7, description="ISO weekday: 1 = Monday … 7 = Sunday")]


def _unique(values: list[Any], what: str) -> list[Any]:
    if len(set(values)) != len(values):
        raise PydanticCustomError("not_repeated", "{what} must not repeat", {"what": what})
    return values


class WorkCalendar(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = Field(default="Europe/Madrid", description="IANA time zone of the workplace")
    working_days: list[Weekday] = Field(default_factory=lambda: [1, 2, 3, 4, 5], min_length=1, max_length=7)
    daily_hours: float = Field(default=8.0, gt=0, le=24)
    holidays: list[date] = Field(default_factory=list, max_length=366)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        if value not in _TIMEZONES:
            raise PydanticCustomError("time_zone_unknown", "unknown time zone {value}", {"value": repr(value)})
        return value

    @field_validator("working_days")
    @classmethod
    def _distinct_days(cls, value: list[int]) -> list[int]:
        return sorted(_unique(value, "working days"))

    @field_validator("holidays")
    @classmethod
    def _distinct_holidays(cls, value: list[date]) -> list[date]:
        return sorted(_unique(value, "holidays"))


class WdsConfiguration(_Config):
    type: Literal["WDS"] = "WDS"
    profile: WdsProfile = WdsProfile.PROFESSIONAL
    terminal_quota: int = Field(default=10, ge=1, le=10_000)
    gps_tracking: bool = True
    clock_in_methods: list[ClockInMethod] = Field(default_factory=lambda: [ClockInMethod.PIN], min_length=1)
    work_calendar: WorkCalendar = Field(default_factory=WorkCalendar)

    @field_validator("clock_in_methods")
    @classmethod
    def _distinct_methods(cls, value: list[ClockInMethod]) -> list[ClockInMethod]:
        return _unique(value, "clock-in methods")

    @property
    def quota(self) -> int:
        return self.terminal_quota


class McrmModule(StrEnum):
    CONTACTS = "contacts"
    OPPORTUNITIES = "opportunities"
    ORDERS = "orders"
    CATALOG = "catalog"
    VISITS = "visits"


class McrmConfiguration(_Config):
    type: Literal["MCRM"] = "MCRM"
    seat_quota: int = Field(default=5, ge=1, le=5_000)
    modules: list[McrmModule] = Field(
        default_factory=lambda: [McrmModule.CONTACTS, McrmModule.VISITS], min_length=1, max_length=5
    )
    offline_sync: bool = True
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$", description="ISO 4217 code")

    @field_validator("modules")
    @classmethod
    def _distinct_modules(cls, value: list[McrmModule]) -> list[McrmModule]:
        return _unique(value, "modules")

    @property
    def quota(self) -> int:
        return self.seat_quota


class S360Configuration(_Config):
    type: Literal["S360"] = "S360"
    technician_quota: int = Field(default=5, ge=1, le=5_000)
    sla_hours: int = Field(default=48, ge=1, le=720, description="Hours to resolve a work order")
    work_order_types: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]] = (
        Field(default_factory=lambda: ["installation", "repair", "maintenance"], min_length=1, max_length=50)
    )
    signature_capture: bool = True
    max_photos_per_order: int = Field(default=10, ge=0, le=50)

    @field_validator("work_order_types")
    @classmethod
    def _distinct_types(cls, value: list[str]) -> list[str]:
        return _unique([v.strip() for v in value], "work order types")

    @property
    def quota(self) -> int:
        return self.technician_quota


class OvertimePolicy(StrEnum):
    NONE = "none"
    DAILY = "daily"
    WEEKLY = "weekly"


class WtaConfiguration(_Config):
    type: Literal["WTA"] = "WTA"
    employee_quota: int = Field(default=25, ge=1, le=20_000)
    kiosk_count: int = Field(default=1, ge=0, le=500, description="Shared clock-in kiosks")
    clock_in_methods: list[ClockInMethod] = Field(
        default_factory=lambda: [ClockInMethod.PIN, ClockInMethod.NFC], min_length=1
    )
    overtime_policy: OvertimePolicy = OvertimePolicy.WEEKLY
    rounding_minutes: Literal[0, 5, 10, 15] = 0

    @field_validator("clock_in_methods")
    @classmethod
    def _distinct_methods(cls, value: list[ClockInMethod]) -> list[ClockInMethod]:
        return _unique(value, "clock-in methods")

    @property
    def quota(self) -> int:
        return self.employee_quota


Configuration = WdsConfiguration | McrmConfiguration | S360Configuration | WtaConfiguration
# The wire form: one of the four, told apart by `type` (the instance's type).
TypedConfiguration = Annotated[Configuration, Field(discriminator="type")]

MODELS: dict[InstanceType, type[Configuration]] = {
    InstanceType.WDS: WdsConfiguration,
    InstanceType.MCRM: McrmConfiguration,
    InstanceType.S360: S360Configuration,
    InstanceType.WTA: WtaConfiguration,
}


class InvalidConfiguration(InvalidInput, ValueError):
    """The configuration does not fit its type; `errors` names each field (answered as a 422 naming
    them in the request body, where a configuration always travels)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__([{**e, "in": "body"} for e in errors])
        self.errors = errors

    def __str__(self) -> str:
        return "; ".join(f"{e['field']}: {e['message']}" for e in self.errors)


def parse_configuration(instance_type: InstanceType, data: dict[str, Any] | None) -> Configuration:
    """Validate `data` as the configuration of `instance_type`; missing fields take defaults."""
    model = MODELS[instance_type]
    payload = dict(data or {})
    declared = payload.pop("type", instance_type.value)
    if declared != instance_type.value:
        raise InvalidConfiguration(
            [
                {
                    "field": "configuration.type",
                    "message": f"must be {instance_type.value}",
                    "code": "type_mismatch",
                    "params": {"expected": instance_type.value},
                }
            ]
        )
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise InvalidConfiguration(
            [
                # The code and values word the message for each reader where the problem is answered.
                {
                    "field": ".".join(["configuration", *(str(p) for p in err["loc"])]),
                    "message": err["msg"],
                    "code": err["type"],
                    "params": dict(err.get("ctx") or {}),
                }
                for err in exc.errors()
            ]
        ) from exc


def configuration_document(configuration: Configuration) -> dict[str, Any]:
    """The JSON-compatible form stored and published."""
    return configuration.model_dump(mode="json")


def profile_of(configuration: Configuration) -> str | None:
    return str(configuration.profile) if isinstance(configuration, WdsConfiguration) else None
