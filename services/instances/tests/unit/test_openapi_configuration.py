"""The OpenAPI document of the instances service: the per-type configuration is a union told apart
by `type` (not a free-form object) wherever it travels, and every PATCH body is a merge patch."""

from __future__ import annotations

from typing import Any

import pytest

from instances.bootstrap import build_app
from instances.config import Settings

pytestmark = pytest.mark.unit

TYPES = {"WDS": "WdsConfiguration", "MCRM": "McrmConfiguration", "S360": "S360Configuration", "WTA": "WtaConfiguration"}
PATCHES = {
    "/v1/instances/{instance_id}": "InstancePatch",
    "/v1/provisionings/{instance_id}": "DraftPatch",
    "/v1/companies/{company_id}": "CompanyPatch",
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    openapi: dict[str, Any] = build_app(Settings()).openapi()
    return openapi


def _union(schema: dict[str, Any]) -> dict[str, Any]:
    """The union itself, inside a nullable `anyOf` if it is optional."""
    if "anyOf" in schema:
        (union,) = [s for s in schema["anyOf"] if s.get("type") != "null"]
        return union
    return schema


@pytest.mark.parametrize(
    ("model", "field"),
    [("InstanceOut", "configuration"), ("DraftIn", "configuration"), ("DeviceConfigurationOut", "configuration")],
)
def test_the_configuration_is_a_union_discriminated_by_type(document: dict[str, Any], model: str, field: str) -> None:
    schemas = document["components"]["schemas"]
    union = _union(schemas[model]["properties"][field])
    assert union["discriminator"]["propertyName"] == "type"
    assert union["discriminator"]["mapping"] == {t: f"#/components/schemas/{name}" for t, name in TYPES.items()}
    assert sorted(s["$ref"] for s in union["oneOf"]) == sorted(f"#/components/schemas/{n}" for n in TYPES.values())
    for instance_type, name in TYPES.items():
        assert schemas[name]["properties"]["type"]["const"] == instance_type
        assert schemas[name]["additionalProperties"] is False


@pytest.mark.parametrize(("path", "model"), PATCHES.items())
def test_every_patch_body_is_a_merge_patch_with_no_required_field(
    document: dict[str, Any], path: str, model: str
) -> None:
    body = document["paths"][path]["patch"]["requestBody"]["content"]
    assert set(body) == {"application/json", "application/merge-patch+json"}
    assert {b["schema"]["$ref"] for b in body.values()} == {f"#/components/schemas/{model}"}
    schema = document["components"]["schemas"][model]
    assert "required" not in schema
    assert "RFC 7396" in schema["description"]


def test_the_configuration_patch_shapes_are_the_types_fields_all_optional(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    shapes = schemas["InstancePatch"]["properties"]["configuration"]["anyOf"]
    assert sorted(s["$ref"] for s in shapes) == sorted(f"#/components/schemas/{n}Patch" for n in TYPES.values())
    for name in TYPES.values():
        patch = schemas[f"{name}Patch"]
        assert "required" not in patch
        assert set(patch["properties"]) == set(schemas[name]["properties"])
    assert "required" not in schemas["WorkCalendarPatch"]
    calendar = schemas["WdsConfigurationPatch"]["properties"]["work_calendar"]["anyOf"]
    assert {"$ref": "#/components/schemas/WorkCalendarPatch"} in calendar
