"""HTTP API of the activity service: terminals' ingest, and the partner's activity search."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import date as date_
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter
from pydantic import AwareDatetime, Field

from activity.adapters.working_time_export import export_csv, export_pdf
from activity.domain.model import RecordKind
from activity.domain.remote_actions import ActionState
from activity.domain.working_time import WorkDay
from activity.entrypoints.schemas import (
    Accepted,
    CorrectionIn,
    IngestBatch,
    Month,
    Pin,
    PositionOut,
    PositionPage,
    RecordOut,
    RecordPage,
    ReleaseIn,
    RemoteActionPage,
    Serial,
    TerminalOut,
    TerminalPage,
    TimeZoneName,
    WorkDayOut,
    WorkDayWithVersions,
    WorkingMonthOut,
)
from activity.service_layer.commands import ActivityCommands
from activity.service_layer.field_operations import CorrectionAsked, FieldCommands, FieldQueries, MonthRecord, zone
from activity.service_layer.queries import ActivityQueries, RecordSearch
from activity.service_layer.remote_actions import RemoteActionQueries
from contracts.events.activity import Action
from servicekit.api import DEFAULT_LIMIT, Cursor, Limit, idempotency_key_header, provided
from servicekit.auth import BearerToken, CurrentPrincipal
from servicekit.i18n import DocumentLanguage
from servicekit.idempotency import IdempotencyKeys, fingerprint


@dataclass(frozen=True)
class IngestMetrics:
    """What the ingest endpoint counts, on the service's `/metrics`."""

    accepted: Counter

    @classmethod
    def on(cls, registry: CollectorRegistry) -> IngestMetrics:
        accepted = Counter(
            "partnerapp_ingest_events",
            "Telemetry events accepted by the ingest endpoint (acknowledged by Kafka)",
            registry=registry,
        )
        return cls(accepted)


Commands = Annotated[ActivityCommands, provided(ActivityCommands)]
Queries = Annotated[ActivityQueries, provided(ActivityQueries)]
Metrics = Annotated[IngestMetrics, provided(IngestMetrics)]
FieldOps = Annotated[FieldQueries, provided(FieldQueries)]
FieldWrites = Annotated[FieldCommands, provided(FieldCommands)]
ActionQueries = Annotated[RemoteActionQueries, provided(RemoteActionQueries)]
Keys = Annotated[IdempotencyKeys, provided(IdempotencyKeys)]
RecordId = Annotated[str, Field(max_length=160)]
# Records come in volume: a page may hold more of them than the platform's usual page.
RecordLimit = Annotated[int, Query(ge=1, le=200)]

api = APIRouter(prefix="/v1")


@api.post(
    "/ingest/events",
    tags=["ingest"],
    status_code=status.HTTP_202_ACCEPTED,
    summary="Terminals: a batch of activity events, answered once Kafka has every one",
    responses={401: {"description": "Unknown or revoked ingest key"}},
)
async def ingest(
    batch: IngestBatch,
    commands: Commands,
    metrics: Metrics,
    ingest_key: Annotated[str | None, Header(alias="X-Ingest-Key", max_length=200)] = None,
) -> Accepted:
    # A missing credential is refused like a wrong one (401).
    accepted = await commands.ingest(ingest_key or "", [e.reported() for e in batch.events], datetime.now(UTC))
    metrics.accepted.inc(accepted)
    return Accepted(accepted=accepted)


@api.get("/activity/records", tags=["activity"], summary="A terminal's activity by serial or PIN (R-40, R-41)")
async def search(
    principal: CurrentPrincipal,
    queries: Queries,
    serial: Annotated[Serial | None, Query()] = None,
    pin: Annotated[Pin | None, Query()] = None,
    from_: Annotated[AwareDatetime | None, Query(alias="from", description="Default: to minus 24 h")] = None,
    to: Annotated[AwareDatetime | None, Query(description="Default: now (or from plus 24 h)")] = None,
    action: Annotated[Action | None, Query()] = None,
    kind: Annotated[RecordKind | None, Query()] = None,
    limit: RecordLimit = 50,
    cursor: Cursor = None,
    *,
    field_ops: FieldOps,
) -> RecordPage:
    asked = RecordSearch(
        principal.partner_id,
        serial=serial,
        pin=pin,
        start=from_,
        end=to,
        action=action,
        kind=kind,
        limit=limit,
        cursor=cursor,
    )
    page = RecordPage.model_validate(await queries.search(asked, datetime.now(UTC)))
    return page.model_copy(update={"items": [_with_late(item, field_ops) for item in page.items]})


@api.get("/activity/records/{record_id}", tags=["activity"], summary="One activity record (R-41)")
async def get_record(
    record_id: RecordId, principal: CurrentPrincipal, queries: Queries, field_ops: FieldOps
) -> RecordOut:
    return _with_late(RecordOut.model_validate(await queries.record(record_id, principal.partner_id)), field_ops)


@api.post(
    "/activity/records/{record_id}/release-license",
    tags=["activity"],
    summary="Free the license bound to the record's terminal (R-43), through the instances service",
    responses={409: {"description": "No active license of this PIN bound to this terminal"}},
)
async def release_license(
    record_id: RecordId, body: ReleaseIn, principal: CurrentPrincipal, token: BearerToken, commands: Commands
) -> JSONResponse:
    _, released = await commands.release_license(token, principal.partner_id, record_id, body.reason)
    # The instances service's own answer, success or problem, is the caller's.
    media = "application/json" if released.status_code < 400 else "application/problem+json"
    return JSONResponse(released.body, status_code=released.status_code, media_type=media)


@api.get("/activity/terminals", tags=["activity"], summary="The partner's terminals, last seen first")
async def latest(
    principal: CurrentPrincipal,
    queries: Queries,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    serial: Annotated[
        list[Serial] | None,
        Query(max_length=100, description="Only these terminals (up to `limit`, in this order; one page)"),
    ] = None,
) -> TerminalPage:
    return TerminalPage.model_validate(await queries.latest(principal.partner_id, limit, cursor, serial))


@api.get("/activity/terminals/{serial}", tags=["activity"], summary="A terminal's latest state (R-42)")
async def terminal(serial: Serial, principal: CurrentPrincipal, queries: Queries) -> TerminalOut:
    return TerminalOut.model_validate(await queries.terminal(principal.partner_id, serial))


def _with_late(record: RecordOut, field_ops: FieldQueries) -> RecordOut:
    late = record.received_at - record.occurred_at > field_ops.rules.late_after
    return record.model_copy(update={"late": late})


# ----------------------------------------------------------------- field operations (issue #20)

InstanceId = Annotated[str, Query(min_length=1, max_length=64)]
WorkerPin = Annotated[Pin, Query(description="The worker's PIN (license user)")]
TimeZoneQuery = Annotated[TimeZoneName | None, Query(description="IANA time zone of the days; Europe/Madrid")]
CorrectionKey = Annotated[
    str | None,
    idempotency_key_header("A retry stores once; the key with another correction is a 422."),
]


def _work_day(day: WorkDay) -> WorkDayOut:
    return WorkDayOut.model_validate(day)


def _month_out(record: MonthRecord) -> WorkingMonthOut:
    return WorkingMonthOut(
        instance_id=record.worker.instance_id,
        pin=record.worker.pin,
        user=record.worker.user_name,
        month=record.month,
        days=[_work_day(d) for d in record.days],
        total_worked_s=record.total_worked_s,
        rules_version=record.rules_version,
    )


@api.get(
    "/activity/terminals/{serial}/positions",
    tags=["activity"],
    summary="A terminal's positions of a day, in time order, gaps marked (the map's track)",
)
async def positions(
    serial: Serial,
    principal: CurrentPrincipal,
    field_ops: FieldOps,
    date: Annotated[date_, Query(description="YYYY-MM-DD, in `tz`")],
    tz: TimeZoneQuery = None,
    limit: RecordLimit = 200,
    cursor: Cursor = None,
) -> PositionPage:
    page = await field_ops.positions(principal.partner_id, serial, date, tz, limit, cursor)
    items = [PositionOut.model_validate(point).model_copy(update={"gap_before_s": gap}) for point, gap in page.items]
    return PositionPage(items=items, next_cursor=page.next_cursor, gap_threshold_s=page.gap_threshold_s)


@api.get("/activity/working-time", tags=["working-time"], summary="A worker's working-time record of a month")
async def working_month(
    principal: CurrentPrincipal,
    field_ops: FieldOps,
    instance_id: InstanceId,
    pin: WorkerPin,
    month: Annotated[Month, Query()],
    tz: TimeZoneQuery = None,
) -> WorkingMonthOut:
    return _month_out(await field_ops.month(principal.partner_id, instance_id, pin, month, tz))


@api.get(
    "/activity/working-time/days",
    tags=["working-time"],
    summary="A worker's day with every version (1: as the terminal reported)",
)
async def working_day(
    principal: CurrentPrincipal,
    field_ops: FieldOps,
    instance_id: InstanceId,
    pin: WorkerPin,
    date: Annotated[date_, Query(description="YYYY-MM-DD, in `tz`")],
    tz: TimeZoneQuery = None,
) -> WorkDayWithVersions:
    found = await field_ops.day(principal.partner_id, instance_id, pin, date, tz)
    return WorkDayWithVersions(**_work_day(found.day).model_dump(), versions=[_work_day(v) for v in found.versions])


@api.post(
    "/activity/working-time/corrections",
    tags=["working-time"],
    status_code=status.HTTP_201_CREATED,
    summary="Correct a worker's day: a new version (who, when, why); the terminal's is never changed",
)
async def correct_day(
    body: CorrectionIn,
    principal: CurrentPrincipal,
    field_writes: FieldWrites,
    keys: Keys,
    request: Request,
    idempotency_key: CorrectionKey = None,
) -> WorkDayOut:
    asked = CorrectionAsked(
        instance_id=body.instance_id,
        pin=body.pin,
        day=body.date,
        start=body.start,
        end=body.end,
        pauses=[(p.start, p.end) for p in body.pauses],
        reason=body.reason,
        tz=body.tz,
    )
    async with keys.request(
        principal, idempotency_key, fingerprint("POST", request.url.path, body.model_dump(mode="json"))
    ):
        day = await field_writes.correct_day(
            principal.partner_id, principal.user_id, asked, datetime.now(UTC), idempotency_key
        )
    return _work_day(day)


@api.get(
    "/activity/working-time/export",
    tags=["working-time"],
    summary="A worker's month as CSV or PDF (content SHA-256 printed in the PDF and in X-Content-SHA256)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, "application/pdf": {}}}},
)
async def export_working_month(
    principal: CurrentPrincipal,
    field_ops: FieldOps,
    language: DocumentLanguage,
    instance_id: InstanceId,
    pin: WorkerPin,
    month: Annotated[Month, Query()],
    format: Annotated[Literal["csv", "pdf"], Query()] = "csv",
    tz: TimeZoneQuery = None,
) -> Response:
    record = await field_ops.month(principal.partner_id, instance_id, pin, month, tz)
    zone_info = zone(tz)
    exported = (
        export_csv(record, zone_info, language)
        if format == "csv"
        else export_pdf(record, zone_info, language, datetime.now(UTC))
    )
    return Response(
        exported.content,
        media_type=exported.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{exported.filename}"',
            "X-Content-SHA256": exported.sha256,
            "Content-Language": language,
        },
    )


# ------------------------------------------------------------------ the remote-action trail


@api.get(
    "/activity/terminals/{serial}/actions",
    tags=["activity"],
    summary="A terminal's remote actions (clear session, release license): requested, delivered, applied",
)
async def terminal_actions(
    serial: Serial,
    principal: CurrentPrincipal,
    queries: ActionQueries,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> RemoteActionPage:
    page = await queries.terminal_actions(principal.partner_id, serial, limit, cursor, datetime.now(UTC))
    return RemoteActionPage.model_validate(page)


@api.get(
    "/activity/actions",
    tags=["activity"],
    summary="Remote actions of an instance (or of all the partner's); overdue=true: not picked up in time",
)
async def instance_actions(
    principal: CurrentPrincipal,
    queries: ActionQueries,
    instance_id: Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")] = None,
    state: Annotated[ActionState | None, Query()] = None,
    overdue: Annotated[bool, Query(description="Only those still requested after ACTIVITY_ACTION_OVERDUE_S")] = False,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> RemoteActionPage:
    page = await queries.instance_actions(
        principal.partner_id, instance_id, state, overdue, limit, cursor, datetime.now(UTC)
    )
    return RemoteActionPage.model_validate(page)
