"""Events of the instances service about licenses (seats)."""

from __future__ import annotations

from pydantic import AwareDatetime, EmailStr, Field

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


class LicenseImpersonated(Payload):
    """Someone opened the web panel as the license's user (R-22): a short-lived, signed grant.

    `grant_id` is the `jti` the token carries: the panel reports it when the session it opens
    starts and ends, which is how the activity service shows the grant as delivered and applied.
    """

    grant_id: Id = Field(description="The grant's id, the token's `jti`.")
    license_id: Id
    instance_id: Id
    partner_id: Id
    company_id: Id
    pin: str | None = Field(default=None, min_length=1, max_length=32)
    user: EmailStr | None = Field(default=None, description="The license's user, whom the panel acts as.")
    serial: SerialId | None = Field(default=None, description="The terminal the seat is bound to, if any.")
    reason: Reason
    expires_at: AwareDatetime = Field(description="When the grant's token stops being accepted.")
    impersonated_by: Actor
