"""List prices per seat and month (EUR), by product and WDS profile, for the contract."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from contracts.events.common import InstanceType

CURRENCY = "EUR"
MONTHLY_PRICE_PER_SEAT: dict[tuple[InstanceType, str | None], Decimal] = {
    (InstanceType.WDS, "essential"): Decimal("4.00"),
    (InstanceType.WDS, "professional"): Decimal("6.50"),
    (InstanceType.WDS, "enterprise"): Decimal("9.00"),
    (InstanceType.MCRM, None): Decimal("12.00"),
    (InstanceType.S360, None): Decimal("15.00"),
    (InstanceType.WTA, None): Decimal("3.00"),
}


@dataclass(frozen=True)
class Pricing:
    currency: str
    unit_price: Decimal  # per seat and month
    seats: int
    monthly_total: Decimal
    term_months: int
    term_total: Decimal


def price_for(instance_type: InstanceType, profile: str | None, seats: int, term_months: int) -> Pricing:
    unit = MONTHLY_PRICE_PER_SEAT[(instance_type, profile)]
    monthly = unit * seats
    return Pricing(CURRENCY, unit, seats, monthly, term_months, monthly * term_months)
