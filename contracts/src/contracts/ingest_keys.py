"""The ingest key format, shared by the service that issues keys (instances) and the one that
checks them (activity): `pik_<instance id>.<secret>`. Only its SHA-256 ever leaves the issuer."""

from __future__ import annotations

import hashlib

PREFIX = "pik_"


class InvalidIngestKey(Exception):
    """The key is malformed, unknown or was rotated away (every service answers 401)."""


def compose(instance_id: str, secret: str) -> str:
    return f"{PREFIX}{instance_id}.{secret}"


def instance_of(key: str) -> str | None:
    """The instance a key claims to belong to (to be confirmed by its digest), or None if malformed."""
    if not key.startswith(PREFIX) or "." not in key:
        return None
    return key.removeprefix(PREFIX).rsplit(".", 1)[0] or None


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
