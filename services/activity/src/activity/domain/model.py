from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ActivityRecord:
    """One thing a terminal did, as stored: the telemetry event plus when it was admitted."""

    event_id: str
    serial: str
    instance_id: str
    partner_id: str
    action: str
    occurred_at: datetime
    received_at: datetime
    pin: str | None = None
    device: dict[str, Any] | None = None
    battery_pct: int | None = None
    location: dict[str, Any] | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def visible_to(self, partner_id: str) -> bool:
        return self.partner_id == partner_id
