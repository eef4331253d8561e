"""Who calls: the verified identity every use case is scoped by (no framework imports)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["partner", "staff"]


@dataclass(frozen=True)
class Principal:
    """Who calls, and for which partner they act (every query is scoped to `partner_id`)."""

    user_id: str
    role: Role
    partner_id: str
    partner_ids: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_staff(self) -> bool:
        return self.role == "staff"
