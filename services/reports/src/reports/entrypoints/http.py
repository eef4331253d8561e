"""HTTP API of the reports service, under /v1/reports (R-04, R-05, R-30..R-34).

Charts (`/summary`, `/monthly`, `/operations`), the detail list behind each (`/instances`,
`/licenses`, `/active-services`, `/operations/rows`), each item's detail, and every list as
`…/export.csv` or `…/export.xlsx` with the same filters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from contracts.events.common import InstanceType
from reports.adapters.exports import Column, csv_stream, file_chunks, xlsx_file
from reports.domain.model import InstanceStatus, InvalidPeriod, LicenseStatus, Period
from reports.domain.tallies import MonthFigures
from reports.entrypoints.labels import column_label
from reports.service_layer.ports import InstanceFilter, LicenseFilter
from reports.service_layer.queries import (
    INSTANCE_SORTS,
    LICENSE_SORTS,
    ActiveServiceRow,
    InstanceRow,
    LicenseRow,
    NotFound,
    OperationDetail,
    PartnerNotAllowed,
    ReportQueries,
    Scope,
)
from servicekit.auth import CurrentPrincipal
from servicekit.i18n import Language, negotiate
from servicekit.pagination import DEFAULT_LIMIT, MAX_LIMIT, InvalidSort, Sort
from servicekit.problems import Problem, field_error, problem_response

T = TypeVar("T")

MAX_OPERATION_DAYS = 366
MAX_PERIOD_DAYS = 10 * 366
MAX_MONTHS = 120

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=512)]
IdParam = Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
ExportFormat = Literal["csv", "xlsx"]


def _invalid(field: str, message: str, code: str, **params: object) -> Problem:
    """A 422 naming `field`; `code` and `params` word its message for the reader (servicekit.i18n)."""
    return Problem(422, "validation", message, errors=[field_error(field, code, message, where="query", params=params)])


def _period(first: date | None, last: date | None, *, names: tuple[str, str], max_days: int) -> Period | None:
    if first is None and last is None:
        return None
    if first is None or last is None:
        missing = names[0] if first is None else names[1]
        raise _invalid(
            missing, f"{names[0]} and {names[1]} go together", "go_together", first=names[0], second=names[1]
        )
    try:
        return Period.of(first, last, field_name=names[1], max_days=max_days)
    except InvalidPeriod as exc:
        raise _invalid(exc.field, str(exc), exc.code, **exc.params) from exc


def _sort(text: str, allowed: dict[str, str]) -> Sort:
    try:
        return Sort.parse(text, allowed)
    except InvalidSort as exc:
        raise _invalid("sort", str(exc), "sort_unknown", **exc.params) from exc


# ---------------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class InstanceCriteria:
    """The chart filters (R-31): activation period, status, type, company; partner for staff."""

    partner_id: str | None
    company_id: str | None
    type: InstanceType | None
    status: InstanceStatus | None
    activated: Period | None


def instance_criteria(
    partner_id: Annotated[IdParam, Query(description="Staff: one of their partners")] = None,
    company_id: IdParam = None,
    type: Annotated[InstanceType | None, Query(description="Instance type")] = None,
    status: Annotated[InstanceStatus | None, Query(description="Instance status")] = None,
    activated_from: Annotated[date | None, Query(description="Activation date from (inclusive)")] = None,
    activated_to: Annotated[date | None, Query(description="Activation date to (inclusive)")] = None,
) -> InstanceCriteria:
    period = _period(activated_from, activated_to, names=("activated_from", "activated_to"), max_days=MAX_PERIOD_DAYS)
    return InstanceCriteria(partner_id, company_id, type, status, period)


Criteria = Annotated[InstanceCriteria, Depends(instance_criteria)]


def license_params(
    instance_id: IdParam = None,
    license_status: Annotated[LicenseStatus | None, Query(description="The license's own status")] = None,
) -> tuple[str | None, LicenseStatus | None]:
    return instance_id, license_status


LicenseParamsDep = Annotated[tuple[str | None, LicenseStatus | None], Depends(license_params)]


def period_param(
    from_: Annotated[date, Query(alias="from", description="First day (inclusive, UTC)")],
    to: Annotated[date, Query(description="Last day (inclusive, UTC)")],
) -> Period:
    period = _period(from_, to, names=("from", "to"), max_days=MAX_PERIOD_DAYS)
    assert period is not None  # both given  # noqa: S101
    return period


def operations_period(
    from_: Annotated[date, Query(alias="from", description="First day (inclusive, UTC)")],
    to: Annotated[date, Query(description="Last day (inclusive, UTC)")],
) -> Period:
    period = _period(from_, to, names=("from", "to"), max_days=MAX_OPERATION_DAYS)
    assert period is not None  # noqa: S101
    return period


# ---------------------------------------------------------------------------------- responses


class InstanceOut(BaseModel):
    id: str
    partner_id: str
    company_id: str
    company_name: str | None = Field(description="None until the company's event arrives")
    type: str
    profile: str | None = Field(description="WDS contracted profile (R-33)")
    name: str | None
    contract_number: str | None
    status: InstanceStatus
    activation_date: date | None
    expiry_date: date | None
    provisioned_at: datetime | None
    cancellation_requested_at: datetime | None
    cancellation_reason: str | None

    @classmethod
    def of(cls, row: InstanceRow) -> InstanceOut:
        i = row.instance
        return cls(
            id=i.id,
            partner_id=i.partner_id,
            company_id=i.company_id,
            company_name=row.company_name,
            type=i.type,
            profile=i.profile,
            name=i.name,
            contract_number=i.contract_number,
            status=InstanceStatus(row.status),
            activation_date=i.activation_date,
            expiry_date=i.expiry_date,
            provisioned_at=i.provisioned_at,
            cancellation_requested_at=i.cancellation_requested_at,
            cancellation_reason=i.cancellation_reason,
        )


class InstanceDetailOut(InstanceOut):
    licenses_by_status: dict[str, int]


class LicenseOut(BaseModel):
    id: str
    instance_id: str
    instance_type: str | None = Field(description="None until the instance's event arrives")
    partner_id: str
    company_id: str
    company_name: str | None
    user_name: str | None
    pin: str | None
    serial: str | None = Field(description="The terminal the seat is bound to")
    status: LicenseStatus | None
    added_at: datetime | None
    released_at: datetime | None
    revoked_at: datetime | None
    revoke_reason: str | None

    @classmethod
    def of(cls, row: LicenseRow) -> LicenseOut:
        lic = row.license
        return cls(
            id=lic.id,
            instance_id=lic.instance_id,
            instance_type=lic.instance_type,
            partner_id=lic.partner_id,
            company_id=lic.company_id,
            company_name=row.company_name,
            user_name=lic.user_name,
            pin=lic.pin,
            serial=lic.serial,
            status=lic.status,
            added_at=lic.added_at,
            released_at=lic.released_at,
            revoked_at=lic.revoked_at,
            revoke_reason=lic.revoke_reason,
        )


class ActiveServiceOut(BaseModel):
    instance: InstanceOut
    active_from: date = Field(description="First day of the period the instance was in service")
    active_to: date = Field(description="Last day of the period the instance was in service")
    licenses_held: int = Field(description="Licenses (active or released) held at any moment of the period")

    @classmethod
    def of(cls, row: ActiveServiceRow) -> ActiveServiceOut:
        return cls(
            instance=InstanceOut.of(row.row),
            active_from=row.active_from,
            active_to=row.active_to,
            licenses_held=row.licenses_held,
        )


class OperationRowOut(BaseModel):
    day: date
    instance_id: str
    instance_type: str | None
    partner_id: str
    company_id: str | None
    company_name: str | None
    total: int
    by_action: dict[str, int]

    @classmethod
    def of(cls, detail: OperationDetail) -> OperationRowOut:
        return cls(
            day=detail.row.day,
            instance_id=detail.row.instance_id,
            instance_type=detail.instance_type,
            partner_id=detail.row.partner_id,
            company_id=detail.company_id,
            company_name=detail.company_name,
            total=detail.row.total,
            by_action=dict(sorted(detail.row.by_action.items())),
        )


class InstanceCounts(BaseModel):
    total: int
    by_type: dict[str, int]
    wds_by_profile: dict[str, int]
    by_status: dict[str, int]


class LicenseCounts(BaseModel):
    total: int
    by_type: dict[str, int] = Field(description="By the instance's type")
    by_status: dict[str, int]


class SummaryOut(BaseModel):
    instances: InstanceCounts
    licenses: LicenseCounts


class MonthOut(BaseModel):
    month: str
    activations: int
    cancellations: int
    activations_by_type: dict[str, int]
    cancellations_by_type: dict[str, int]

    @classmethod
    def of(cls, figures: MonthFigures) -> MonthOut:
        return cls(
            month=figures.month,
            activations=figures.activations,
            cancellations=figures.cancellations,
            activations_by_type=figures.activations_by_type,
            cancellations_by_type=figures.cancellations_by_type,
        )


class MonthlyOut(BaseModel):
    months: list[MonthOut]


class DayOut(BaseModel):
    day: date
    total: int
    by_type: dict[str, int]


class OperationsOut(BaseModel):
    from_: date = Field(alias="from")
    to: date
    total: int
    by_type: dict[str, int]
    days: list[DayOut]


class InstancePage(BaseModel):
    items: list[InstanceOut]
    next_cursor: str | None


class LicensePage(BaseModel):
    items: list[LicenseOut]
    next_cursor: str | None


class ActiveServicePage(BaseModel):
    items: list[ActiveServiceOut]
    next_cursor: str | None


class OperationRowPage(BaseModel):
    items: list[OperationRowOut]
    next_cursor: str | None


# ---------------------------------------------------------------------------------- export columns

INSTANCE_COLUMNS: list[Column[InstanceOut]] = [
    Column("id", lambda o: o.id),
    Column("partner_id", lambda o: o.partner_id),
    Column("company_id", lambda o: o.company_id),
    Column("company_name", lambda o: o.company_name),
    Column("type", lambda o: o.type),
    Column("profile", lambda o: o.profile),
    Column("name", lambda o: o.name),
    Column("contract_number", lambda o: o.contract_number),
    Column("status", lambda o: o.status),
    Column("activation_date", lambda o: o.activation_date),
    Column("expiry_date", lambda o: o.expiry_date),
    Column("cancellation_requested_at", lambda o: o.cancellation_requested_at),
    Column("cancellation_reason", lambda o: o.cancellation_reason),
]
LICENSE_COLUMNS: list[Column[LicenseOut]] = [
    Column("id", lambda o: o.id),
    Column("instance_id", lambda o: o.instance_id),
    Column("instance_type", lambda o: o.instance_type),
    Column("partner_id", lambda o: o.partner_id),
    Column("company_id", lambda o: o.company_id),
    Column("company_name", lambda o: o.company_name),
    Column("user_name", lambda o: o.user_name),
    Column("pin", lambda o: o.pin),
    Column("serial", lambda o: o.serial),
    Column("status", lambda o: o.status),
    Column("added_at", lambda o: o.added_at),
    Column("released_at", lambda o: o.released_at),
    Column("revoked_at", lambda o: o.revoked_at),
    Column("revoke_reason", lambda o: o.revoke_reason),
]
ACTIVE_SERVICE_COLUMNS: list[Column[ActiveServiceOut]] = [
    *(Column(c.header, lambda o, c=c: c.value(o.instance)) for c in INSTANCE_COLUMNS),  # type: ignore[misc]
    Column("active_from", lambda o: o.active_from),
    Column("active_to", lambda o: o.active_to),
    Column("licenses_held", lambda o: o.licenses_held),
]
OPERATION_COLUMNS: list[Column[OperationRowOut]] = [
    Column("day", lambda o: o.day),
    Column("instance_id", lambda o: o.instance_id),
    Column("instance_type", lambda o: o.instance_type),
    Column("partner_id", lambda o: o.partner_id),
    Column("company_id", lambda o: o.company_id),
    Column("company_name", lambda o: o.company_name),
    Column("total", lambda o: o.total),
    Column("by_action", lambda o: o.by_action),
]


async def _mapped(rows: AsyncIterator[Any], convert: Callable[[Any], T]) -> AsyncIterator[T]:
    async for row in rows:
        yield convert(row)


def export_language(
    accept_language: Annotated[
        str | None,
        Header(alias="Accept-Language", description="es or en: the header row's language (without: field names)"),
    ] = None,
) -> Language | None:
    return negotiate(accept_language) if accept_language else None


ExportLanguage = Annotated[Language | None, Depends(export_language)]


async def _export(
    rows: AsyncIterator[T], columns: list[Column[T]], name: str, fmt: ExportFormat, language: Language | None
) -> StreamingResponse:
    columns = [Column(column_label(c.header, language), c.value) for c in columns]
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    filename = f"{name}-{stamp}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"}
    if fmt == "csv":
        return StreamingResponse(csv_stream(rows, columns), media_type="text/csv; charset=utf-8", headers=headers)
    path = await xlsx_file(rows, columns, sheet=name)
    return StreamingResponse(
        file_chunks(path),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers=headers,
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> JSONResponse:
        return problem_response(request, 404, "not-found", str(exc))

    @app.exception_handler(PartnerNotAllowed)
    async def _partner(request: Request, exc: PartnerNotAllowed) -> JSONResponse:
        return problem_response(
            request,
            403,
            "partner-not-allowed",
            str(exc),
            errors=[field_error("partner_id", "partner_not_yours", str(exc), params={"partner_id": exc.partner_id})],
        )


def router(queries: ReportQueries) -> APIRouter:  # noqa: PLR0915 - one route table
    api = APIRouter(prefix="/v1/reports", tags=["reports"])

    def instance_filter(
        scope: Scope, criteria: InstanceCriteria, *, activated: bool = True, active_during: Period | None = None
    ) -> InstanceFilter:
        return InstanceFilter(
            partner_ids=scope.partner_ids,
            today=queries.today(),
            company_id=criteria.company_id,
            type=criteria.type.value if criteria.type else None,
            status=criteria.status,
            activated=criteria.activated if activated else None,
            active_during=active_during,
        )

    def license_filter(
        scope: Scope,
        criteria: InstanceCriteria,
        *,
        instance_id: str | None = None,
        status: LicenseStatus | None = None,
    ) -> LicenseFilter:
        return LicenseFilter(
            partner_ids=scope.partner_ids,
            company_id=criteria.company_id,
            instance_id=instance_id,
            type=criteria.type.value if criteria.type else None,
            status=status,
            activated=criteria.activated,
        )

    # ------------------------------------------------------------------ charts

    @api.get("/summary", summary="Counts of instances (WDS by profile) and licenses by type and status")
    async def summary(principal: CurrentPrincipal, criteria: Criteria) -> SummaryOut:
        scope = queries.scope(principal, criteria.partner_id)
        tally = await queries.summary(instance_filter(scope, criteria), license_filter(scope, criteria))
        return SummaryOut(
            instances=InstanceCounts(
                total=tally.instances,
                by_type=tally.instances_by_type,
                wds_by_profile=dict(sorted(tally.wds_by_profile.items())),
                by_status=tally.instances_by_status,
            ),
            licenses=LicenseCounts(
                total=tally.licenses, by_type=tally.licenses_by_type, by_status=tally.licenses_by_status
            ),
        )

    @api.get(
        "/monthly",
        summary="Activations and cancellations per month of the activation period (default: the last 12 months)",
    )
    async def monthly(principal: CurrentPrincipal, criteria: Criteria) -> MonthlyOut:
        scope = queries.scope(principal, criteria.partner_id)
        period = criteria.activated
        if period is None:
            today = queries.today()
            back = today.year * 12 + today.month - 1 - 11  # the 12 months up to this one
            period = Period(date(back // 12, back % 12 + 1, 1), today)
        if len(period.months()) > MAX_MONTHS:
            raise _invalid("activated_to", f"at most {MAX_MONTHS} months", "at_most_months", months=MAX_MONTHS)
        months = await queries.monthly(instance_filter(scope, criteria, activated=False), period)
        return MonthlyOut(months=[MonthOut.of(m) for m in months])

    @api.get("/operations", summary="Operations per day, split by instance type (R-04)")
    async def operations(
        principal: CurrentPrincipal,
        period: Annotated[Period, Depends(operations_period)],
        partner_id: IdParam = None,
        company_id: IdParam = None,
        instance_id: IdParam = None,
        type: InstanceType | None = None,
    ) -> OperationsOut:
        scope = queries.scope(principal, partner_id)
        report = await queries.operations(
            scope, period, instance_id=instance_id, type_=type.value if type else None, company_id=company_id
        )
        return OperationsOut(
            **{"from": report.period.first},
            to=report.period.last,
            total=report.total,
            by_type=report.by_type,
            days=[DayOut(day=d.day, total=d.total, by_type=d.by_type) for d in report.days],
        )

    # ------------------------------------------------------------------ instances

    @api.get("/instances/export.{fmt}", summary="The instance list as CSV or XLSX", response_class=StreamingResponse)
    async def export_instances(
        fmt: ExportFormat,
        principal: CurrentPrincipal,
        criteria: Criteria,
        language: ExportLanguage,
        sort: str = "-activation_date",
    ) -> StreamingResponse:
        scope = queries.scope(principal, criteria.partner_id)
        rows = queries.instance_rows(instance_filter(scope, criteria), _sort(sort, INSTANCE_SORTS))
        return await _export(_mapped(rows, InstanceOut.of), INSTANCE_COLUMNS, "instances", fmt, language)

    @api.get("/instances", summary="The instances behind the charts (R-32)")
    async def list_instances(
        principal: CurrentPrincipal,
        criteria: Criteria,
        sort: Annotated[str, Query(description=f"One of {', '.join(INSTANCE_SORTS)}; `-` for descending")] = (
            "-activation_date"
        ),
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> InstancePage:
        scope = queries.scope(principal, criteria.partner_id)
        page = await queries.instance_page(instance_filter(scope, criteria), _sort(sort, INSTANCE_SORTS), limit, cursor)
        return InstancePage(items=[InstanceOut.of(r) for r in page.items], next_cursor=page.next_cursor)

    @api.get("/instances/{instance_id}", summary="One instance, with its licenses by status (R-34)")
    async def get_instance(instance_id: str, principal: CurrentPrincipal) -> InstanceDetailOut:
        detail = await queries.instance_detail(queries.scope(principal), instance_id)
        return InstanceDetailOut(
            **InstanceOut.of(detail.row).model_dump(), licenses_by_status=detail.licenses_by_status
        )

    # ------------------------------------------------------------------ licenses

    @api.get("/licenses/export.{fmt}", summary="The license list as CSV or XLSX", response_class=StreamingResponse)
    async def export_licenses(
        fmt: ExportFormat,
        principal: CurrentPrincipal,
        criteria: Criteria,
        params: LicenseParamsDep,
        language: ExportLanguage,
        sort: str = "-added_at",
    ) -> StreamingResponse:
        scope = queries.scope(principal, criteria.partner_id)
        query = license_filter(scope, criteria, instance_id=params[0], status=params[1])
        rows = queries.license_rows(query, _sort(sort, LICENSE_SORTS))
        return await _export(_mapped(rows, LicenseOut.of), LICENSE_COLUMNS, "licenses", fmt, language)

    @api.get(
        "/licenses",
        summary="The licenses behind the charts (R-32); `type`, `company_id` and the activation period are the "
        "instance's, `status` filters the instances' status and is ignored here: use `license_status`",
    )
    async def list_licenses(
        principal: CurrentPrincipal,
        criteria: Criteria,
        params: LicenseParamsDep,
        sort: Annotated[str, Query(description=f"One of {', '.join(LICENSE_SORTS)}; `-` for descending")] = (
            "-added_at"
        ),
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> LicensePage:
        scope = queries.scope(principal, criteria.partner_id)
        query = license_filter(scope, criteria, instance_id=params[0], status=params[1])
        page = await queries.license_page(query, _sort(sort, LICENSE_SORTS), limit, cursor)
        return LicensePage(items=[LicenseOut.of(r) for r in page.items], next_cursor=page.next_cursor)

    @api.get("/licenses/{license_id}", summary="One license (R-34)")
    async def get_license(license_id: str, principal: CurrentPrincipal) -> LicenseOut:
        return LicenseOut.of(await queries.license_detail(queries.scope(principal), license_id))

    # ------------------------------------------------------------------ active services

    @api.get(
        "/active-services/export.{fmt}",
        summary="The services active in the period as CSV or XLSX",
        response_class=StreamingResponse,
    )
    async def export_active_services(
        fmt: ExportFormat,
        principal: CurrentPrincipal,
        criteria: Criteria,
        period: Annotated[Period, Depends(period_param)],
        language: ExportLanguage,
        sort: str = "company_id",
    ) -> StreamingResponse:
        scope = queries.scope(principal, criteria.partner_id)
        query = instance_filter(scope, criteria, active_during=period)
        rows = queries.active_service_rows(query, _sort(sort, INSTANCE_SORTS))
        return await _export(
            _mapped(rows, ActiveServiceOut.of), ACTIVE_SERVICE_COLUMNS, "active-services", fmt, language
        )

    @api.get(
        "/active-services",
        summary="Instances in service at any moment of [from, to], with the licenses held in it (R-05)",
    )
    async def active_services(
        principal: CurrentPrincipal,
        criteria: Criteria,
        period: Annotated[Period, Depends(period_param)],
        sort: str = "company_id",
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> ActiveServicePage:
        scope = queries.scope(principal, criteria.partner_id)
        query = instance_filter(scope, criteria, active_during=period)
        page = await queries.active_services_page(query, _sort(sort, INSTANCE_SORTS), limit, cursor)
        return ActiveServicePage(items=[ActiveServiceOut.of(r) for r in page.items], next_cursor=page.next_cursor)

    # ------------------------------------------------------------------ operations rows

    @api.get(
        "/operations/rows/export.{fmt}",
        summary="Operations per day and instance as CSV or XLSX",
        response_class=StreamingResponse,
    )
    async def export_operation_rows(
        fmt: ExportFormat,
        principal: CurrentPrincipal,
        period: Annotated[Period, Depends(operations_period)],
        language: ExportLanguage,
        partner_id: IdParam = None,
        company_id: IdParam = None,
        instance_id: IdParam = None,
        type: InstanceType | None = None,
    ) -> StreamingResponse:
        scope = queries.scope(principal, partner_id)
        page = await queries.operation_rows(
            scope, period, instance_id=instance_id, type_=type.value if type else None, company_id=company_id
        )

        async def rows() -> AsyncIterator[OperationRowOut]:
            for detail in page.items:
                yield OperationRowOut.of(detail)

        return await _export(rows(), OPERATION_COLUMNS, "operations", fmt, language)

    @api.get("/operations/rows", summary="Operations per day and instance, by action (R-04)")
    async def operation_rows(
        principal: CurrentPrincipal,
        period: Annotated[Period, Depends(operations_period)],
        partner_id: IdParam = None,
        company_id: IdParam = None,
        instance_id: IdParam = None,
        type: InstanceType | None = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> OperationRowPage:
        scope = queries.scope(principal, partner_id)
        page = await queries.operation_rows(
            scope,
            period,
            instance_id=instance_id,
            type_=type.value if type else None,
            company_id=company_id,
            limit=limit,
            cursor=cursor,
        )
        return OperationRowPage(items=[OperationRowOut.of(d) for d in page.items], next_cursor=page.next_cursor)

    return api
