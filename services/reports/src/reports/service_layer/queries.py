"""Use cases of the reports API: chart figures, the detail lists behind them and each item's
detail, the services active in a period, operations volume; every list also as a full stream for
exports. Everything is scoped to the partners the caller may see: another partner's id is
"not found", a staff member's partner filter outside their partners is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TypeVar

from reports.domain.model import InstanceView, LicenseView, Period, with_instance
from reports.domain.tallies import (
    DayFigures,
    MonthFigures,
    MonthlyTally,
    OperationRow,
    OperationsTally,
    SummaryTally,
    days_series,
)
from reports.service_layer.ports import InstanceFilter, LicenseFilter, ReportStore
from servicekit.pagination import Page, Sort, decode_cursor, encode_cursor
from servicekit.principal import Principal

INSTANCE_SORTS = {
    "activation_date": "activation_date",
    "expiry_date": "expiry_date",
    "type": "type",
    "company_id": "company_id",
    "id": "_id",
}
LICENSE_SORTS = {"added_at": "added_at", "status": "status", "instance_id": "instance_id", "id": "_id"}
T = TypeVar("T")

EXPORT_INSTANCE_SORT = Sort("_id")


class NotFound(Exception):
    def __init__(self, kind: str, item_id: str) -> None:
        super().__init__(f"No {kind} {item_id}.")


class PartnerNotAllowed(Exception):
    def __init__(self, partner_id: str) -> None:
        super().__init__(f"Partner {partner_id} is not one of yours.")
        self.partner_id = partner_id


@dataclass(frozen=True)
class Scope:
    """Who asks and which of their partners they look at."""

    partner_ids: tuple[str, ...]


@dataclass(frozen=True)
class InstanceRow:
    instance: InstanceView
    company_name: str | None
    status: str


@dataclass(frozen=True)
class LicenseRow:
    license: LicenseView
    company_name: str | None


@dataclass(frozen=True)
class InstanceDetail:
    row: InstanceRow
    licenses_by_status: dict[str, int]


@dataclass(frozen=True)
class ActiveServiceRow:
    """An instance in service during the period, with the licenses held at any moment of it (R-05)."""

    row: InstanceRow
    active_from: date
    active_to: date
    licenses_held: int


@dataclass(frozen=True)
class OperationsReport:
    period: Period
    total: int
    by_type: dict[str, int]
    days: list[DayFigures]


@dataclass(frozen=True)
class OperationDetail:
    row: OperationRow
    instance_type: str | None
    company_id: str | None
    company_name: str | None


@dataclass
class ReportQueries:
    store: ReportStore
    today: Callable[[], date] = lambda: datetime.now(UTC).date()

    # ------------------------------------------------------------------ scope

    def scope(self, principal: Principal, partner_id: str | None = None) -> Scope:
        """Partner users see their partner; staff every partner they are associated with, or the
        one they pick."""
        allowed = sorted(principal.partner_ids) if principal.is_staff else [principal.partner_id]
        if partner_id is None:
            return Scope(tuple(allowed))
        if partner_id not in allowed:
            raise PartnerNotAllowed(partner_id)
        return Scope((partner_id,))

    # ------------------------------------------------------------------ charts

    async def summary(self, query: InstanceFilter, licenses: LicenseFilter) -> SummaryTally:
        """Instances by type (WDS by profile) and status; licenses by the instance's type and by
        their own status, for the instances' filters (R-30, R-31, R-33)."""
        tally = SummaryTally(query.today)
        async for instance in self.store.instances(query, EXPORT_INSTANCE_SORT):
            tally.add_instance(instance)
        async for license_ in self.store.licenses(licenses, Sort("_id")):
            tally.add_license(license_)
        return tally

    async def monthly(self, query: InstanceFilter, period: Period) -> list[MonthFigures]:
        """Activations and cancellations per month of the period; `query` carries every filter
        but the period itself."""
        tally = MonthlyTally(period)
        async for instance in self.store.instances(query, EXPORT_INSTANCE_SORT):
            tally.add_instance(instance)
        return tally.series()

    # ------------------------------------------------------------------ instances

    async def instance_page(
        self, query: InstanceFilter, sort: Sort, limit: int, cursor: str | None
    ) -> Page[InstanceRow]:
        page = await self.store.instance_page(query, sort, limit, cursor)
        return Page(await self._instance_rows(page.items, query.today), page.next_cursor)

    async def instance_rows(self, query: InstanceFilter, sort: Sort) -> AsyncIterator[InstanceRow]:
        async for chunk in _chunks(self.store.instances(query, sort)):
            for row in await self._instance_rows(chunk, query.today):
                yield row

    async def instance_detail(self, scope: Scope, instance_id: str) -> InstanceDetail:
        instance = await self.store.get_instance(instance_id, scope.partner_ids)
        if instance is None or not instance.provisioned:
            raise NotFound("instance", instance_id)
        (row,) = await self._instance_rows([instance], self.today())
        by_status: dict[str, int] = {}
        query = LicenseFilter(partner_ids=(instance.partner_id,), instance_id=instance_id)
        async for license_ in self.store.licenses(query, Sort("_id")):
            if license_.status is not None:
                by_status[license_.status.value] = by_status.get(license_.status.value, 0) + 1
        return InstanceDetail(row, by_status)

    async def _instance_rows(self, instances: list[InstanceView], today: date) -> list[InstanceRow]:
        names = await self.store.company_names({i.company_id for i in instances})
        return [InstanceRow(i, names.get(i.company_id), i.status(today).value) for i in instances]

    # ------------------------------------------------------------------ licenses

    async def license_page(self, query: LicenseFilter, sort: Sort, limit: int, cursor: str | None) -> Page[LicenseRow]:
        page = await self.store.license_page(query, sort, limit, cursor)
        return Page(await self._license_rows(page.items), page.next_cursor)

    async def license_rows(self, query: LicenseFilter, sort: Sort) -> AsyncIterator[LicenseRow]:
        async for chunk in _chunks(self.store.licenses(query, sort)):
            for row in await self._license_rows(chunk):
                yield row

    async def license_detail(self, scope: Scope, license_id: str) -> LicenseRow:
        license_ = await self.store.get_license(license_id, scope.partner_ids)
        if license_ is None or not license_.added:
            raise NotFound("license", license_id)
        (row,) = await self._license_rows([license_])
        return row

    async def _license_rows(self, licenses: list[LicenseView]) -> list[LicenseRow]:
        names = await self.store.company_names({lic.company_id for lic in licenses})
        missing = {lic.instance_id for lic in licenses if lic.instance_type is None}
        instances = await self.store.instances_by_id(missing) if missing else {}
        return [
            LicenseRow(
                with_instance(lic, instances.get(lic.instance_id)) if lic.instance_type is None else lic,
                names.get(lic.company_id),
            )
            for lic in licenses
        ]

    # ------------------------------------------------------------------ active services

    async def active_services_page(
        self, query: InstanceFilter, sort: Sort, limit: int, cursor: str | None
    ) -> Page[ActiveServiceRow]:
        page = await self.instance_page(query, sort, limit, cursor)
        return Page(await self._active_rows(page.items, query), page.next_cursor)

    async def active_service_rows(self, query: InstanceFilter, sort: Sort) -> AsyncIterator[ActiveServiceRow]:
        async for chunk in _chunks(self.instance_rows(query, sort)):
            for row in await self._active_rows(chunk, query):
                yield row

    async def _active_rows(self, rows: list[InstanceRow], query: InstanceFilter) -> list[ActiveServiceRow]:
        period = query.active_during
        if period is None:  # pragma: no cover - the routes always give the period
            raise ValueError("active services need a period")
        held = dict.fromkeys((r.instance.id for r in rows), 0)
        licenses = LicenseFilter(partner_ids=query.partner_ids, instance_ids=tuple(held))
        if held:
            async for license_ in self.store.licenses(licenses, Sort("_id")):
                if license_.active_during(period):
                    held[license_.instance_id] += 1
        return [
            ActiveServiceRow(
                row,
                max(row.instance.activation_date or period.first, period.first),
                min(row.instance.expiry_date or period.last, period.last),
                held[row.instance.id],
            )
            for row in rows
        ]

    # ------------------------------------------------------------------ operations

    async def _operation_details(
        self, scope: Scope, period: Period, *, instance_id: str | None, type_: str | None, company_id: str | None
    ) -> list[OperationDetail]:
        tally = OperationsTally(period, scope.partner_ids)
        async for bucket in self.store.activity_buckets(period):
            tally.add_bucket(bucket)
        instances = await self.store.instances_by_id(tally.instance_ids())
        names = await self.store.company_names({i.company_id for i in instances.values()})
        details = []
        for row in tally.sorted_rows():
            instance = instances.get(row.instance_id)
            kind = instance.type if instance is not None and instance.type else None
            company = instance.company_id if instance is not None else None
            if instance_id is not None and row.instance_id != instance_id:
                continue
            if type_ is not None and kind != type_:
                continue
            if company_id is not None and company != company_id:
                continue
            details.append(OperationDetail(row, kind, company, names.get(company) if company else None))
        return details

    async def operations(
        self, scope: Scope, period: Period, *, instance_id: str | None, type_: str | None, company_id: str | None
    ) -> OperationsReport:
        details = await self._operation_details(
            scope, period, instance_id=instance_id, type_=type_, company_id=company_id
        )
        types = {d.row.instance_id: d.instance_type or "" for d in details}
        days = days_series([d.row for d in details], types, period)
        by_type: dict[str, int] = {}
        for figures in days:
            for kind, count in figures.by_type.items():
                by_type[kind] = by_type.get(kind, 0) + count
        return OperationsReport(period, sum(f.total for f in days), by_type, days)

    async def operation_rows(
        self,
        scope: Scope,
        period: Period,
        *,
        instance_id: str | None,
        type_: str | None,
        company_id: str | None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[OperationDetail]:
        """Rows per day and instance, by day then instance id; keyset-paged in memory (a period
        holds at most days x instances rows)."""
        details = await self._operation_details(
            scope, period, instance_id=instance_id, type_=type_, company_id=company_id
        )
        if cursor is not None:
            day, after_instance = decode_cursor(cursor)
            details = [d for d in details if (d.row.day.isoformat(), d.row.instance_id) > (str(day), after_instance)]
        if limit is None or len(details) <= limit:
            return Page(details, None)
        last = details[limit - 1].row
        return Page(details[:limit], encode_cursor(last.day.isoformat(), last.instance_id))


async def _chunks(items: AsyncIterator[T], size: int = 200) -> AsyncIterator[list[T]]:
    """Group a stream, so company names (and such) are looked up once per chunk, not per item."""
    chunk: list[T] = []
    async for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
