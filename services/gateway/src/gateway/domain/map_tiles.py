"""The activity map's tile server, as the web app's Content-Security-Policy must name it."""

from __future__ import annotations

from urllib.parse import urlsplit


def tile_origin(template: str) -> str:
    """The CSP source of a `{z}/{x}/{y}` tile URL template: its scheme and host, a `{s}.` subdomain
    placeholder widened to `*.` (the only wildcard CSP allows)."""
    parts = urlsplit(template)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL template: {template!r}")
    host = parts.netloc.split("@")[-1]
    if host.startswith("{s}."):
        host = "*" + host.removeprefix("{s}")
    if "{" in host:
        raise ValueError(f"only a leading {{s}} may stand in the host of a tile URL template: {template!r}")
    return f"{parts.scheme}://{host}"
