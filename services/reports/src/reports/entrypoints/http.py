"""HTTP API of the reports service, under /v1/reports (R-04, R-05, R-30..R-34).

Charts (`/summary`, `/monthly`, `/operations`), the detail list behind each (`/instances`,
`/licenses`, `/active-services`, `/operations/rows`), each item's detail, and every list as
`…/export.csv` or `…/export.xlsx` with the same filters. Each route parses its input, calls one
use case of `ReportsQueries` and shapes the answer (`schemas.py`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from contracts.events.common import InstanceType
from reports.adapters.exports import Column, csv_stream, file_chunks, xlsx_file
from reports.domain.model import InstanceStatus, InvalidPeriod, LicenseStatus, Period
from reports.entrypoints.labels import EXPORTS
from reports.entrypoints.schemas import (
    ActiveServiceOut,
    ActiveServicePage,
    DayOut,
    InstanceCounts,
    InstanceDetailOut,
    InstanceOut,
    InstancePage,
    LicenseCounts,
    LicenseOut,
    LicensePage,
    MonthlyOut,
    MonthOut,
    OperationRowOut,
    OperationRowPage,
    OperationsOut,
    SilentSeatOut,
    SilentSeatPage,
    SummaryOut,
)
from reports.service_layer.queries import (
    INSTANCE_SORTS,
    LICENSE_SORTS,
    InstanceCriteria,
    LicenseCriteria,
    OperationCriteria,
    ReportsQueries,
)
from reports.service_layer.seats import SilentSeatCriteria, SilentSeatQueries
from servicekit.api import DEFAULT_LIMIT, Cursor, Limit, provided
from servicekit.auth import CurrentPrincipal
from servicekit.errors import InvalidInput
from servicekit.i18n import Language, negotiate

MAX_OPERATION_DAYS = 366
MAX_PERIOD_DAYS = 10 * 366

Queries = Annotated[ReportsQueries, provided(ReportsQueries)]
SeatQueries = Annotated[SilentSeatQueries, provided(SilentSeatQueries)]


@dataclass(frozen=True)
class SilentDays:
    """The silent-seats report's default `days` (the setting REPORTS_SILENT_DAYS)."""

    days: int


DefaultSilentDays = Annotated[SilentDays, provided(SilentDays)]
IdParam = Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]
ExportFormat = Literal["csv", "xlsx"]

api = APIRouter(prefix="/v1/reports", tags=["reports"])


# ---------------------------------------------------------------------------------- input


def _period(first: date | None, last: date | None, *, names: tuple[str, str], max_days: int) -> Period | None:
    if first is None and last is None:
        return None
    if first is None or last is None:
        missing = names[0] if first is None else names[1]
        raise InvalidInput.of_field(
            missing,
            "go_together",
            f"{names[0]} and {names[1]} go together",
            where="query",
            params={"first": names[0], "second": names[1]},
        )
    try:
        return Period.of(first, last, field_name=names[1], max_days=max_days)
    except InvalidPeriod as exc:
        raise InvalidInput.of_field(exc.field, exc.code, str(exc), where="query", params=exc.params) from exc


def instance_criteria(
    partner_id: Annotated[IdParam, Query(description="Staff: one of their partners")] = None,
    company_id: IdParam = None,
    type: Annotated[InstanceType | None, Query(description="Instance type")] = None,
    status: Annotated[InstanceStatus | None, Query(description="Instance status")] = None,
    activated_from: Annotated[date | None, Query(description="Activation date from (inclusive)")] = None,
    activated_to: Annotated[date | None, Query(description="Activation date to (inclusive)")] = None,
) -> InstanceCriteria:
    period = _period(activated_from, activated_to, names=("activated_from", "activated_to"), max_days=MAX_PERIOD_DAYS)
    return InstanceCriteria(partner_id, company_id, type.value if type else None, status, period)


Criteria = Annotated[InstanceCriteria, Depends(instance_criteria)]


def license_criteria(
    instance_id: IdParam = None,
    license_status: Annotated[LicenseStatus | None, Query(description="The license's own status")] = None,
) -> LicenseCriteria:
    return LicenseCriteria(instance_id, license_status)


Licenses = Annotated[LicenseCriteria, Depends(license_criteria)]


def operation_criteria(
    partner_id: IdParam = None,
    company_id: IdParam = None,
    instance_id: IdParam = None,
    type: InstanceType | None = None,
) -> OperationCriteria:
    return OperationCriteria(partner_id, company_id, instance_id, type.value if type else None)


Operations = Annotated[OperationCriteria, Depends(operation_criteria)]


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


ServicePeriod = Annotated[Period, Depends(period_param)]
OperationsPeriod = Annotated[Period, Depends(operations_period)]


def export_language(
    accept_language: Annotated[
        str | None,
        Header(alias="Accept-Language", description="es or en: the header row's language (without: field names)"),
    ] = None,
) -> Language | None:
    return negotiate(accept_language) if accept_language else None


ExportLanguage = Annotated[Language | None, Depends(export_language)]


# ---------------------------------------------------------------------------------- exports


async def _as(model: type[BaseModel], rows: AsyncIterator[Any]) -> AsyncIterator[BaseModel]:
    async for row in rows:
        yield model.model_validate(row)


async def _export(
    rows: AsyncIterator[BaseModel], name: str, fmt: ExportFormat, language: Language | None
) -> StreamingResponse:
    columns = [Column(c.header_in(language), c.value) for c in EXPORTS[name]]
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


# ---------------------------------------------------------------------------------- charts


@api.get("/summary", summary="Counts of instances (WDS by profile) and licenses by type and status")
async def summary(principal: CurrentPrincipal, criteria: Criteria, queries: Queries) -> SummaryOut:
    tally = await queries.summary(principal, criteria)
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
async def monthly(principal: CurrentPrincipal, criteria: Criteria, queries: Queries) -> MonthlyOut:
    months = await queries.monthly(principal, criteria)
    return MonthlyOut(months=[MonthOut.model_validate(m) for m in months])


@api.get("/operations", summary="Operations per day, split by instance type (R-04)")
async def operations(
    principal: CurrentPrincipal, criteria: Operations, period: OperationsPeriod, queries: Queries
) -> OperationsOut:
    report = await queries.operations(principal, period, criteria)
    return OperationsOut(
        **{"from": report.period.first},
        to=report.period.last,
        total=report.total,
        by_type=report.by_type,
        days=[DayOut.model_validate(d) for d in report.days],
    )


# ---------------------------------------------------------------------------------- instances


@api.get("/instances/export.{fmt}", summary="The instance list as CSV or XLSX", response_class=StreamingResponse)
async def export_instances(
    fmt: ExportFormat,
    principal: CurrentPrincipal,
    criteria: Criteria,
    language: ExportLanguage,
    queries: Queries,
    sort: str = "-activation_date",
) -> StreamingResponse:
    rows = await queries.instance_rows(principal, criteria, sort)
    return await _export(_as(InstanceOut, rows), "instances", fmt, language)


@api.get("/instances", summary="The instances behind the charts (R-32)")
async def list_instances(
    principal: CurrentPrincipal,
    criteria: Criteria,
    queries: Queries,
    sort: Annotated[str, Query(description=f"One of {', '.join(INSTANCE_SORTS)}; `-` for descending")] = (
        "-activation_date"
    ),
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> InstancePage:
    return InstancePage.model_validate(await queries.instance_page(principal, criteria, sort, limit, cursor))


@api.get("/instances/{instance_id}", summary="One instance, with its licenses by status (R-34)")
async def get_instance(instance_id: str, principal: CurrentPrincipal, queries: Queries) -> InstanceDetailOut:
    return InstanceDetailOut.model_validate(await queries.instance_detail(principal, instance_id))


# ---------------------------------------------------------------------------------- licenses


@api.get("/licenses/export.{fmt}", summary="The license list as CSV or XLSX", response_class=StreamingResponse)
async def export_licenses(
    fmt: ExportFormat,
    principal: CurrentPrincipal,
    criteria: Criteria,
    licenses: Licenses,
    language: ExportLanguage,
    queries: Queries,
    sort: str = "-added_at",
) -> StreamingResponse:
    rows = await queries.license_rows(principal, criteria, licenses, sort)
    return await _export(_as(LicenseOut, rows), "licenses", fmt, language)


@api.get(
    "/licenses",
    summary="The licenses behind the charts (R-32); `type`, `company_id` and the activation period are the "
    "instance's, `status` filters the instances' status and is ignored here: use `license_status`",
)
async def list_licenses(
    principal: CurrentPrincipal,
    criteria: Criteria,
    licenses: Licenses,
    queries: Queries,
    sort: Annotated[str, Query(description=f"One of {', '.join(LICENSE_SORTS)}; `-` for descending")] = ("-added_at"),
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> LicensePage:
    return LicensePage.model_validate(await queries.license_page(principal, criteria, licenses, sort, limit, cursor))


@api.get("/licenses/{license_id}", summary="One license (R-34)")
async def get_license(license_id: str, principal: CurrentPrincipal, queries: Queries) -> LicenseOut:
    return LicenseOut.model_validate(await queries.license_detail(principal, license_id))


# ---------------------------------------------------------------------------------- active services


@api.get(
    "/active-services/export.{fmt}",
    summary="The services active in the period as CSV or XLSX",
    response_class=StreamingResponse,
)
async def export_active_services(
    fmt: ExportFormat,
    principal: CurrentPrincipal,
    criteria: Criteria,
    period: ServicePeriod,
    language: ExportLanguage,
    queries: Queries,
    sort: str = "company_id",
) -> StreamingResponse:
    rows = await queries.active_service_rows(principal, criteria, period, sort)
    return await _export(_as(ActiveServiceOut, rows), "active-services", fmt, language)


@api.get(
    "/active-services",
    summary="Instances in service at any moment of [from, to], with the licenses held in it (R-05)",
)
async def active_services(
    principal: CurrentPrincipal,
    criteria: Criteria,
    period: ServicePeriod,
    queries: Queries,
    sort: str = "company_id",
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> ActiveServicePage:
    page = await queries.active_services_page(principal, criteria, period, sort, limit, cursor)
    return ActiveServicePage.model_validate(page)


# ---------------------------------------------------------------------------------- operations rows


@api.get(
    "/operations/rows/export.{fmt}",
    summary="Operations per day and instance as CSV or XLSX",
    response_class=StreamingResponse,
)
async def export_operation_rows(
    fmt: ExportFormat,
    principal: CurrentPrincipal,
    criteria: Operations,
    period: OperationsPeriod,
    language: ExportLanguage,
    queries: Queries,
) -> StreamingResponse:
    page = await queries.operation_rows(principal, period, criteria)

    async def rows() -> AsyncIterator[OperationRowOut]:
        for detail in page.items:
            yield OperationRowOut.model_validate(detail)

    return await _export(rows(), "operations", fmt, language)


@api.get("/operations/rows", summary="Operations per day and instance, by action (R-04)")
async def operation_rows(
    principal: CurrentPrincipal,
    criteria: Operations,
    period: OperationsPeriod,
    queries: Queries,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> OperationRowPage:
    page = await queries.operation_rows(principal, period, criteria, limit=limit, cursor=cursor)
    return OperationRowPage.model_validate(page)


# ---------------------------------------------------------------------------------- silent seats (issue #20)


def silent_seat_criteria(
    default: DefaultSilentDays,
    partner_id: Annotated[IdParam, Query(description="Staff: one of their partners")] = None,
    instance_id: IdParam = None,
    days: Annotated[
        int | None, Query(ge=1, le=3650, description="Silent for at least this many days (default: the setting)")
    ] = None,
) -> SilentSeatCriteria:
    return SilentSeatCriteria(partner_id, instance_id, days if days is not None else default.days)


SeatCriteria = Annotated[SilentSeatCriteria, Depends(silent_seat_criteria)]


@api.get(
    "/silent-seats/export.{fmt}",
    summary="The silent seats as CSV or XLSX",
    response_class=StreamingResponse,
)
async def export_silent_seats(
    fmt: ExportFormat,
    principal: CurrentPrincipal,
    criteria: SeatCriteria,
    language: ExportLanguage,
    queries: SeatQueries,
) -> StreamingResponse:
    rows = await queries.silent_seat_rows(principal, criteria, datetime.now(UTC))
    return await _export(_as(SilentSeatOut, rows), "silent-seats", fmt, language)


@api.get(
    "/silent-seats",
    summary="Licensed terminals silent for `days` (seats paid for and not used), per instance and partner; "
    "never seen first; `format=csv` exports them all",
    response_model=SilentSeatPage,
    responses={200: {"content": {"text/csv": {}}}},
)
async def silent_seats(
    principal: CurrentPrincipal,
    criteria: SeatCriteria,
    language: ExportLanguage,
    queries: SeatQueries,
    format: Annotated[Literal["json", "csv"], Query(description="json: a page; csv: every row")] = "json",
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Any:  # the page (response_model), or the CSV file
    now = datetime.now(UTC)
    if format == "csv":
        rows = await queries.silent_seat_rows(principal, criteria, now)
        return await _export(_as(SilentSeatOut, rows), "silent-seats", "csv", language)
    page = await queries.silent_seats(principal, criteria, limit, cursor, now)
    body = SilentSeatPage(
        items=[SilentSeatOut.model_validate(r) for r in page.items], next_cursor=page.next_cursor, days=criteria.days
    )
    return body
