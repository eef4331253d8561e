"""A screen composed from several services (ARCHITECTURE §2): its parts, and the optional parts
whose service failed or was late (flagged, not fatal)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Degraded:
    part: str
    service: str
    reason: str


@dataclass
class View:
    parts: dict[str, Any] = field(default_factory=dict)
    degraded: list[Degraded] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            **self.parts,
            "degraded": [{"part": d.part, "service": d.service, "reason": d.reason} for d in self.degraded],
        }
