"""The forwarding proxy's pure helpers: the merged public OpenAPI document and the audit route
template. No HTTP."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from gateway.entrypoints.proxy import UPLOAD_PATHS, USER_ROUTES, _target, _template, merge_openapi

pytestmark = pytest.mark.unit


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def answer(schema: dict[str, Any]) -> dict[str, Any]:
    return {"responses": {"200": {"content": {"application/json": {"schema": schema}}}}}


OWN: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "partnerapp", "version": "1"},
    "paths": {"/api/v1/auth/login": {"post": answer(ref("Tokens"))}},
    "components": {"schemas": {"Tokens": {"type": "object"}}},
}
INSTANCES: dict[str, Any] = {
    "paths": {
        "/v1/instances/{instance_id}": {"get": answer(ref("Instance"))},
        "/v1/companies": {"get": answer({"type": "array", "items": ref("Company")})},
        "/v1/device/configuration": {"get": answer(ref("DeviceConfiguration"))},
        "/v1/threads": {"get": answer(ref("Thread"))},  # not the instances service's resource
        "/health": {"get": answer({"type": "string"})},
        "/v1": {"get": answer({"type": "string"})},
    },
    "components": {
        "schemas": {
            "Instance": {"type": "object", "properties": {"company": ref("Company")}},
            "Company": {"type": "object"},
            "Problem": {"type": "object", "properties": {"status": {"type": "integer"}}},
        }
    },
}
SUPPORT: dict[str, Any] = {
    "paths": {"/v1/threads/{thread_id}": {"get": answer({"oneOf": [ref("Thread"), ref("Problem")]})}},
    "components": {"schemas": {"Thread": {"type": "object"}, "Problem": {"type": "object", "title": "support"}}},
}
ACTIVITY: dict[str, Any] = {"paths": {"/v1/ingest/events": {"post": answer(ref("Accepted"))}}}


def merged() -> dict[str, Any]:
    return merge_openapi(OWN, {"instances": INSTANCES, "support": SUPPORT, "activity": ACTIVITY})


def test_merged_paths_are_the_gateways_plus_each_services_own_resources_under_api() -> None:
    assert set(merged()["paths"]) == {
        "/api/v1/auth/login",
        "/api/v1/instances/{instance_id}",
        "/api/v1/companies",
        "/api/v1/device/configuration",
        "/api/v1/threads/{thread_id}",
        "/api/v1/ingest/events",
    }


def test_a_discriminators_mapping_is_renamed_with_the_schemas_it_names() -> None:
    union = {
        "oneOf": [ref("Wds"), ref("Mcrm")],
        "discriminator": {
            "propertyName": "type",
            "mapping": {"WDS": "#/components/schemas/Wds", "MCRM": "#/components/schemas/Mcrm"},
        },
    }
    service = {
        "paths": {"/v1/instances/{instance_id}": {"get": answer(union)}},
        "components": {"schemas": {"Wds": {"type": "object"}, "Mcrm": {"type": "object"}}},
    }
    document = merge_openapi(OWN, {"instances": service})

    schema = document["paths"]["/api/v1/instances/{instance_id}"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]
    assert schema["discriminator"]["mapping"] == {
        "WDS": "#/components/schemas/instances__Wds",
        "MCRM": "#/components/schemas/instances__Mcrm",
    }
    assert schema["discriminator"]["propertyName"] == "type"
    assert {"instances__Wds", "instances__Mcrm"} <= set(document["components"]["schemas"])


def test_a_service_cannot_publish_a_resource_another_service_owns() -> None:
    only_instances = merge_openapi(OWN, {"instances": INSTANCES})

    assert "/api/v1/threads" not in only_instances["paths"]
    assert not any(path.endswith("health") for path in only_instances["paths"])


def test_schemas_are_prefixed_by_service_and_same_names_do_not_collide() -> None:
    schemas = merged()["components"]["schemas"]

    assert schemas["Tokens"] == {"type": "object"}  # the gateway's own, unprefixed
    assert schemas["instances__Problem"] == INSTANCES["components"]["schemas"]["Problem"]
    assert schemas["support__Problem"] == {"type": "object", "title": "support"}
    assert "Problem" not in schemas and "Instance" not in schemas


def test_a_schema_the_gateway_has_the_same_is_kept_once_under_its_name() -> None:
    problem = {"type": "object", "title": "Problem"}
    own = {**OWN, "components": {"schemas": {"Problem": problem}}}
    service = {
        "paths": {"/v1/companies": {"get": {"responses": {"404": {"content": {"x": {"schema": ref("Problem")}}}}}}},
        "components": {"schemas": {"Problem": dict(problem)}},
    }
    document = merge_openapi(own, {"instances": service})
    assert set(document["components"]["schemas"]) == {"Problem"}
    responses = document["paths"]["/api/v1/companies"]["get"]["responses"]
    assert responses["404"]["content"]["x"]["schema"] == ref("Problem")
    assert "503" in responses, "the service may not answer the gateway"


def test_a_discriminators_mapping_points_to_the_prefixed_schemas() -> None:
    union = {
        "oneOf": [ref("Wds"), ref("Mcrm")],
        "discriminator": {
            "propertyName": "type",
            "mapping": {"WDS": "#/components/schemas/Wds", "MCRM": "#/components/schemas/Mcrm"},
        },
    }
    service = {
        "paths": {"/v1/instances/{instance_id}": {"get": answer(union)}},
        "components": {"schemas": {"Wds": {"type": "object"}, "Mcrm": {"type": "object"}}},
    }
    schema = merge_openapi(OWN, {"instances": service})["paths"]["/api/v1/instances/{instance_id}"]["get"]
    discriminator = schema["responses"]["200"]["content"]["application/json"]["schema"]["discriminator"]
    assert discriminator["mapping"] == {
        "WDS": "#/components/schemas/instances__Wds",
        "MCRM": "#/components/schemas/instances__Mcrm",
    }


def test_refs_point_to_the_prefixed_schemas_at_any_depth() -> None:
    document = merged()
    paths, schemas = document["paths"], document["components"]["schemas"]

    def schema_of(path: str, method: str = "get") -> Any:
        return paths[path][method]["responses"]["200"]["content"]["application/json"]["schema"]

    assert schema_of("/api/v1/instances/{instance_id}") == ref("instances__Instance")
    assert schema_of("/api/v1/companies")["items"] == ref("instances__Company")
    assert schema_of("/api/v1/threads/{thread_id}")["oneOf"] == [ref("support__Thread"), ref("support__Problem")]
    assert schemas["instances__Instance"]["properties"]["company"] == ref("instances__Company")
    assert schema_of("/api/v1/auth/login", "post") == ref("Tokens")  # own refs untouched


def test_merging_changes_neither_input_and_works_without_own_paths() -> None:
    own, instances = copy.deepcopy(OWN), copy.deepcopy(INSTANCES)
    merge_openapi(own, {"instances": instances})
    assert (own, instances) == (OWN, INSTANCES)

    bare = merge_openapi({"openapi": "3.1.0"}, {"support": SUPPORT})
    assert set(bare["paths"]) == {"/api/v1/threads/{thread_id}"}
    assert set(bare["components"]["schemas"]) == {"support__Thread", "support__Problem"}


@pytest.mark.parametrize(
    ("rest", "template"),
    [
        ("inst-1", "{id}"),
        ("inst-1/extend", "{id}/extend"),
        ("inst-1/licenses/lic-9/revoke", "{id}/licenses/{id}/revoke"),
        ("thr-1/messages", "{id}/messages"),
    ],
)
def test_template_replaces_the_ids_of_id_first_routes(rest: str, template: str) -> None:
    assert _template("instances", rest) == template


def test_template_keeps_sub_collection_names_and_hides_ids_of_activity_routes() -> None:
    assert _template("activity", "records/rec-42/release-license") == "records/{id}/release-license"
    assert _target("activity", "records/rec-42/release-license") == "rec-42"
    assert _target("instances", "inst-1/licenses/lic-9/revoke") == "inst-1"
    assert _target("activity", "records") is None


def test_support_routes_go_to_support_with_the_id_after_their_sub_collection() -> None:
    assert USER_ROUTES["support"] == "support"
    assert _template("support", "canned-replies/cnr-1") == "canned-replies/{id}"
    assert _target("support", "canned-replies/cnr-1") == "cnr-1"
    assert _target("support", "search") is None
    assert _template("threads", "thr-1/attachments/att-2/thumbnail") == "{id}/attachments/{id}/thumbnail"
    assert any(re.match(p, "/api/v1/threads/thr-1/attachments") for p in UPLOAD_PATHS)
    assert not any(re.match(p, "/api/v1/threads/thr-1/messages") for p in UPLOAD_PATHS)
