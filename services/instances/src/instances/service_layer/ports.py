"""What the use cases need from the outside world; adapters implement these."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from contracts import EventEnvelope
from contracts.events.common import InstanceType
from instances.domain.company import Company
from instances.domain.listing import InstanceListing
from instances.domain.model import Contract, Instance, InstanceStatus, Stage
from servicekit.audit import AuditEntry
from servicekit.pagination import Page, Sort

Pending = EventEnvelope[Any] | AuditEntry

# Public sort names and the stored fields behind them.
INSTANCE_SORTS = {
    "created_at": "created_at",
    "name": "name_sort",
    "expiry_date": "expiry_date",
    "type": "type",
    "status": "status",
}
COMPANY_SORTS = {"name": "name_sort", "created_at": "created_at", "tax_id": "tax_id"}


@dataclass(frozen=True)
class InstanceQuery:
    stages: tuple[Stage, ...] = (Stage.GENERATED,)
    type: InstanceType | None = None
    status: InstanceStatus | None = None
    company_id: str | None = None
    text: str | None = None
    expiring_within_days: int | None = None
    today: date | None = None  # what "expired" and "expiring" count from; the queries' clock when None
    sort: Sort = field(default_factory=lambda: Sort("created_at", descending=True))
    limit: int = 20
    cursor: str | None = None


@dataclass(frozen=True)
class CompanyQuery:
    text: str | None = None
    sort: Sort = field(default_factory=lambda: Sort("name"))
    limit: int = 20
    cursor: str | None = None


class InstanceRepository(Protocol):
    async def get(self, partner_id: str, instance_id: str) -> Instance | None: ...

    async def add(self, instance: Instance, pending: list[Pending]) -> None: ...

    async def save(self, instance: Instance, pending: list[Pending]) -> bool:
        """Store the new state if nobody changed it since it was read (optimistic concurrency);
        False when somebody did. On success the instance's version moves on."""

    async def search(self, partner_id: str, query: InstanceQuery) -> Page[InstanceListing]:
        """A page of listings: what a list shows of each instance (no licenses, sessions nor contract)."""

    async def find_by_id(self, instance_id: str) -> Instance | None:
        """Unscoped look-up, for device-facing calls authenticated by the instance's key."""


class CompanyRepository(Protocol):
    async def get(self, partner_id: str, company_id: str) -> Company | None: ...

    async def add(self, company: Company, pending: list[Pending]) -> None:
        """Raises DuplicateTaxId when the partner already has a company with that tax id."""

    async def save(self, company: Company, pending: list[Pending]) -> bool: ...

    async def search(self, partner_id: str, query: CompanyQuery) -> Page[Company]: ...


class ContractNumbers(Protocol):
    async def next(self, year: int) -> str: ...


class ImpersonationSigner(Protocol):
    def sign(
        self, *, license_id: str, email: str, instance_id: str, actor_id: str, expires_at: datetime, grant_id: str
    ) -> str:
        """A token naming the grant (`jti` = `grant_id`, the id the audit and the event carry)."""


class Clock(Protocol):
    def now(self) -> datetime: ...


class ContractDocuments(Protocol):
    def html(self, contract: Contract, language: str) -> str: ...

    def pdf(self, contract: Contract, language: str) -> bytes: ...
