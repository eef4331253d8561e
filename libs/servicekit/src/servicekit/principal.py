"""Who calls: the verified identity every use case is scoped by (no framework imports)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["partner", "staff"]
Locale = Literal["es", "en"]


@dataclass(frozen=True)
class Principal:
    """Who calls, and for which partner they act (every query is scoped to `partner_id`)."""

    user_id: str
    role: Role
    partner_id: str
    partner_ids: frozenset[str] = field(default_factory=frozenset)
    name: str = ""
    """The user's display name (OIDC claim `name`); empty in tokens issued before it was carried."""
    language: Locale | None = None
    """The user's language (OIDC claim `locale`); None when the token does not say."""

    @property
    def is_staff(self) -> bool:
        return self.role == "staff"
