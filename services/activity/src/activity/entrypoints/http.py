"""HTTP API of the activity service: terminals' ingest, and the partner's activity search."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, status
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter
from pydantic import AwareDatetime, Field

from activity.domain.model import RecordKind
from activity.domain.remote_actions import ActionState
from activity.entrypoints.schemas import (
    Accepted,
    IngestBatch,
    Pin,
    RecordOut,
    RecordPage,
    ReleaseIn,
    RemoteActionPage,
    Serial,
    TerminalOut,
    TerminalPage,
)
from activity.service_layer.commands import ActivityCommands
from activity.service_layer.queries import ActivityQueries, RecordSearch
from activity.service_layer.remote_actions import RemoteActionQueries
from contracts.events.activity import Action
from servicekit.api import DEFAULT_LIMIT, Cursor, Limit, provided
from servicekit.auth import BearerToken, CurrentPrincipal


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
ActionQueries = Annotated[RemoteActionQueries, provided(RemoteActionQueries)]
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
    return RecordPage.model_validate(await queries.search(asked, datetime.now(UTC)))


@api.get("/activity/records/{record_id}", tags=["activity"], summary="One activity record (R-41)")
async def get_record(record_id: RecordId, principal: CurrentPrincipal, queries: Queries) -> RecordOut:
    return RecordOut.model_validate(await queries.record(record_id, principal.partner_id))


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
    principal: CurrentPrincipal, queries: Queries, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> TerminalPage:
    return TerminalPage.model_validate(await queries.latest(principal.partner_id, limit, cursor))


@api.get("/activity/terminals/{serial}", tags=["activity"], summary="A terminal's latest state (R-42)")
async def terminal(serial: Serial, principal: CurrentPrincipal, queries: Queries) -> TerminalOut:
    return TerminalOut.model_validate(await queries.terminal(principal.partner_id, serial))


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
