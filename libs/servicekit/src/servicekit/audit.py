"""Audit entries: who did what to which target, with the state before and after.

They are stored through the outbox (see `outbox.py`), so a change and its audit record are one
write; the relay copies them into the service's `audit` collection.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts import utc_now

AUDIT_COLLECTION = "audit"
AUDIT_KIND = "audit"


class AuditEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    kind: Literal["audit"] = "audit"
    at: AwareDatetime = Field(default_factory=utc_now)
    actor_id: str
    actor_role: str
    partner_id: str
    action: str
    target_type: str
    target_id: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
