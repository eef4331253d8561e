"""The instances use cases on in-memory fakes, for service-layer tests (never used by the service).

`bootstrap_test_app()` wires `InstanceCommands`, `InstanceQueries` and `InstanceEventHandlers` as
`bootstrap.build_use_cases` does, with in-memory repositories that keep what a write would put in
the outbox (events and audit entries), a clock the test moves, and fake contract documents.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from contracts import EventEnvelope
from instances.domain.company import Company
from instances.domain.errors import Conflict
from instances.domain.listing import InstanceListing
from instances.domain.model import Contract, Instance, InstanceStatus, Party
from instances.service_layer.commands import InstanceCommands, ServiceParties
from instances.service_layer.event_handlers import InstanceEventHandlers
from instances.service_layer.ports import CompanyQuery, InstanceQuery, Pending
from instances.service_layer.queries import InstanceQueries
from servicekit.audit import AuditEntry
from servicekit.pagination import InvalidCursor, Page, Sort


@dataclass
class MovableClock:
    at: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 9, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self.at

    def advance(self, by: timedelta) -> None:
        self.at += by


@dataclass
class Outbox:
    """What the writes left for the relay, in order."""

    pending: list[Pending] = field(default_factory=list)

    def events(self, event_type: str | None = None) -> list[EventEnvelope[Any]]:
        return [
            p for p in self.pending if isinstance(p, EventEnvelope) and (event_type is None or p.type == event_type)
        ]

    def audit(self) -> list[AuditEntry]:
        return [p for p in self.pending if isinstance(p, AuditEntry)]


def _page(items: list[Any], sort: Sort, key: Any, limit: int, cursor: str | None) -> Page[Any]:
    """One page by `key` (then id); the cursor is the last id shown (opaque to callers anyway)."""
    ordered = sorted(items, key=lambda item: (key(item, sort.field), item.id), reverse=sort.descending)
    start = 0
    if cursor is not None:
        ids = [item.id for item in ordered]
        if cursor not in ids:
            raise InvalidCursor
        start = ids.index(cursor) + 1
    window = ordered[start : start + limit]
    return Page(window, window[-1].id if start + limit < len(ordered) and window else None)


def _instance_sort_value(instance: Instance, stored_field: str) -> Any:
    values: dict[str, Any] = {
        "name_sort": instance.name.casefold(),
        "created_at": instance.created_at,
        "expiry_date": instance.expiry_date.isoformat() if instance.expiry_date else "",
        "type": instance.type.value,
        "status": instance.status.value if instance.status else "",
    }
    return values[stored_field]


def _company_sort_value(company: Company, stored_field: str) -> Any:
    values: dict[str, Any] = {
        "name": company.name,  # `CompanyQuery`'s default sort
        "name_sort": company.name.casefold(),
        "created_at": company.created_at,
        "tax_id": company.tax_id,
    }
    return values[stored_field]


@dataclass
class InMemoryInstances:
    outbox: Outbox
    stored: dict[str, Instance] = field(default_factory=dict)

    async def get(self, partner_id: str, instance_id: str) -> Instance | None:
        instance = self.stored.get(instance_id)
        return copy.deepcopy(instance) if instance and instance.partner_id == partner_id else None

    async def find_by_id(self, instance_id: str) -> Instance | None:
        instance = self.stored.get(instance_id)
        return copy.deepcopy(instance) if instance else None

    async def add(self, instance: Instance, pending: list[Pending]) -> None:
        self.stored[instance.id] = copy.deepcopy(instance)
        self.outbox.pending.extend(pending)

    async def save(self, instance: Instance, pending: list[Pending]) -> bool:
        current = self.stored.get(instance.id)
        if current is None or current.version != instance.version:
            return False
        instance.version += 1
        self.stored[instance.id] = copy.deepcopy(instance)
        self.outbox.pending.extend(pending)
        return True

    async def search(self, partner_id: str, query: InstanceQuery) -> Page[InstanceListing]:
        today = query.today or date.today()
        until = today + timedelta(days=query.expiring_within_days or 0)
        text = (query.text or "").casefold()

        def matches(i: Instance) -> bool:
            expiring = query.expiring_within_days is None or (
                i.status == InstanceStatus.ACTIVE and i.expiry_date is not None and today <= i.expiry_date <= until
            )
            return (
                i.partner_id == partner_id
                and i.stage in query.stages
                and (query.type is None or i.type == query.type)
                and (query.status is None or i.effective_status(today) == query.status)
                and (query.company_id is None or i.company_id == query.company_id)
                and (not text or text in i.name.casefold() or text in i.id.casefold())
                and expiring
            )

        found = [copy.deepcopy(i) for i in self.stored.values() if matches(i)]
        page = _page(found, query.sort, _instance_sort_value, query.limit, query.cursor)
        return Page([InstanceListing.of(i) for i in page.items], page.next_cursor)


@dataclass
class InMemoryCompanies:
    outbox: Outbox
    stored: dict[str, Company] = field(default_factory=dict)

    async def get(self, partner_id: str, company_id: str) -> Company | None:
        company = self.stored.get(company_id)
        return copy.deepcopy(company) if company and company.partner_id == partner_id else None

    async def add(self, company: Company, pending: list[Pending]) -> None:
        self._check_tax_id(company)
        self.stored[company.id] = copy.deepcopy(company)
        self.outbox.pending.extend(pending)

    async def save(self, company: Company, pending: list[Pending]) -> bool:
        current = self.stored.get(company.id)
        if current is None or current.version != company.version:
            return False
        self._check_tax_id(company)
        company.version += 1
        self.stored[company.id] = copy.deepcopy(company)
        self.outbox.pending.extend(pending)
        return True

    async def search(self, partner_id: str, query: CompanyQuery) -> Page[Company]:
        text = (query.text or "").casefold()
        found = [
            copy.deepcopy(c)
            for c in self.stored.values()
            if c.partner_id == partner_id
            and (not text or any(text in v.casefold() for v in (c.name, c.tax_id, c.contact_person)))
        ]
        return _page(found, query.sort, _company_sort_value, query.limit, query.cursor)

    def _check_tax_id(self, company: Company) -> None:
        # As the store's unique index (partner, tax id) does.
        if any(
            c.partner_id == company.partner_id and c.tax_id == company.tax_id and c.id != company.id
            for c in self.stored.values()
        ):
            raise Conflict(
                "tax-id-in-use", f"Another company of this partner has tax id {company.tax_id}.", field="tax_id"
            )


@dataclass
class CountingContractNumbers:
    counters: dict[int, itertools.count[int]] = field(default_factory=dict)

    async def next(self, year: int) -> str:
        return f"C-{year}-{next(self.counters.setdefault(year, itertools.count(1))):06d}"


class PlainContractDocuments:
    """The contract as a few lines of text (the real HTML and PDF are the adapter's own tests')."""

    def html(self, contract: Contract, language: str) -> str:
        return f"<h1>{contract.number}</h1><p>{contract.terms_in(language)}</p>"

    def pdf(self, contract: Contract, language: str) -> bytes:
        return f"%PDF {contract.number} {language}".encode()


class RecordingSigner:
    def __init__(self) -> None:
        self.signed: list[dict[str, Any]] = []

    def sign(
        self, *, license_id: str, email: str, instance_id: str, actor_id: str, expires_at: datetime, grant_id: str
    ) -> str:
        claims = {
            "license_id": license_id,
            "email": email,
            "instance_id": instance_id,
            "actor_id": actor_id,
            "grant_id": grant_id,
        }
        self.signed.append({**claims, "expires_at": expires_at})
        return f"token-{len(self.signed)}"


VENDOR = Party(name="partnerapp vendor S.L.", tax_id="B00000000", address="Calle Test 1, 28001 Madrid, ES")


@dataclass
class TestApp:
    """The use cases and the fakes behind them."""

    __test__ = False  # not a pytest test class

    commands: InstanceCommands
    queries: InstanceQueries
    events: InstanceEventHandlers
    instances: InMemoryInstances
    companies: InMemoryCompanies
    outbox: Outbox
    clock: MovableClock
    signer: RecordingSigner


def bootstrap_test_app(*, clock: MovableClock | None = None, with_signer: bool = True) -> TestApp:
    clock = clock or MovableClock()
    outbox = Outbox()
    instances, companies = InMemoryInstances(outbox), InMemoryCompanies(outbox)
    signer = RecordingSigner()
    ids = itertools.count(1)
    commands = InstanceCommands(
        instances=instances,
        companies=companies,
        contract_numbers=CountingContractNumbers(),
        clock=clock,
        parties=ServiceParties(vendor=VENDOR),
        signer=signer if with_signer else None,
        new_id=lambda prefix: f"{prefix}-{next(ids):04d}",
    )
    queries = InstanceQueries(instances=instances, companies=companies, documents=PlainContractDocuments(), clock=clock)
    return TestApp(commands, queries, InstanceEventHandlers(), instances, companies, outbox, clock, signer)
