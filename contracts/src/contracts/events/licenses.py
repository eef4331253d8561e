"""Events of the instances service about licenses (seats)."""

from __future__ import annotations

from pydantic import EmailStr, Field

from contracts.events.common import Actor, Id, Payload, Reason
from contracts.serials import SerialId


class LicenseAdded(Payload):
    license_id: Id
    instance_id: Id
    partner_id: Id
    company_id: Id
    user_name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    pin: str = Field(min_length=1, max_length=32)
    serial: SerialId | None = Field(default=None, description="Terminal bound to the seat, if any.")
    added_by: Actor


class LicenseRevoked(Payload):
    """The license was cancelled, with a reason (R-26)."""

    license_id: Id
    instance_id: Id
    partner_id: Id
    company_id: Id
    pin: str = Field(min_length=1, max_length=32)
    serial: SerialId | None = None
    reason: Reason
    revoked_by: Actor


class LicenseReleased(Payload):
    """The seat was freed from its terminal (R-43); the license stays usable elsewhere."""

    license_id: Id
    instance_id: Id
    partner_id: Id
    company_id: Id
    pin: str = Field(min_length=1, max_length=32)
    serial: SerialId = Field(description="The terminal the seat was bound to.")
    reason: Reason | None = None
    released_by: Actor
