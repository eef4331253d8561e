"""Writes of the instances service: companies, provisioning, the instances' life and licenses.

Every change follows one path: read the aggregate scoped to the caller's partner (another
partner's id is simply not found), let the domain decide, then store the new state together
with its events and audit entries in one single-document write guarded by the version read
(optimistic concurrency; a lost race re-reads and decides again). The outbox relay publishes.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from contracts import envelope_for, ingest_keys
from contracts.events.common import Actor, InstanceType
from contracts.events.companies import CompanyCreated, CompanyUpdated
from instances.domain.company import Address, Company
from instances.domain.configuration import Configuration, configuration_document, parse_configuration
from instances.domain.errors import Conflict
from instances.domain.model import Change, Instance, NewLicense, Party
from instances.service_layer.ports import (
    Clock,
    CompanyRepository,
    ContractNumbers,
    ImpersonationSigner,
    InstanceRepository,
    Pending,
)
from instances.service_layer.queries import InstanceLicense, find_company, find_instance
from servicekit.audit import AuditEntry
from servicekit.handlers import HandlerTable
from servicekit.merge_patch import merge_patch
from servicekit.principal import Principal

SOURCE = "instances"
MAX_WRITE_ATTEMPTS = 5

# Every contract stores both texts when it is issued: each reader reads it in their language, and a
# later change here never re-words an issued contract.
DEFAULT_TERMS: dict[str, str] = {
    "es": (
        "1. Objeto. El proveedor concede al cliente el derecho a usar el producto indicado arriba, como servicio "
        "alojado, para el número de licencias y la duración indicados.\n"
        "2. Duración y renovación. La duración empieza en la fecha de activación. El partner puede ampliarla en "
        "cualquier momento; la ampliación surte efecto de inmediato.\n"
        "3. Precio. El partner factura mensualmente por adelantado a los precios indicados, impuestos no incluidos.\n"
        "4. Cancelación. El partner puede solicitar la cancelación en cualquier momento indicando un motivo; surte "
        "efecto al final del mes en curso.\n"
        "5. Protección de datos. El proveedor trata los datos personales por cuenta del cliente conforme al contrato "
        "de encargo del tratamiento vigente, dentro del Espacio Económico Europeo.\n"
        "6. Registro de jornada. Los registros se conservan durante cuatro años, como exige la ley española."
    ),
    "en": (
        "1. Object. The vendor grants the customer the right to use the product named above, as a hosted "
        "service, for the number of seats and the term stated.\n"
        "2. Term and renewal. The term starts on the activation date. The partner may extend it at any time; "
        "an extension takes effect at once.\n"
        "3. Fees. Fees are invoiced monthly in advance by the partner at the prices stated, taxes not included.\n"
        "4. Cancellation. The partner may request cancellation at any time with a reason; it takes effect at "
        "the end of the current month.\n"
        "5. Data protection. The vendor processes personal data on behalf of the customer under the data "
        "processing agreement in force, within the European Economic Area.\n"
        "6. Working-time records. Records are kept for four years, as Spanish law requires."
    ),
}


@dataclass(frozen=True)
class ServiceParties:
    """Who signs for the vendor, and the terms every contract carries."""

    vendor: Party
    terms: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_TERMS))


@dataclass(frozen=True)
class ImpersonationGrant:
    token: str
    panel_url: str
    expires_at: datetime


@dataclass
class CompanyData:
    name: str
    tax_id: str
    address: Address
    contact_person: str
    email: str
    phone: str


ParseCompany = Callable[[dict[str, Any]], CompanyData]
"""Validates a whole company document as the API's input (raising its 422 when it is not one)."""


@dataclass
class InstanceCommands:
    instances: InstanceRepository
    companies: CompanyRepository
    contract_numbers: ContractNumbers
    clock: Clock
    parties: ServiceParties
    signer: ImpersonationSigner | None = None
    panel_url: str = "https://panel.partnerapp.example"
    impersonation_ttl: timedelta = timedelta(minutes=5)
    new_id: Callable[[str], str] = field(default=lambda prefix: f"{prefix}-{uuid.uuid4().hex[:16]}")

    # ------------------------------------------------------------------ companies

    async def create_company(self, principal: Principal, data: CompanyData) -> Company:
        now = self.clock.now()
        company = Company(
            id=self.new_id("cmp"),
            partner_id=principal.partner_id,
            created_at=now,
            created_by=actor_of(principal),
            updated_at=now,
            **vars(data),
        )
        event = CompanyCreated(
            company_id=company.id,
            partner_id=company.partner_id,
            name=company.name,
            tax_id=company.tax_id,
            created_by=actor_of(principal),
        )
        change = Change("company.create", "company", company.id, None, company.snapshot(), event)
        await self.companies.add(company, self._pending(principal, [change]))
        return company

    async def update_company(
        self, principal: Principal, company_id: str, patch: dict[str, Any], parse: ParseCompany
    ) -> Company:
        """Apply a merge patch (RFC 7396): the merged company is validated whole by `parse`, and only
        the fields sent change (applied to the company read in this attempt, so a concurrent change
        of another field stays)."""
        for _ in range(MAX_WRITE_ATTEMPTS):
            company = await find_company(self.companies, principal, company_id)
            merged = parse(merge_patch(company.snapshot(), patch))
            before = company.snapshot()
            for name in patch:
                setattr(company, name, getattr(merged, name))
            if company.snapshot() == before:
                return company
            company.updated_at = self.clock.now()
            event = CompanyUpdated(
                company_id=company.id,
                partner_id=company.partner_id,
                name=company.name,
                tax_id=company.tax_id,
                updated_by=actor_of(principal),
            )
            change = Change("company.update", "company", company.id, before, company.snapshot(), event)
            if await self.companies.save(company, self._pending(principal, [change])):
                return company
        raise _busy()

    # ------------------------------------------------------------------ provisioning

    async def create_draft(
        self,
        principal: Principal,
        *,
        company_id: str,
        instance_type: InstanceType,
        name: str,
        configuration: dict[str, Any] | None,
        term_months: int,
    ) -> Instance:
        await find_company(self.companies, principal, company_id)  # must be one of the partner's companies
        instance, change = Instance.draft(
            instance_id=self.new_id("ins"),
            partner_id=principal.partner_id,
            company_id=company_id,
            instance_type=instance_type,
            name=name,
            configuration=parse_configuration(instance_type, configuration),
            term_months=term_months,
            actor=actor_of(principal),
            now=self.clock.now(),
        )
        await self.instances.add(instance, self._pending(principal, [change]))
        return instance

    async def update_draft(
        self,
        principal: Principal,
        instance_id: str,
        *,
        name: str | None,
        configuration: dict[str, Any] | None,
        term_months: int | None,
    ) -> Instance:
        """Change a draft; `configuration` is a merge patch (RFC 7396) of the stored configuration."""

        def act(instance: Instance) -> list[Change]:
            parsed = _patched(instance, configuration)
            return [
                instance.update_draft(name=name, configuration=parsed, term_months=term_months, now=self.clock.now())
            ]

        return await self._change(principal, instance_id, act)

    async def provision(self, principal: Principal, instance_id: str) -> Instance:
        instance = await find_instance(self.instances, principal, instance_id)
        instance.check_can_provision()  # before spending a contract number
        company = await find_company(self.companies, principal, instance.company_id)
        customer = Party(
            name=company.name,
            tax_id=company.tax_id,
            address=company.one_line_address(),
            contact=company.contact_person,
            email=company.email,
        )
        number: str | None = None

        async def act(current: Instance) -> list[Change]:
            nonlocal number
            current.check_can_provision()
            if number is None:
                number = await self.contract_numbers.next(self.clock.now().year)
            return [
                current.provision(
                    contract_number=number,
                    vendor=self.parties.vendor,
                    customer=customer,
                    terms=self.parties.terms,
                    now=self.clock.now(),
                )
            ]

        return await self._change_async(principal, instance_id, act)

    async def cancel_provisioning(self, principal: Principal, instance_id: str) -> Instance:
        return await self._change(principal, instance_id, lambda i: [i.cancel_provisioning(now=self.clock.now())])

    async def generate(self, principal: Principal, instance_id: str, idempotency_key: str) -> Instance:
        """Create the instance; the same key always answers with the same instance (never two)."""
        now = self.clock.now()

        def act(instance: Instance) -> list[Change]:
            change = instance.generate(
                idempotency_key=idempotency_key, actor=actor_of(principal), today=now.date(), now=now
            )
            return [change] if change else []

        return await self._change(principal, instance_id, act)

    # ------------------------------------------------------------------ instances

    async def edit_instance(
        self, principal: Principal, instance_id: str, *, name: str | None, configuration: dict[str, Any] | None
    ) -> Instance:
        """Edit an instance; `configuration` is a merge patch (RFC 7396) of the stored configuration."""

        def act(instance: Instance) -> list[Change]:
            parsed = _patched(instance, configuration)
            change = instance.edit(name=name, configuration=parsed, actor=actor_of(principal), now=self.clock.now())
            return [change] if change else []

        return await self._change(principal, instance_id, act)

    async def extend(self, principal: Principal, instance_id: str, new_expiry_date: date) -> Instance:
        now = self.clock.now()
        return await self._change(
            principal,
            instance_id,
            lambda i: [i.extend(new_expiry_date=new_expiry_date, actor=actor_of(principal), today=now.date(), now=now)],
        )

    async def request_cancellation(self, principal: Principal, instance_id: str, reason: str) -> Instance:
        return await self._change(
            principal,
            instance_id,
            lambda i: [i.request_cancellation(reason=reason, actor=actor_of(principal), now=self.clock.now())],
        )

    async def clear_session(self, principal: Principal, instance_id: str, serial: str | None) -> Instance:
        return await self._change(
            principal,
            instance_id,
            lambda i: [i.clear_session(serial=serial, actor=actor_of(principal), now=self.clock.now())],
        )

    async def rotate_ingest_key(self, principal: Principal, instance_id: str) -> tuple[Instance, str]:
        key = ingest_keys.compose(instance_id, secrets.token_urlsafe(32))
        instance = await self._change(
            principal,
            instance_id,
            lambda i: [
                i.rotate_ingest_key(key_hash=ingest_keys.digest(key), actor=actor_of(principal), now=self.clock.now())
            ],
        )
        return instance, key

    # ------------------------------------------------------------------ licenses

    async def add_licenses(self, principal: Principal, instance_id: str, new: list[NewLicense]) -> list[str]:
        ids = [self.new_id("lic") for _ in new]
        await self._change(
            principal,
            instance_id,
            lambda i: i.add_licenses(new, ids=ids, actor=actor_of(principal), now=self.clock.now()),
        )
        return ids

    async def revoke_license(
        self, principal: Principal, instance_id: str, license_id: str, reason: str
    ) -> InstanceLicense:
        instance = await self._change(
            principal,
            instance_id,
            lambda i: [i.revoke_license(license_id, reason=reason, actor=actor_of(principal), now=self.clock.now())],
        )
        return InstanceLicense(instance.id, instance.license(license_id))

    async def release_license(
        self, principal: Principal, instance_id: str, license_id: str, reason: str | None
    ) -> InstanceLicense:
        instance = await self._change(
            principal,
            instance_id,
            lambda i: [i.release_license(license_id, reason=reason, actor=actor_of(principal), now=self.clock.now())],
        )
        return InstanceLicense(instance.id, instance.license(license_id))

    async def impersonate(
        self, principal: Principal, instance_id: str, license_id: str, reason: str
    ) -> ImpersonationGrant:
        """A short-lived token to open the web panel as the license's user (R-22); audited."""
        signer = self.signer
        expires_at = self.clock.now() + self.impersonation_ttl
        grant_id = self.new_id("imp")

        def impersonation(instance: Instance) -> list[Change]:
            # Checked once the instance is found in the caller's scope: another partner's ids stay a 404.
            if signer is None:
                raise Conflict("impersonation-not-configured", "Impersonation is not configured on this service.")
            change = instance.impersonation(
                license_id, reason=reason, expires_at=expires_at, actor=actor_of(principal), grant_id=grant_id
            )
            return [change]

        instance = await self._change(principal, instance_id, impersonation)
        lic = instance.license(license_id)
        if signer is None:  # unreachable: `impersonation` refused already
            raise Conflict("impersonation-not-configured", "Impersonation is not configured on this service.")
        token = signer.sign(
            license_id=lic.id,
            email=lic.email,
            instance_id=instance.id,
            actor_id=principal.user_id,
            expires_at=expires_at,
            grant_id=grant_id,
        )
        # The token travels in the fragment: browsers do not send it to servers or write it to logs.
        return ImpersonationGrant(token, f"{self.panel_url}/impersonate#token={token}", expires_at)

    # ------------------------------------------------------------------ the one write path

    async def _change(
        self, principal: Principal, instance_id: str, act: Callable[[Instance], list[Change]]
    ) -> Instance:
        async def act_async(instance: Instance) -> list[Change]:
            return act(instance)

        return await self._change_async(principal, instance_id, act_async)

    async def _change_async(self, principal: Principal, instance_id: str, act: Any) -> Instance:
        for _ in range(MAX_WRITE_ATTEMPTS):
            instance = await find_instance(self.instances, principal, instance_id)
            changes: list[Change] = await act(instance)
            if not changes:
                return instance
            if await self.instances.save(instance, self._pending(principal, changes)):
                return instance
        raise _busy()

    def _pending(self, principal: Principal, changes: list[Change]) -> list[Pending]:
        correlation = uuid.uuid4()
        pending: list[Pending] = []
        for change in changes:
            pending.append(
                AuditEntry(
                    at=self.clock.now(),
                    actor_id=principal.user_id,
                    actor_role=principal.role,
                    partner_id=principal.partner_id,
                    action=change.action,
                    target_type=change.target_type,
                    target_id=change.target_id,
                    before=change.before,
                    after=change.after,
                    detail=change.detail,
                )
            )
            if change.event is not None:
                pending.append(envelope_for(change.event, source=SOURCE, correlation_id=correlation))
        return pending


def _patched(instance: Instance, patch: dict[str, Any] | None) -> Configuration | None:
    """The stored configuration with `patch` merged in, validated whole by the instance type's model
    (applied to the configuration read in this attempt, so a concurrent change of another field stays)."""
    if patch is None:
        return None
    return parse_configuration(instance.type, merge_patch(configuration_document(instance.configuration), patch))


def actor_of(principal: Principal) -> Actor:
    return Actor(user_id=principal.user_id, role=principal.role)


def _busy() -> Conflict:
    return Conflict("concurrent-update", "The resource kept changing under this request; retry it.")


COMMAND_HANDLERS: HandlerTable = {
    "create_company": InstanceCommands.create_company,
    "update_company": InstanceCommands.update_company,
    "create_draft": InstanceCommands.create_draft,
    "update_draft": InstanceCommands.update_draft,
    "provision": InstanceCommands.provision,
    "cancel_provisioning": InstanceCommands.cancel_provisioning,
    "generate": InstanceCommands.generate,
    "edit_instance": InstanceCommands.edit_instance,
    "extend": InstanceCommands.extend,
    "request_cancellation": InstanceCommands.request_cancellation,
    "clear_session": InstanceCommands.clear_session,
    "rotate_ingest_key": InstanceCommands.rotate_ingest_key,
    "add_licenses": InstanceCommands.add_licenses,
    "revoke_license": InstanceCommands.revoke_license,
    "release_license": InstanceCommands.release_license,
    "impersonate": InstanceCommands.impersonate,
}
