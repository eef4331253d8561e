"""JSON Merge Patch (RFC 7396, its appendix A examples) and the request fingerprint of Idempotency-Key."""

from __future__ import annotations

from typing import Any

import pytest

from servicekit.idempotency import fingerprint
from servicekit.merge_patch import merge_patch


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"a": "foo"}, None, None),
        ({"a": "foo"}, "bar", "bar"),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_merge_patch_follows_rfc_7396(target: Any, patch: Any, expected: Any) -> None:
    assert merge_patch(target, patch) == expected


def test_merge_patch_leaves_its_arguments_alone() -> None:
    target = {"a": {"b": [1]}, "c": 1}
    patch = {"a": {"d": 2}}
    merged = merge_patch(target, patch)
    merged["a"]["b"].append(2)
    assert target == {"a": {"b": [1]}, "c": 1}
    assert patch == {"a": {"d": 2}}


def test_the_fingerprint_ignores_member_order_but_not_content_method_or_path() -> None:
    base = fingerprint("POST", "/v1/threads/t1/messages", {"body": "hola", "n": 1})
    assert fingerprint("post", "/v1/threads/t1/messages", {"n": 1, "body": "hola"}) == base
    assert fingerprint("POST", "/v1/threads/t1/messages", {"body": "adiós", "n": 1}) != base
    assert fingerprint("POST", "/v1/threads/t2/messages", {"body": "hola", "n": 1}) != base
    assert fingerprint("PUT", "/v1/threads/t1/messages", {"body": "hola", "n": 1}) != base
