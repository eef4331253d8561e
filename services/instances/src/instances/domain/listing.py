"""What a list of instances shows of each one: the instance without its licenses, terminal sessions,
contract text or outbox (a read model of the aggregate, `InstanceListing.of(instance)`).

The aggregate stays one document (its licenses inside it: the quota, the PINs and the bound serials
are checked and changed in one atomic write, with the events); a list page reads these small
documents instead, each carrying the license counts it shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from contracts.events.common import InstanceType
from instances.domain.configuration import Configuration, profile_of
from instances.domain.model import CancellationRequest, Instance, InstanceStatus, LicenseStatus, Stage


@dataclass(frozen=True)
class LicenseCounts:
    quota: int
    in_use: int
    active: int
    released: int
    revoked: int

    @classmethod
    def of(cls, instance: Instance) -> LicenseCounts:
        counts = {s: sum(1 for lic in instance.licenses if lic.status == s) for s in LicenseStatus}
        return cls(
            quota=instance.configuration.quota,
            in_use=instance.seats_in_use(),
            active=counts[LicenseStatus.ACTIVE],
            released=counts[LicenseStatus.RELEASED],
            revoked=counts[LicenseStatus.REVOKED],
        )


@dataclass(frozen=True)
class InstanceListing:
    id: str
    partner_id: str
    company_id: str
    type: InstanceType
    name: str
    configuration: Configuration
    term_months: int
    stage: Stage
    status: InstanceStatus | None
    contract_number: str | None
    activation_date: date | None
    expiry_date: date | None
    session_epoch: int
    cancellation: CancellationRequest | None
    licenses: LicenseCounts
    has_ingest_key: bool
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, instance: Instance) -> InstanceListing:
        return cls(
            id=instance.id,
            partner_id=instance.partner_id,
            company_id=instance.company_id,
            type=instance.type,
            name=instance.name,
            configuration=instance.configuration,
            term_months=instance.term_months,
            stage=instance.stage,
            status=instance.status,
            contract_number=instance.contract.number if instance.contract else None,
            activation_date=instance.activation_date,
            expiry_date=instance.expiry_date,
            session_epoch=instance.session_epoch,
            cancellation=instance.cancellation,
            licenses=LicenseCounts.of(instance),
            has_ingest_key=instance.ingest_key_hash is not None,
            created_at=instance.created_at,
            updated_at=instance.updated_at,
            version=instance.version,
        )

    @property
    def profile(self) -> str | None:
        return profile_of(self.configuration)

    def effective_status(self, today: date) -> InstanceStatus | None:
        if self.status == InstanceStatus.ACTIVE and self.expiry_date is not None and self.expiry_date < today:
            return InstanceStatus.EXPIRED
        return self.status
