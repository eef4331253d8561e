"""Events of the gateway about partners (the vendor's resellers), whose directory it keeps."""

from __future__ import annotations

from pydantic import Field

from contracts.events.common import Id, Payload


class PartnerUpdated(Payload):
    """A partner was registered or renamed; `name` is its current name (other services keep it,
    e.g. support fills `{{partner.name}}` in canned replies)."""

    partner_id: Id
    name: str = Field(min_length=1, max_length=200)
