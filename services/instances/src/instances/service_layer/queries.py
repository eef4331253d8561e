"""Reads of the instances service: companies, provisionings, instances, contracts, licenses, and
what a terminal fetches. Every read is scoped to the caller's partner: another partner's id is
answered as not found, exactly like an id that does not exist.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, replace
from datetime import date

from contracts import ingest_keys
from contracts.events.common import InstanceType
from contracts.ingest_keys import InvalidIngestKey
from instances.domain.company import Company
from instances.domain.configuration import Configuration
from instances.domain.errors import NoContract
from instances.domain.listing import InstanceListing
from instances.domain.model import Contract, Instance, License, LicenseStatus, Stage
from instances.service_layer.ports import (
    Clock,
    CompanyQuery,
    CompanyRepository,
    ContractDocuments,
    InstanceQuery,
    InstanceRepository,
)
from servicekit.errors import NotFound
from servicekit.handlers import HandlerTable
from servicekit.pagination import InvalidCursor, Page
from servicekit.principal import Principal


@dataclass(frozen=True)
class InstanceLicense:
    """A license with the id of the instance it belongs to (how the API shows a license)."""

    instance_id: str
    license: License


@dataclass(frozen=True)
class LicenseQuery:
    text: str | None = None
    """Case-insensitive, in the user's name, email, PIN or serial."""
    status: LicenseStatus | None = None
    limit: int = 20
    cursor: str | None = None
    """The id of the last license of the previous page."""


@dataclass(frozen=True)
class InstanceOverview:
    """An instance and a first page of its licenses, from one read of the instance (a composed screen's part)."""

    instance: Instance
    licenses: Page[InstanceLicense]


@dataclass(frozen=True)
class ContractPdf:
    number: str
    content: bytes


@dataclass(frozen=True)
class DeviceView:
    """What a terminal is told: its instance's configuration and the session epoch it must have seen."""

    instance_id: str
    type: InstanceType
    status: str | None
    serial: str
    session_epoch: int
    configuration: Configuration


async def find_instance(instances: InstanceRepository, principal: Principal, instance_id: str) -> Instance:
    """The partner's instance in any stage (a provisioning is the same aggregate)."""
    instance = await instances.get(principal.partner_id, instance_id)
    if instance is None:
        raise NotFound("instance", instance_id)
    return instance


async def find_company(companies: CompanyRepository, principal: Principal, company_id: str) -> Company:
    company = await companies.get(principal.partner_id, company_id)
    if company is None:
        raise NotFound("company", company_id)
    return company


@dataclass
class InstanceQueries:
    instances: InstanceRepository
    companies: CompanyRepository
    documents: ContractDocuments
    clock: Clock

    # ------------------------------------------------------------------ companies

    async def company(self, principal: Principal, company_id: str) -> Company:
        return await find_company(self.companies, principal, company_id)

    async def search_companies(self, principal: Principal, query: CompanyQuery) -> Page[Company]:
        return await self.companies.search(principal.partner_id, query)

    # ------------------------------------------------------------------ provisioning

    async def provisioning(self, principal: Principal, instance_id: str) -> Instance:
        """A provisioning in any stage, the generated instance included."""
        return await find_instance(self.instances, principal, instance_id)

    async def contract(self, principal: Principal, instance_id: str) -> Contract:
        instance = await find_instance(self.instances, principal, instance_id)
        if instance.contract is None:
            raise NoContract(instance_id)
        return instance.contract

    async def contract_html(self, principal: Principal, instance_id: str, language: str) -> str:
        return self.documents.html(await self.contract(principal, instance_id), language)

    async def contract_pdf(self, principal: Principal, instance_id: str, language: str) -> ContractPdf:
        contract = await self.contract(principal, instance_id)
        return ContractPdf(contract.number, self.documents.pdf(contract, language))

    # ------------------------------------------------------------------ instances

    async def instance(self, principal: Principal, instance_id: str) -> Instance:
        """A generated instance: a provisioning not generated yet is no instance."""
        instance = await find_instance(self.instances, principal, instance_id)
        if instance.stage != Stage.GENERATED:
            raise NotFound("instance", instance_id)
        return instance

    async def instance_overview(self, principal: Principal, instance_id: str, query: LicenseQuery) -> InstanceOverview:
        """The instance and its licenses as `search_licenses` pages them: one store read."""
        instance = await self.instance(principal, instance_id)
        return InstanceOverview(instance, license_page(instance, query))

    async def search_instances(self, principal: Principal, query: InstanceQuery) -> Page[InstanceListing]:
        """Provisionings or instances by `query.stages`; "expired" and "expiring" count from today."""
        if query.today is None:
            query = replace(query, today=self._today())
        return await self.instances.search(principal.partner_id, query)

    # ------------------------------------------------------------------ licenses

    async def search_licenses(
        self, principal: Principal, instance_id: str, query: LicenseQuery
    ) -> Page[InstanceLicense]:
        """An instance's licenses by user name (then id), filtered; the cursor is the last id shown."""
        return license_page(await find_instance(self.instances, principal, instance_id), query)

    async def license(self, principal: Principal, instance_id: str, license_id: str) -> InstanceLicense:
        instance = await find_instance(self.instances, principal, instance_id)
        return InstanceLicense(instance.id, instance.license(license_id))

    # ------------------------------------------------------------------ terminals

    async def device_view(self, ingest_key: str, serial: str) -> DeviceView:
        """What a terminal needs to know, for the instance its ingest key names (a 401 otherwise)."""
        instance_id = ingest_keys.instance_of(ingest_key)
        instance = await self.instances.find_by_id(instance_id) if instance_id else None
        if (
            instance is None
            or instance.ingest_key_hash is None
            or not hmac.compare_digest(instance.ingest_key_hash, ingest_keys.digest(ingest_key))
        ):
            raise InvalidIngestKey
        state = instance.effective_status(self._today())
        return DeviceView(
            instance_id=instance.id,
            type=instance.type,
            status=state.value if state else None,
            serial=serial,
            session_epoch=instance.terminal_epoch(serial),
            configuration=instance.configuration,
        )

    def _today(self) -> date:
        return self.clock.now().date()


def license_page(instance: Instance, query: LicenseQuery) -> Page[InstanceLicense]:
    """The instance's licenses by user name (then id), filtered; the cursor is the last id shown."""
    needle = (query.text or "").casefold()
    matching = [
        lic
        for lic in sorted(instance.licenses, key=lambda x: (x.user_name.casefold(), x.id))
        if (query.status is None or lic.status == query.status)
        and (not needle or any(needle in (v or "").casefold() for v in (lic.user_name, lic.email, lic.pin, lic.serial)))
    ]
    start = 0
    if query.cursor is not None:
        ids = [lic.id for lic in matching]
        if query.cursor not in ids:
            raise InvalidCursor("the cursor is not one this API returned")
        start = ids.index(query.cursor) + 1
    window = matching[start : start + query.limit]
    next_cursor = window[-1].id if start + query.limit < len(matching) and window else None
    return Page([InstanceLicense(instance.id, lic) for lic in window], next_cursor)


QUERY_HANDLERS: HandlerTable = {
    "company": InstanceQueries.company,
    "search_companies": InstanceQueries.search_companies,
    "provisioning": InstanceQueries.provisioning,
    "contract": InstanceQueries.contract,
    "contract_html": InstanceQueries.contract_html,
    "contract_pdf": InstanceQueries.contract_pdf,
    "instance": InstanceQueries.instance,
    "instance_overview": InstanceQueries.instance_overview,
    "search_instances": InstanceQueries.search_instances,
    "search_licenses": InstanceQueries.search_licenses,
    "license": InstanceQueries.license,
    "device_view": InstanceQueries.device_view,
}
