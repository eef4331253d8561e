"""Use cases of the reports API: chart figures, the detail lists behind them and each item's
detail, the services active in a period, operations volume; every list also as a full stream for
exports. Everything is scoped to the partners the caller may see: another partner's id is
"not found", a staff member's partner filter outside their partners is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from reports.domain.model import InstanceStatus, InstanceView, LicenseStatus, LicenseView, Period, with_instance
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
from reports.service_layer.seats import SILENT_SEAT_QUERY_HANDLERS
from servicekit.errors import InvalidInput, NotFound, PartnerNotAllowed
from servicekit.handlers import HandlerTable
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
MAX_MONTHS = 120
T = TypeVar("T")

EXPORT_INSTANCE_SORT = Sort("_id")


# ---------------------------------------------------------------------------------- what is asked


@dataclass(frozen=True)
class InstanceCriteria:
    """The chart filters (R-31): activation period, status, type, company; partner for staff."""

    partner_id: str | None = None
    company_id: str | None = None
    type: str | None = None
    status: InstanceStatus | None = None
    activated: Period | None = None


@dataclass(frozen=True)
class LicenseCriteria:
    """What narrows a license list beyond the charts' filters (which are the instance's)."""

    instance_id: str | None = None
    status: LicenseStatus | None = None
    """The license's own status."""


@dataclass(frozen=True)
class OperationCriteria:
    partner_id: str | None = None
    company_id: str | None = None
    instance_id: str | None = None
    type: str | None = None


@dataclass(frozen=True)
class Scope:
    """Who asks and which of their partners they look at."""

    partner_ids: tuple[str, ...]


# ---------------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class InstanceRow:
    """An instance as listed: it reads as its `instance`, with the company's name and today's
    status added (so a response model takes every field from it by name)."""

    instance: InstanceView
    company_name: str | None
    status: InstanceStatus

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy and pickle probe before the fields exist
            raise AttributeError(name)
        return getattr(self.instance, name)


@dataclass(frozen=True)
class InstanceDetail(InstanceRow):
    licenses_by_status: dict[str, int]


@dataclass(frozen=True)
class LicenseRow:
    """A license as listed: it reads as its `license`, with the company's name added."""

    license: LicenseView
    company_name: str | None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy and pickle probe before the fields exist
            raise AttributeError(name)
        return getattr(self.license, name)


@dataclass(frozen=True)
class ActiveServiceRow:
    """An instance in service during the period, with the licenses held at any moment of it (R-05)."""

    instance: InstanceRow
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
    """Operations of one instance on one day: it reads as its `row`, with what the instance's
    projection says of it."""

    row: OperationRow
    instance_type: str | None
    company_id: str | None
    company_name: str | None

    @property
    def by_action(self) -> dict[str, int]:
        return dict(sorted(self.row.by_action.items()))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy and pickle probe before the fields exist
            raise AttributeError(name)
        return getattr(self.row, name)


@dataclass
class ReportsQueries:
    store: ReportStore
    today: Callable[[], date] = lambda: datetime.now(UTC).date()

    # ------------------------------------------------------------------ charts

    async def summary(self, principal: Principal, criteria: InstanceCriteria) -> SummaryTally:
        """Instances by type (WDS by profile) and status; licenses by the instance's type and by
        their own status, for the instances' filters (R-30, R-31, R-33)."""
        scope = self._scope(principal, criteria.partner_id)
        query = self._instance_filter(scope, criteria)
        tally = SummaryTally(query.today)
        for group in await self.store.instance_groups(query):
            tally.add_instances(group)
        for licenses in await self.store.license_groups(self._license_filter(scope, criteria)):
            tally.add_licenses(licenses)
        return tally

    async def monthly(self, principal: Principal, criteria: InstanceCriteria) -> list[MonthFigures]:
        """Activations and cancellations per month of the activation period (default: the last
        12 months); every other filter narrows the instances counted."""
        scope = self._scope(principal, criteria.partner_id)
        period = criteria.activated
        if period is None:
            today = self.today()
            back = today.year * 12 + today.month - 1 - 11  # the 12 months up to this one
            period = Period(date(back // 12, back % 12 + 1, 1), today)
        if len(period.months()) > MAX_MONTHS:
            message = f"at most {MAX_MONTHS} months"
            raise InvalidInput.of_field(
                "activated_to", "at_most_months", message, where="query", params={"months": MAX_MONTHS}
            )
        tally = MonthlyTally(period)
        for count in await self.store.month_counts(self._instance_filter(scope, criteria, activated=False), period):
            tally.add_count(count)
        return tally.series()

    # ------------------------------------------------------------------ instances

    async def instance_page(
        self, principal: Principal, criteria: InstanceCriteria, sort: str, limit: int, cursor: str | None
    ) -> Page[InstanceRow]:
        query = self._instance_filter(self._scope(principal, criteria.partner_id), criteria)
        return await self._instance_page(query, Sort.parse(sort, INSTANCE_SORTS), limit, cursor)

    async def instance_rows(
        self, principal: Principal, criteria: InstanceCriteria, sort: str
    ) -> AsyncIterator[InstanceRow]:
        """The whole list as a stream; the scope and sort are checked before it starts."""
        query = self._instance_filter(self._scope(principal, criteria.partner_id), criteria)
        return self._instance_stream(query, Sort.parse(sort, INSTANCE_SORTS))

    async def instance_detail(self, principal: Principal, instance_id: str) -> InstanceDetail:
        instance = await self.store.get_instance(instance_id, self._scope(principal).partner_ids)
        if instance is None or not instance.provisioned:
            raise NotFound("instance", instance_id)
        (row,) = await self._instance_rows([instance], self.today())
        by_status: dict[str, int] = {}
        query = LicenseFilter(partner_ids=(instance.partner_id,), instance_id=instance_id)
        for group in await self.store.license_groups(query):
            if group.status is not None:
                by_status[group.status.value] = by_status.get(group.status.value, 0) + group.count
        return InstanceDetail(row.instance, row.company_name, row.status, by_status)

    async def _instance_page(
        self, query: InstanceFilter, sort: Sort, limit: int, cursor: str | None
    ) -> Page[InstanceRow]:
        page = await self.store.instance_page(query, sort, limit, cursor)
        return Page(await self._instance_rows(page.items, query.today), page.next_cursor)

    async def _instance_stream(self, query: InstanceFilter, sort: Sort) -> AsyncIterator[InstanceRow]:
        async for chunk in _chunks(self.store.instances(query, sort)):
            for row in await self._instance_rows(chunk, query.today):
                yield row

    async def _instance_rows(self, instances: list[InstanceView], today: date) -> list[InstanceRow]:
        names = await self.store.company_names({i.company_id for i in instances})
        return [InstanceRow(i, names.get(i.company_id), i.status(today)) for i in instances]

    # ------------------------------------------------------------------ licenses

    async def license_page(
        self,
        principal: Principal,
        criteria: InstanceCriteria,
        licenses: LicenseCriteria,
        sort: str,
        limit: int,
        cursor: str | None,
    ) -> Page[LicenseRow]:
        query = self._license_filter(self._scope(principal, criteria.partner_id), criteria, licenses)
        page = await self.store.license_page(query, Sort.parse(sort, LICENSE_SORTS), limit, cursor)
        return Page(await self._license_rows(page.items), page.next_cursor)

    async def license_rows(
        self, principal: Principal, criteria: InstanceCriteria, licenses: LicenseCriteria, sort: str
    ) -> AsyncIterator[LicenseRow]:
        """The whole list as a stream; the scope and sort are checked before it starts."""
        query = self._license_filter(self._scope(principal, criteria.partner_id), criteria, licenses)
        return self._license_stream(query, Sort.parse(sort, LICENSE_SORTS))

    async def license_detail(self, principal: Principal, license_id: str) -> LicenseRow:
        license_ = await self.store.get_license(license_id, self._scope(principal).partner_ids)
        if license_ is None or not license_.added:
            raise NotFound("license", license_id)
        (row,) = await self._license_rows([license_])
        return row

    async def _license_stream(self, query: LicenseFilter, sort: Sort) -> AsyncIterator[LicenseRow]:
        async for chunk in _chunks(self.store.licenses(query, sort)):
            for row in await self._license_rows(chunk):
                yield row

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
        self,
        principal: Principal,
        criteria: InstanceCriteria,
        period: Period,
        sort: str,
        limit: int,
        cursor: str | None,
    ) -> Page[ActiveServiceRow]:
        scope = self._scope(principal, criteria.partner_id)
        query = self._instance_filter(scope, criteria, active_during=period)
        page = await self._instance_page(query, Sort.parse(sort, INSTANCE_SORTS), limit, cursor)
        return Page(await self._active_rows(page.items, query), page.next_cursor)

    async def active_service_rows(
        self, principal: Principal, criteria: InstanceCriteria, period: Period, sort: str
    ) -> AsyncIterator[ActiveServiceRow]:
        """The whole list as a stream; the scope and sort are checked before it starts."""
        scope = self._scope(principal, criteria.partner_id)
        query = self._instance_filter(scope, criteria, active_during=period)
        return self._active_stream(query, Sort.parse(sort, INSTANCE_SORTS))

    async def _active_stream(self, query: InstanceFilter, sort: Sort) -> AsyncIterator[ActiveServiceRow]:
        async for chunk in _chunks(self._instance_stream(query, sort)):
            for row in await self._active_rows(chunk, query):
                yield row

    async def _active_rows(self, rows: list[InstanceRow], query: InstanceFilter) -> list[ActiveServiceRow]:
        period = query.active_during
        if period is None:  # pragma: no cover - the routes always give the period
            raise ValueError("active services need a period")
        held = dict.fromkeys((r.instance.id for r in rows), 0)
        held.update(await self.store.licenses_held(query.partner_ids, tuple(held), period))
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

    async def operations(self, principal: Principal, period: Period, criteria: OperationCriteria) -> OperationsReport:
        details = await self._operation_details(self._scope(principal, criteria.partner_id), period, criteria)
        types = {d.row.instance_id: d.instance_type or "" for d in details}
        days = days_series([d.row for d in details], types, period)
        by_type: dict[str, int] = {}
        for figures in days:
            for kind, count in figures.by_type.items():
                by_type[kind] = by_type.get(kind, 0) + count
        return OperationsReport(period, sum(f.total for f in days), by_type, days)

    async def operation_rows(
        self,
        principal: Principal,
        period: Period,
        criteria: OperationCriteria,
        *,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[OperationDetail]:
        """Rows per day and instance, by day then instance id; keyset-paged in memory (a period
        holds at most days x instances rows); without a limit, all of them."""
        details = await self._operation_details(self._scope(principal, criteria.partner_id), period, criteria)
        if cursor is not None:
            day, after_instance = decode_cursor(cursor)
            details = [d for d in details if (d.row.day.isoformat(), d.row.instance_id) > (str(day), after_instance)]
        if limit is None or len(details) <= limit:
            return Page(details, None)
        last = details[limit - 1].row
        return Page(details[:limit], encode_cursor(last.day.isoformat(), last.instance_id))

    async def _operation_details(
        self, scope: Scope, period: Period, criteria: OperationCriteria
    ) -> list[OperationDetail]:
        tally = OperationsTally(period, scope.partner_ids)
        for count in await self.store.operation_counts(period, scope.partner_ids):
            tally.add_count(count)
        instances = await self.store.instances_by_id(tally.instance_ids())
        names = await self.store.company_names({i.company_id for i in instances.values()})
        details = []
        for row in tally.sorted_rows():
            instance = instances.get(row.instance_id)
            kind = instance.type if instance is not None and instance.type else None
            company = instance.company_id if instance is not None else None
            if criteria.instance_id is not None and row.instance_id != criteria.instance_id:
                continue
            if criteria.type is not None and kind != criteria.type:
                continue
            if criteria.company_id is not None and company != criteria.company_id:
                continue
            details.append(OperationDetail(row, kind, company, names.get(company) if company else None))
        return details

    # ------------------------------------------------------------------ scope and filters

    def _scope(self, principal: Principal, partner_id: str | None = None) -> Scope:
        """Partner users see their partner; staff every partner they are associated with, or the
        one they pick."""
        allowed = sorted(principal.partner_ids) if principal.is_staff else [principal.partner_id]
        if partner_id is None:
            return Scope(tuple(allowed))
        if partner_id not in allowed:
            raise PartnerNotAllowed(partner_id)
        return Scope((partner_id,))

    def _instance_filter(
        self, scope: Scope, criteria: InstanceCriteria, *, activated: bool = True, active_during: Period | None = None
    ) -> InstanceFilter:
        return InstanceFilter(
            partner_ids=scope.partner_ids,
            today=self.today(),
            company_id=criteria.company_id,
            type=criteria.type,
            status=criteria.status,
            activated=criteria.activated if activated else None,
            active_during=active_during,
        )

    def _license_filter(
        self, scope: Scope, criteria: InstanceCriteria, licenses: LicenseCriteria | None = None
    ) -> LicenseFilter:
        licenses = licenses or LicenseCriteria()
        return LicenseFilter(
            partner_ids=scope.partner_ids,
            company_id=criteria.company_id,
            instance_id=licenses.instance_id,
            type=criteria.type,
            status=licenses.status,
            activated=criteria.activated,
        )


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


QUERY_HANDLERS: HandlerTable = {
    "summary": ReportsQueries.summary,
    "monthly": ReportsQueries.monthly,
    "instance_page": ReportsQueries.instance_page,
    "instance_rows": ReportsQueries.instance_rows,
    "instance_detail": ReportsQueries.instance_detail,
    "license_page": ReportsQueries.license_page,
    "license_rows": ReportsQueries.license_rows,
    "license_detail": ReportsQueries.license_detail,
    "active_services_page": ReportsQueries.active_services_page,
    "active_service_rows": ReportsQueries.active_service_rows,
    "operations": ReportsQueries.operations,
    "operation_rows": ReportsQueries.operation_rows,
    # Silent seats (`SilentSeatQueries`):
    **SILENT_SEAT_QUERY_HANDLERS,
}
