"""Types shared by several payloads."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

Id = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
"""An entity id: opaque, URL-safe, never empty."""

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class Payload(BaseModel):
    """Base of every payload: immutable; unknown fields are ignored so producers may add
    optional fields without breaking older consumers (versioning rule, ARCHITECTURE §5)."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class InstanceType(StrEnum):
    WDS = "WDS"
    MCRM = "MCRM"
    S360 = "S360"
    WTA = "WTA"


class Actor(BaseModel):
    """Who did it: a user of a partner or of the vendor's staff, or the system itself."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    user_id: Id
    role: Annotated[str, StringConstraints(pattern=r"^(partner|staff|system)$")]
