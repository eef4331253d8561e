"""JSON Merge Patch (RFC 7396): what a PATCH body does to the stored document.

A member sent replaces the stored one (objects merge member by member, recursively); a member
sent as `null` is removed, so an optional field is cleared and a field with a default takes it
again; a member not sent keeps its value. The merged result is then validated as a whole by the
route, so a patch can never store what a full request could not.
"""

from __future__ import annotations

import copy
from typing import Any

MEDIA_TYPE = "application/merge-patch+json"


def merge_patch(target: Any, patch: Any) -> Any:
    """`target` with `patch` applied; neither argument is modified."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result: dict[str, Any] = copy.deepcopy(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = merge_patch(result.get(name), value)
    return result


def openapi_extra(schema: str) -> dict[str, Any]:
    """For a PATCH route's `openapi_extra`: its body is also accepted as `application/merge-patch+json`
    (FastAPI reads any `+json` body; it only documents `application/json`)."""
    return {
        "requestBody": {"content": {MEDIA_TYPE: {"schema": {"$ref": f"#/components/schemas/{schema}"}}}},
    }
