"""What the reports use cases need from the outside world: a store for the projection documents,
and the shape of the events and records the consumer and the rebuild hand over."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from reports.domain.model import (
    ActivityBucket,
    CompanyView,
    CountResult,
    InstanceStatus,
    InstanceView,
    LicenseStatus,
    LicenseView,
    Period,
)
from reports.domain.tallies import InstanceGroup, LicenseGroup, MonthCount, OperationCount
from servicekit.pagination import Page, Sort


class TopicRecord(Protocol):
    """A record read back from a topic by the rebuild (what aiokafka's `ConsumerRecord` is)."""

    @property
    def value(self) -> bytes | None: ...

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...


@dataclass(frozen=True)
class InstanceFilter:
    partner_ids: tuple[str, ...]
    today: date
    company_id: str | None = None
    type: str | None = None
    status: InstanceStatus | None = None
    activated: Period | None = None
    """Activation date within the period (R-31)."""
    active_during: Period | None = None
    """In service at any moment of the period (R-05)."""


@dataclass(frozen=True)
class LicenseFilter:
    partner_ids: tuple[str, ...]
    company_id: str | None = None
    instance_id: str | None = None
    instance_ids: tuple[str, ...] | None = None
    type: str | None = None
    """The instance's type."""
    status: LicenseStatus | None = None
    activated: Period | None = None
    """The instance's activation date within the period."""


class ProjectionStore(Protocol):
    """Read-modify-write of one projection document; `change` is pure and may run more than once
    (a concurrent writer makes the store read again)."""

    async def change_company(
        self, company_id: str, change: Callable[[CompanyView | None], CompanyView]
    ) -> CompanyView: ...

    async def change_instance(
        self, instance_id: str, change: Callable[[InstanceView | None], InstanceView]
    ) -> InstanceView: ...

    async def change_license(
        self, license_id: str, change: Callable[[LicenseView | None], LicenseView]
    ) -> LicenseView: ...

    async def instance(self, instance_id: str) -> InstanceView | None: ...

    async def fill_instance_on_licenses(self, instance: InstanceView) -> None:
        """Copy the instance's type and activation date onto its licenses that lack them."""

    async def change_activity_bucket(
        self, day: date, partition: int, change: Callable[[ActivityBucket], CountResult]
    ) -> CountResult:
        """Apply `change` to the bucket (a new one if missing) and store it in one write."""


class ReportStore(Protocol):
    def instances(self, query: InstanceFilter, sort: Sort) -> AsyncIterator[InstanceView]: ...

    async def instance_page(
        self, query: InstanceFilter, sort: Sort, limit: int, cursor: str | None
    ) -> Page[InstanceView]: ...

    def licenses(self, query: LicenseFilter, sort: Sort) -> AsyncIterator[LicenseView]: ...

    async def license_page(
        self, query: LicenseFilter, sort: Sort, limit: int, cursor: str | None
    ) -> Page[LicenseView]: ...

    async def get_instance(self, instance_id: str, partner_ids: tuple[str, ...]) -> InstanceView | None: ...

    async def get_license(self, license_id: str, partner_ids: tuple[str, ...]) -> LicenseView | None: ...

    async def instances_by_id(self, instance_ids: set[str]) -> dict[str, InstanceView]: ...

    async def company_names(self, company_ids: set[str]) -> dict[str, str | None]: ...

    def activity_buckets(self, period: Period) -> AsyncIterator[ActivityBucket]: ...

    # The charts' counts, each one aggregation in the store (a constant number of store commands
    # per request, whatever the read model holds):

    async def instance_groups(self, query: InstanceFilter) -> list[InstanceGroup]:
        """The matching instances counted by type, profile and status on `query.today`."""

    async def license_groups(self, query: LicenseFilter) -> list[LicenseGroup]:
        """The matching licenses counted by their instance's type and their own status."""

    async def month_counts(self, query: InstanceFilter, months: Period) -> list[MonthCount]:
        """Activations and cancellation requests of the matching instances per month and type, in
        the months `months` touches."""

    async def licenses_held(
        self, partner_ids: tuple[str, ...], instance_ids: tuple[str, ...], period: Period
    ) -> dict[str, int]:
        """Per instance, its licenses held (active or released) at any moment of the period."""

    async def operation_counts(self, period: Period, partner_ids: tuple[str, ...]) -> list[OperationCount]:
        """The partners' operations per day, instance and action in the period."""
