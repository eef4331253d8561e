"""A partner's customer company (R-02)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts.events.common import Actor


@dataclass(frozen=True)
class Address:
    street: str
    city: str
    postal_code: str
    province: str
    country: str  # ISO 3166-1 alpha-2


@dataclass
class Company:
    id: str
    partner_id: str
    name: str
    tax_id: str
    address: Address
    contact_person: str
    email: str
    phone: str
    created_at: datetime
    created_by: Actor
    updated_at: datetime
    version: int = 0

    def snapshot(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "tax_id": self.tax_id,
            "address": vars(self.address),
            "contact_person": self.contact_person,
            "email": self.email,
            "phone": self.phone,
        }

    def one_line_address(self) -> str:
        a = self.address
        return f"{a.street}, {a.postal_code} {a.city} ({a.province}), {a.country}"
