"""Events of the instances service about partners' customer companies."""

from __future__ import annotations

from pydantic import Field

from contracts.events.common import Actor, Id, Payload


class CompanyCreated(Payload):
    """A partner registered a customer company; other services keep what they need of it
    (e.g. support names the company's thread after it)."""

    company_id: Id
    partner_id: Id
    name: str = Field(min_length=1, max_length=200)
    tax_id: str = Field(min_length=1, max_length=32)
    created_by: Actor


class CompanyUpdated(Payload):
    """A company's data changed; `name` and `tax_id` are its current values."""

    company_id: Id
    partner_id: Id
    name: str = Field(min_length=1, max_length=200)
    tax_id: str = Field(min_length=1, max_length=32)
    updated_by: Actor
