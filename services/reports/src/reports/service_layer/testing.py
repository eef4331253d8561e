"""The reports use cases on an in-memory store, for service-layer tests (no Kafka, no MongoDB).

`bootstrap_test_app()` wires what `bootstrap.py` wires, with `InMemoryReportsStore` in place of
the Mongo store; the store filters, sorts and pages as the Mongo store's queries do.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from reports.domain.model import (
    ActivityBucket,
    CompanyView,
    CountResult,
    InstanceStatus,
    InstanceView,
    LicenseStatus,
    LicenseView,
    Period,
    month_of,
)
from reports.domain.tallies import InstanceGroup, LicenseGroup, MonthCount, OperationCount
from reports.service_layer.commands import ReportsCommands
from reports.service_layer.event_handlers import ReportsEventHandlers
from reports.service_layer.ports import InstanceFilter, LicenseFilter
from reports.service_layer.queries import ReportsQueries
from servicekit.pagination import Page, Sort, decode_cursor, encode_cursor

T = TypeVar("T", InstanceView, LicenseView)


def _within(day: date | None, period: Period) -> bool:
    return day is not None and period.first <= day <= period.last


def instance_matches(instance: InstanceView, query: InstanceFilter) -> bool:
    """What `adapters.mongo.instance_match` selects."""
    if instance.partner_id not in query.partner_ids or not instance.provisioned:
        return False
    if (query.company_id and instance.company_id != query.company_id) or (query.type and instance.type != query.type):
        return False
    if query.status is not None and instance.status(query.today) != query.status:
        return False
    if query.activated and not _within(instance.activation_date, query.activated):
        return False
    during = query.active_during
    return during is None or (
        instance.activation_date is not None
        and instance.expiry_date is not None
        and instance.activation_date <= during.last
        and instance.expiry_date >= during.first
    )


def license_matches(license_: LicenseView, query: LicenseFilter) -> bool:
    """What `adapters.mongo.license_match` selects."""
    return (
        license_.partner_id in query.partner_ids
        and license_.added
        and (not query.company_id or license_.company_id == query.company_id)
        and (not query.instance_id or license_.instance_id == query.instance_id)
        and (query.instance_ids is None or license_.instance_id in query.instance_ids)
        and (not query.type or license_.instance_type == query.type)
        and (not query.status or license_.status == query.status)
        and (not query.activated or _within(license_.instance_activation_date, query.activated))
    )


def _sort_value(item: InstanceView | LicenseView, sort: Sort) -> Any:
    """The stored value of the sort field: dates as ISO text, as the Mongo store keeps them."""
    value = item.id if sort.field == "_id" else getattr(item, sort.field)
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    return value.value if hasattr(value, "value") else value


def _ordered(items: Iterable[T], sort: Sort) -> list[T]:
    # None sorts first ascending, as in MongoDB.
    def key(item: T) -> tuple[bool, Any, str]:
        value = _sort_value(item, sort)
        return (value is not None, value if value is not None else 0, item.id)

    return sorted(items, key=key, reverse=sort.descending)


def _page(items: list[T], sort: Sort, limit: int, cursor: str | None) -> Page[T]:
    if cursor is not None:
        after_value, after_id = decode_cursor(cursor)
        if isinstance(after_value, datetime):
            after_value = after_value.astimezone(UTC)
        marker = (after_value is not None, after_value if after_value is not None else 0, after_id)

        def beyond(item: T) -> bool:
            value = _sort_value(item, sort)
            place = (value is not None, value if value is not None else 0, item.id)
            return place < marker if sort.descending else place > marker

        items = [item for item in items if beyond(item)]
    if len(items) <= limit:
        return Page(items, None)
    last = items[limit - 1]
    return Page(items[:limit], encode_cursor(_sort_value(last, sort), last.id))


@dataclass
class InMemoryReportsStore:
    """Both ports (`ProjectionStore`, `ReportStore`) in dictionaries."""

    companies: dict[str, CompanyView] = field(default_factory=dict)
    instances_: dict[str, InstanceView] = field(default_factory=dict)
    licenses_: dict[str, LicenseView] = field(default_factory=dict)
    buckets: dict[tuple[date, int], ActivityBucket] = field(default_factory=dict)

    # ------------------------------------------------------------------ writes

    async def change_company(self, company_id: str, change: Callable[[CompanyView | None], CompanyView]) -> CompanyView:
        self.companies[company_id] = change(self.companies.get(company_id))
        return self.companies[company_id]

    async def change_instance(
        self, instance_id: str, change: Callable[[InstanceView | None], InstanceView]
    ) -> InstanceView:
        self.instances_[instance_id] = change(self.instances_.get(instance_id))
        return self.instances_[instance_id]

    async def change_license(self, license_id: str, change: Callable[[LicenseView | None], LicenseView]) -> LicenseView:
        self.licenses_[license_id] = change(self.licenses_.get(license_id))
        return self.licenses_[license_id]

    async def instance(self, instance_id: str) -> InstanceView | None:
        return self.instances_.get(instance_id)

    async def fill_instance_on_licenses(self, instance: InstanceView) -> None:
        if not instance.provisioned:
            return
        for license_id, license_ in self.licenses_.items():
            if license_.instance_id == instance.id and license_.instance_type is None:
                self.licenses_[license_id] = replace(
                    license_, instance_type=instance.type, instance_activation_date=instance.activation_date
                )

    async def change_activity_bucket(
        self, day: date, partition: int, change: Callable[[ActivityBucket], CountResult]
    ) -> CountResult:
        bucket = self.buckets.setdefault((day, partition), ActivityBucket(day, partition))
        return change(bucket)

    # ------------------------------------------------------------------ reads

    async def instances(self, query: InstanceFilter, sort: Sort) -> AsyncIterator[InstanceView]:
        for instance in _ordered((i for i in self.instances_.values() if instance_matches(i, query)), sort):
            yield instance

    async def instance_page(
        self, query: InstanceFilter, sort: Sort, limit: int, cursor: str | None
    ) -> Page[InstanceView]:
        matching = _ordered((i for i in self.instances_.values() if instance_matches(i, query)), sort)
        return _page(matching, sort, limit, cursor)

    async def licenses(self, query: LicenseFilter, sort: Sort) -> AsyncIterator[LicenseView]:
        for license_ in _ordered((lic for lic in self.licenses_.values() if license_matches(lic, query)), sort):
            yield license_

    async def license_page(self, query: LicenseFilter, sort: Sort, limit: int, cursor: str | None) -> Page[LicenseView]:
        matching = _ordered((lic for lic in self.licenses_.values() if license_matches(lic, query)), sort)
        return _page(matching, sort, limit, cursor)

    async def get_instance(self, instance_id: str, partner_ids: tuple[str, ...]) -> InstanceView | None:
        instance = self.instances_.get(instance_id)
        return instance if instance is not None and instance.partner_id in partner_ids else None

    async def get_license(self, license_id: str, partner_ids: tuple[str, ...]) -> LicenseView | None:
        license_ = self.licenses_.get(license_id)
        return license_ if license_ is not None and license_.partner_id in partner_ids else None

    async def instances_by_id(self, instance_ids: set[str]) -> dict[str, InstanceView]:
        return {i: self.instances_[i] for i in sorted(instance_ids) if i in self.instances_}

    async def company_names(self, company_ids: set[str]) -> dict[str, str | None]:
        return {c: self.companies[c].name for c in sorted(company_ids) if c in self.companies}

    async def activity_buckets(self, period: Period) -> AsyncIterator[ActivityBucket]:
        for (day, _), bucket in sorted(self.buckets.items()):
            if period.first <= day <= period.last:
                yield bucket

    # The charts' counts, from the documents one at a time (the Mongo store aggregates them).

    async def instance_groups(self, query: InstanceFilter) -> list[InstanceGroup]:
        counted: Counter[tuple[str, str | None, InstanceStatus]] = Counter()
        async for i in self.instances(query, Sort("_id")):
            counted[i.type, i.profile, i.status(query.today)] += 1
        return [InstanceGroup(*key, n) for key, n in counted.items()]

    async def license_groups(self, query: LicenseFilter) -> list[LicenseGroup]:
        counted: Counter[tuple[str | None, LicenseStatus | None]] = Counter()
        async for lic in self.licenses(query, Sort("_id")):
            counted[lic.instance_type, lic.status] += 1
        return [LicenseGroup(*key, n) for key, n in counted.items()]

    async def month_counts(self, query: InstanceFilter, months: Period) -> list[MonthCount]:
        counts: list[MonthCount] = []
        async for i in self.instances(query, Sort("_id")):
            if i.activation_date is not None:
                counts.append(MonthCount("activations", month_of(i.activation_date), i.type, 1))
            if i.cancellation_requested_at is not None:
                counts.append(MonthCount("cancellations", month_of(i.cancellation_requested_at), i.type, 1))
        return counts

    async def licenses_held(
        self, partner_ids: tuple[str, ...], instance_ids: tuple[str, ...], period: Period
    ) -> dict[str, int]:
        held: Counter[str] = Counter()
        async for lic in self.licenses(LicenseFilter(partner_ids=partner_ids, instance_ids=instance_ids), Sort("_id")):
            if lic.active_during(period):
                held[lic.instance_id] += 1
        return dict(held)

    async def operation_counts(self, period: Period, partner_ids: tuple[str, ...]) -> list[OperationCount]:
        return [
            OperationCount(bucket.day, key.instance_id, key.partner_id, key.action, n)
            async for bucket in self.activity_buckets(period)
            for key, n in bucket.counts.items()
            if key.partner_id in partner_ids
        ]


@dataclass
class ReportsTestApp:
    store: InMemoryReportsStore
    handlers: ReportsEventHandlers
    queries: ReportsQueries
    commands: ReportsCommands


def bootstrap_test_app(*, today: date | None = None, recent_ids: int = 100) -> ReportsTestApp:
    """The three use-case objects on one in-memory store; `today` fixes the queries' clock."""
    store = InMemoryReportsStore()
    handlers = ReportsEventHandlers(store, recent_ids=recent_ids)
    queries = ReportsQueries(store) if today is None else ReportsQueries(store, today=lambda: today)
    return ReportsTestApp(store, handlers, queries, ReportsCommands(handlers))
