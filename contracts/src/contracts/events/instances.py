"""Events of the instances service about instances and terminal sessions."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import Field

from contracts.events.common import Actor, Id, InstanceType, Payload, Reason
from contracts.serials import SerialId


class InstanceProvisioned(Payload):
    """A provisioning was generated: the instance exists from now on (irreversible)."""

    instance_id: Id
    partner_id: Id
    company_id: Id
    provisioning_id: Id
    contract_number: str = Field(min_length=1, max_length=64)
    name: str | None = Field(default=None, max_length=200, description="The instance's name (added in v1; optional).")
    type: InstanceType
    profile: str | None = Field(default=None, description="WDS contracted profile; None for other types.")
    activation_date: date
    expiry_date: date
    configuration: dict[str, Any] = Field(default_factory=dict, description="Type-specific configuration.")
    provisioned_by: Actor


class InstanceUpdated(Payload):
    """Data or configuration of an instance changed; `changes` holds the new values only."""

    instance_id: Id
    partner_id: Id
    company_id: Id
    type: InstanceType
    changes: dict[str, Any]
    updated_by: Actor


class InstanceExtended(Payload):
    """The expiry date moved; effective at once (R-03)."""

    instance_id: Id
    partner_id: Id
    company_id: Id
    previous_expiry_date: date
    new_expiry_date: date
    extended_by: Actor


class InstanceCancellationRequested(Payload):
    """The partner asked to cancel the instance (R-25)."""

    instance_id: Id
    partner_id: Id
    company_id: Id
    reason: Reason
    requested_by: Actor


class SessionCleared(Payload):
    """A terminal's session (or every terminal's, when `serial` is None) must log in again (R-23)."""

    instance_id: Id
    partner_id: Id
    serial: SerialId | None = None
    session_epoch: int = Field(
        ge=1,
        description="The epoch the cleared terminal (or every terminal) must have seen: a terminal whose last "
        "login saw a lower one must log in again.",
    )
    cleared_by: Actor


class IngestKeyRotated(Payload):
    """The instance's terminals authenticate with a new ingest key from now on; the previous one
    stops working. Carries the key's SHA-256 only: enough to verify a key, useless to forge one."""

    instance_id: Id
    partner_id: Id
    key_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    rotated_by: Actor
