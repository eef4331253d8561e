"""Per-type instance configuration: defaults, validation, error reporting and derived values (no I/O)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.events.common import InstanceType
from instances.domain.configuration import (
    MODELS,
    Configuration,
    InvalidConfiguration,
    McrmConfiguration,
    S360Configuration,
    WdsConfiguration,
    WdsProfile,
    WtaConfiguration,
    configuration_document,
    parse_configuration,
    profile_of,
)

pytestmark = pytest.mark.unit


def invalid(instance_type: InstanceType, data: dict[str, Any]) -> InvalidConfiguration:
    """Parse data that must be refused and hand back the error."""
    with pytest.raises(InvalidConfiguration) as caught:
        parse_configuration(instance_type, data)
    return caught.value


def fields_of(error: InvalidConfiguration) -> list[str]:
    return [e["field"] for e in error.errors]


# ---------------------------------------------------------------------------------------- defaults


@pytest.mark.parametrize(
    ("instance_type", "model", "default_quota"),
    [
        (InstanceType.WDS, WdsConfiguration, 10),
        (InstanceType.MCRM, McrmConfiguration, 5),
        (InstanceType.S360, S360Configuration, 5),
        (InstanceType.WTA, WtaConfiguration, 25),
    ],
)
@pytest.mark.parametrize("data", [None, {}])
def test_missing_configuration_takes_the_type_defaults(
    instance_type: InstanceType, model: type[Configuration], default_quota: int, data: dict[str, Any] | None
) -> None:
    configuration = parse_configuration(instance_type, data)

    assert MODELS[instance_type] is model
    assert type(configuration) is model
    assert configuration.type == instance_type.value
    assert configuration.quota == default_quota


def test_wds_defaults_describe_a_professional_weekday_calendar_in_madrid() -> None:
    configuration = parse_configuration(InstanceType.WDS, None)
    assert isinstance(configuration, WdsConfiguration)

    assert configuration.profile == WdsProfile.PROFESSIONAL
    assert configuration.gps_tracking is True
    assert configuration.clock_in_methods == ["pin"]
    assert configuration.work_calendar.timezone == "Europe/Madrid"
    assert configuration.work_calendar.working_days == [1, 2, 3, 4, 5]
    assert configuration.work_calendar.daily_hours == 8.0
    assert configuration.work_calendar.holidays == []


# ---------------------------------------------------------------------------------------- quota


@pytest.mark.parametrize(
    ("instance_type", "field", "maximum"),
    [
        (InstanceType.WDS, "terminal_quota", 10_000),
        (InstanceType.MCRM, "seat_quota", 5_000),
        (InstanceType.S360, "technician_quota", 5_000),
        (InstanceType.WTA, "employee_quota", 20_000),
    ],
)
def test_quota_reads_the_type_specific_seat_field_within_its_bounds(
    instance_type: InstanceType, field: str, maximum: int
) -> None:
    for accepted in (1, 7, maximum):
        assert parse_configuration(instance_type, {field: accepted}).quota == accepted

    for out_of_range in (0, -3, maximum + 1):
        assert fields_of(invalid(instance_type, {field: out_of_range})) == [f"configuration.{field}"]


# ---------------------------------------------------------------------------------------- declared type


def test_a_matching_declared_type_is_accepted_and_the_input_is_not_mutated() -> None:
    data = {"type": "MCRM", "seat_quota": 9}

    configuration = parse_configuration(InstanceType.MCRM, data)

    assert isinstance(configuration, McrmConfiguration)
    assert configuration.quota == 9
    assert data == {"type": "MCRM", "seat_quota": 9}


@pytest.mark.parametrize("declared", ["MCRM", "wds", None, ""])
def test_a_declared_type_other_than_the_instance_type_is_refused(declared: str | None) -> None:
    error = invalid(InstanceType.WDS, {"type": declared, "terminal_quota": 3})

    assert error.errors == [
        {
            "field": "configuration.type",
            "message": "must be WDS",
            "code": "type_mismatch",  # what words it for a reader of either language
            "params": {"expected": "WDS"},
        }
    ]
    assert str(error) == "configuration.type: must be WDS"


# ---------------------------------------------------------------------------------------- error reporting


def test_fields_of_another_type_are_refused_as_unknown() -> None:
    error = invalid(InstanceType.WDS, {"seat_quota": 5})

    assert fields_of(error) == ["configuration.seat_quota"]
    assert "Extra inputs are not permitted" in error.errors[0]["message"]


def test_every_bad_field_is_reported_and_joined_in_the_message() -> None:
    error = invalid(InstanceType.MCRM, {"seat_quota": 0, "currency": "euro"})

    assert sorted(fields_of(error)) == ["configuration.currency", "configuration.seat_quota"]
    assert isinstance(error, ValueError)
    assert isinstance(error.__cause__, ValidationError)
    assert str(error).count("; ") == 1
    assert "configuration.seat_quota: " in str(error)
    assert "configuration.currency: " in str(error)


def test_errors_inside_nested_models_and_lists_name_the_full_path() -> None:
    error = invalid(
        InstanceType.WDS,
        {"clock_in_methods": ["pin", "retina"], "work_calendar": {"timezone": "Mars/Olympus_Mons"}},
    )

    assert sorted(fields_of(error)) == ["configuration.clock_in_methods.1", "configuration.work_calendar.timezone"]
    by_field = {e["field"]: e["message"] for e in error.errors}
    assert "unknown time zone 'Mars/Olympus_Mons'" in by_field["configuration.work_calendar.timezone"]


# ---------------------------------------------------------------------------------------- lists without repeats


@pytest.mark.parametrize(
    ("instance_type", "field", "repeated", "what"),
    [
        (InstanceType.WDS, "clock_in_methods", ["pin", "nfc", "pin"], "clock-in methods"),
        (InstanceType.WTA, "clock_in_methods", ["qr", "qr"], "clock-in methods"),
        (InstanceType.MCRM, "modules", ["contacts", "orders", "contacts"], "modules"),
        (InstanceType.S360, "work_order_types", ["repair", " repair "], "work order types"),
    ],
)
def test_list_fields_must_be_non_empty_and_must_not_repeat(
    instance_type: InstanceType, field: str, repeated: list[str], what: str
) -> None:
    error = invalid(instance_type, {field: repeated})
    assert fields_of(error) == [f"configuration.{field}"]
    assert f"{what} must not repeat" in error.errors[0]["message"]

    empty = invalid(instance_type, {field: []})
    assert fields_of(empty) == [f"configuration.{field}"]
    assert "at least 1 item" in empty.errors[0]["message"]


# ---------------------------------------------------------------------------------------- WDS work calendar


def test_work_calendar_sorts_working_days_and_holidays() -> None:
    configuration = parse_configuration(
        InstanceType.WDS,
        {"work_calendar": {"working_days": [6, 1, 3], "holidays": ["2026-12-25", "2026-01-01"], "daily_hours": 24}},
    )
    assert isinstance(configuration, WdsConfiguration)

    assert configuration.work_calendar.working_days == [1, 3, 6]
    assert configuration.work_calendar.holidays == [date(2026, 1, 1), date(2026, 12, 25)]
    assert configuration.work_calendar.daily_hours == 24


@pytest.mark.parametrize(
    ("calendar", "bad_field"),
    [
        ({"working_days": [0, 1]}, "configuration.work_calendar.working_days.0"),
        ({"working_days": [1, 8]}, "configuration.work_calendar.working_days.1"),
        ({"working_days": []}, "configuration.work_calendar.working_days"),
        ({"working_days": [1, 2, 1]}, "configuration.work_calendar.working_days"),
        ({"daily_hours": 0}, "configuration.work_calendar.daily_hours"),
        ({"daily_hours": 24.5}, "configuration.work_calendar.daily_hours"),
        ({"holidays": ["2026-05-01", "2026-05-01"]}, "configuration.work_calendar.holidays"),
        ({"timezone": "Madrid"}, "configuration.work_calendar.timezone"),
        ({"weekends": [6, 7]}, "configuration.work_calendar.weekends"),
    ],
)
def test_work_calendar_refuses_invalid_values(calendar: dict[str, Any], bad_field: str) -> None:
    assert fields_of(invalid(InstanceType.WDS, {"work_calendar": calendar})) == [bad_field]


# ---------------------------------------------------------------------------------------- other types' fields


@pytest.mark.parametrize(
    ("instance_type", "field", "value", "valid"),
    [
        (InstanceType.MCRM, "currency", "USD", True),
        (InstanceType.MCRM, "currency", "eur", False),
        (InstanceType.MCRM, "currency", "EURO", False),
        (InstanceType.WTA, "rounding_minutes", 15, True),
        (InstanceType.WTA, "rounding_minutes", 7, False),
        (InstanceType.WTA, "overtime_policy", "monthly", False),
        (InstanceType.WDS, "profile", "enterprise", True),
        (InstanceType.WDS, "profile", "premium", False),
        (InstanceType.S360, "sla_hours", 720, True),
        (InstanceType.S360, "sla_hours", 721, False),
        (InstanceType.S360, "max_photos_per_order", 0, True),
        (InstanceType.S360, "max_photos_per_order", 51, False),
    ],
)
def test_type_specific_fields_are_constrained(instance_type: InstanceType, field: str, value: Any, valid: bool) -> None:
    if valid:
        assert configuration_document(parse_configuration(instance_type, {field: value}))[field] == value
    else:
        assert fields_of(invalid(instance_type, {field: value})) == [f"configuration.{field}"]


def test_s360_work_order_types_are_stripped() -> None:
    configuration = parse_configuration(InstanceType.S360, {"work_order_types": ["  install ", "repair"]})
    assert isinstance(configuration, S360Configuration)

    assert configuration.work_order_types == ["install", "repair"]


def test_s360_blank_work_order_type_is_refused() -> None:
    assert fields_of(invalid(InstanceType.S360, {"work_order_types": ["repair", "   "]})) == [
        "configuration.work_order_types.1"
    ]


# ---------------------------------------------------------------------------------------- derived values


def test_configurations_are_immutable() -> None:
    configuration = parse_configuration(InstanceType.WDS, {"terminal_quota": 3})
    assert isinstance(configuration, WdsConfiguration)

    with pytest.raises(ValidationError, match="frozen"):
        configuration.terminal_quota = 4  # type: ignore[misc]
    assert configuration.quota == 3


@pytest.mark.parametrize(
    ("configuration", "expected"),
    [
        (WdsConfiguration(), "professional"),
        (parse_configuration(InstanceType.WDS, {"profile": "essential"}), "essential"),
        (parse_configuration(InstanceType.WDS, {"profile": "enterprise"}), "enterprise"),
        (McrmConfiguration(), None),
        (S360Configuration(), None),
        (WtaConfiguration(), None),
    ],
    ids=["wds-default", "wds-essential", "wds-enterprise", "mcrm", "s360", "wta"],
)
def test_profile_of_is_the_plain_wds_profile_name_and_none_for_other_types(
    configuration: Configuration, expected: str | None
) -> None:
    result = profile_of(configuration)

    assert result == expected
    assert result is None or type(result) is str


@pytest.mark.parametrize(
    ("instance_type", "data"),
    [
        (
            InstanceType.WDS,
            {
                "profile": "enterprise",
                "clock_in_methods": ["nfc", "gps"],
                "work_calendar": {"timezone": "Europe/Lisbon", "holidays": ["2026-06-13"]},
            },
        ),
        (InstanceType.MCRM, {"modules": ["orders", "catalog"], "offline_sync": False, "currency": "GBP"}),
        (InstanceType.S360, {"sla_hours": 24, "work_order_types": ["audit"], "max_photos_per_order": 0}),
        (InstanceType.WTA, {"kiosk_count": 0, "overtime_policy": "daily", "rounding_minutes": 10}),
    ],
)
def test_the_stored_document_is_json_ready_and_parses_back_to_the_same_configuration(
    instance_type: InstanceType, data: dict[str, Any]
) -> None:
    configuration = parse_configuration(instance_type, data)

    document = configuration_document(configuration)

    assert document["type"] == instance_type.value
    assert all(document[key] == value for key, value in data.items() if key != "work_calendar")
    assert parse_configuration(instance_type, document) == configuration


def test_the_wds_document_serialises_dates_and_enums_as_plain_json() -> None:
    document = configuration_document(
        parse_configuration(InstanceType.WDS, {"profile": "essential", "work_calendar": {"holidays": ["2026-08-15"]}})
    )

    assert document["profile"] == "essential"
    assert document["clock_in_methods"] == ["pin"]
    assert document["work_calendar"] == {
        "timezone": "Europe/Madrid",
        "working_days": [1, 2, 3, 4, 5],
        "daily_hours": 8.0,
        "holidays": ["2026-08-15"],
    }
