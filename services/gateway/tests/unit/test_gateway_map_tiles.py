"""The map's tile server as the Content-Security-Policy names it, and the setting that refuses a
template the policy could not name."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.config import Settings
from gateway.domain.map_tiles import tile_origin
from gateway.entrypoints.web import security_headers

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("template", "origin"),
    [
        ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", "https://tile.openstreetmap.org"),
        ("https://{s}.tiles.example.com/osm/{z}/{x}/{y}.png", "https://*.tiles.example.com"),
        ("http://127.0.0.1:8080/{z}/{x}/{y}.png", "http://127.0.0.1:8080"),
        ("https://user:secret@maps.example.com/{z}/{x}/{y}.png", "https://maps.example.com"),
    ],
)
def test_the_origin_of_a_tile_template_is_its_scheme_and_host(template: str, origin: str) -> None:
    assert tile_origin(template) == origin


@pytest.mark.parametrize(
    "template",
    [
        "javascript:alert(1)",
        "/tiles/{z}/{x}/{y}.png",
        "https://tiles-{z}.example.com/{x}/{y}.png",
        "https://a.{s}.example.com/{z}/{x}/{y}.png",
        "data:,x",
    ],
)
def test_a_template_without_a_fixed_http_origin_is_refused(template: str) -> None:
    with pytest.raises(ValueError, match=r"template|URL"):
        tile_origin(template)
    with pytest.raises(ValidationError, match="map_tile_url"):
        Settings(map_tile_url=template)


def test_the_policy_adds_only_the_given_image_origins() -> None:
    policy = security_headers(("https://tile.example.com",))["Content-Security-Policy"]
    assert "img-src 'self' data: blob: https://tile.example.com;" in policy
    assert "img-src 'self' data: blob:;" in security_headers()["Content-Security-Policy"]
