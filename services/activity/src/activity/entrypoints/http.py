"""HTTP API of the activity service: terminals' ingest, and the partner's activity search."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Header, Query, Request, status
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from activity.adapters.instances_client import InstancesUnavailable
from activity.domain.model import ActivityRecord, InvalidWindow, RecordKind, Terminal, Window
from activity.service_layer.handlers import ActivityService, RejectedEvents, ReleaseRefused
from activity.service_layer.ports import RecordQuery
from contracts.events.activity import Action, DeviceInfo, GeoPoint
from contracts.ingest_keys import InvalidIngestKey
from contracts.serials import SERIAL_PATTERN, canonical_serial
from servicekit.auth import CurrentPrincipal
from servicekit.problems import Problem, field_error, problem_response

Serial = Annotated[str, Field(min_length=3, max_length=64, pattern=SERIAL_PATTERN), AfterValidator(canonical_serial)]
Pin = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z]+$")]
MAX_BATCH = 500
# A detail must be storable as it is: a plain field name (no `$`, `.` or NUL, which a document store
# refuses or reads as an operator or a path) and a finite number; a larger integer is kept as a float.
DetailName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
DetailValue = (
    str | Annotated[int, Field(ge=-(2**63), lt=2**63)] | Annotated[float, Field(allow_inf_nan=False)] | bool | None
)


class IngestEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: uuid.UUID = Field(
        description="Made by the terminal, unique among its instance's events; a retried batch is stored once"
    )
    serial: Serial
    pin: Pin | None = None
    action: Action
    occurred_at: AwareDatetime
    device: DeviceInfo | None = None
    battery_pct: int | None = Field(default=None, ge=0, le=100)
    location: GeoPoint | None = None
    details: dict[DetailName, DetailValue] = Field(default_factory=dict, max_length=32)


class IngestBatch(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "events": [
                        {
                            "event_id": "0b6f7d7e-8a8b-4f55-9c57-3f1c2b7a9e10",
                            "serial": "R58N123ABC",
                            "pin": "4821",
                            "action": "clock_in",
                            "occurred_at": "2026-11-29T08:01:12+01:00",
                            "battery_pct": 81,
                            "location": {"lat": 40.4168, "lon": -3.7038, "accuracy_m": 12},
                        }
                    ]
                }
            ]
        },
    )

    events: list[IngestEvent] = Field(min_length=1, max_length=MAX_BATCH)


class ReleaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(min_length=3, max_length=2000)] | None = None


class Accepted(BaseModel):
    accepted: int


class RecordOut(BaseModel):
    id: str = Field(description="Opaque; names the record's bucket")
    event_id: str = Field(
        description="Telemetry: the id the terminal gave the event (unique within its instance); else the event's id"
    )
    kind: RecordKind
    serial: str
    pin: str | None
    instance_id: str
    action: str
    occurred_at: datetime
    received_at: datetime
    device: dict[str, Any] | None
    battery_pct: int | None
    location: dict[str, Any] | None
    details: dict[str, Any]

    @classmethod
    def of(cls, record: ActivityRecord) -> RecordOut:
        return cls(
            id=record.id,
            event_id=record.shown_event_id,
            kind=record.kind,
            serial=record.serial,
            pin=record.pin,
            instance_id=record.instance_id,
            action=record.action,
            occurred_at=record.occurred_at,
            received_at=record.received_at,
            device=record.device,
            battery_pct=record.battery_pct,
            location=record.location,
            details=record.details,
        )


class RecordPage(BaseModel):
    items: list[RecordOut] = Field(description="Newest first")
    next_cursor: str | None
    window: dict[str, datetime]


class TerminalOut(BaseModel):
    serial: str
    instance_id: str
    pin: str | None
    last_seen: datetime
    last_action: str
    maker: str | None
    model: str | None
    os: str | None
    os_version: str | None
    app_version: str | None
    battery_pct: int | None
    location: dict[str, Any] | None
    license_id: str | None

    @classmethod
    def of(cls, terminal: Terminal) -> TerminalOut:
        fields = dict(vars(terminal))
        fields.pop("partner_id")
        return cls(**fields)


class TerminalPage(BaseModel):
    items: list[TerminalOut]
    next_cursor: str | None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RejectedEvents)
    async def _rejected(request: Request, exc: RejectedEvents) -> JSONResponse:
        return problem_response(
            request, 422, "validation", f"Rejected events: {exc}.", errors=[{**e, "in": "body"} for e in exc.errors]
        )

    @app.exception_handler(InvalidWindow)
    async def _window(request: Request, exc: InvalidWindow) -> JSONResponse:
        return problem_response(
            request,
            422,
            "validation",
            str(exc),
            errors=[field_error("from", exc.code, str(exc), where="query", params=exc.params)],
        )


def router(service: ActivityService, registry: CollectorRegistry) -> APIRouter:
    api = APIRouter(prefix="/v1")
    ingested = Counter(
        "partnerapp_ingest_events",
        "Telemetry events accepted by the ingest endpoint (acknowledged by Kafka)",
        registry=registry,
    )

    @api.post(
        "/ingest/events",
        tags=["ingest"],
        status_code=status.HTTP_202_ACCEPTED,
        summary="Terminals: a batch of activity events, answered once Kafka has every one",
        responses={401: {"description": "Unknown or revoked ingest key"}},
    )
    async def ingest(
        batch: IngestBatch, ingest_key: Annotated[str | None, Header(alias="X-Ingest-Key", max_length=200)] = None
    ) -> Accepted:
        if not ingest_key:  # a missing credential is a 401, like a wrong one
            raise InvalidIngestKey("An X-Ingest-Key header is required.")
        events = [e.model_dump(exclude_none=False) for e in batch.events]
        for event, original in zip(events, batch.events, strict=True):
            event["device"], event["location"] = original.device, original.location
        accepted = await service.ingest(ingest_key, events, datetime.now(UTC))
        ingested.inc(accepted)
        return Accepted(accepted=accepted)

    @api.get("/activity/records", tags=["activity"], summary="A terminal's activity by serial or PIN (R-40, R-41)")
    async def search(
        principal: CurrentPrincipal,
        serial: Annotated[Serial | None, Query()] = None,
        pin: Annotated[Pin | None, Query()] = None,
        from_: Annotated[AwareDatetime | None, Query(alias="from", description="Default: to minus 24 h")] = None,
        to: Annotated[AwareDatetime | None, Query(description="Default: now (or from plus 24 h)")] = None,
        action: Annotated[Action | None, Query()] = None,
        kind: Annotated[RecordKind | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, Query(max_length=512)] = None,
    ) -> RecordPage:
        if (serial is None) == (pin is None):
            raise Problem(
                422,
                "validation",
                "Give exactly one of serial or pin.",
                errors=[field_error("serial", "serial_or_pin", "exactly one of serial or pin", where="query")],
            )
        window = Window.of(from_, to, datetime.now(UTC))
        query = RecordQuery(
            partner_id=principal.partner_id,
            window=window,
            serial=serial,
            pin=pin,
            action=action,
            kind=kind,
            limit=limit,
            cursor=cursor,
        )
        page = await service.search(query)
        return RecordPage(
            items=[RecordOut.of(r) for r in page.items],
            next_cursor=page.next_cursor,
            window={"from": window.start, "to": window.end},
        )

    @api.get("/activity/records/{record_id}", tags=["activity"], summary="One activity record (R-41)")
    async def get_record(record_id: Annotated[str, Field(max_length=160)], principal: CurrentPrincipal) -> RecordOut:
        record = await service.record(record_id, principal.partner_id)
        if record is None:
            raise Problem(404, "not-found", f"No activity record {record_id}.")
        return RecordOut.of(record)

    @api.post(
        "/activity/records/{record_id}/release-license",
        tags=["activity"],
        summary="Free the license bound to the record's terminal (R-43), through the instances service",
        responses={409: {"description": "No active license of this PIN bound to this terminal"}},
    )
    async def release_license(
        record_id: Annotated[str, Field(max_length=160)],
        body: ReleaseIn,
        principal: CurrentPrincipal,
        authorization: Annotated[str, Header()],
    ) -> JSONResponse:
        token = authorization.partition(" ")[2].strip()
        try:
            outcome = await service.release_license(token, principal.partner_id, record_id, body.reason)
        except ReleaseRefused as exc:
            raise Problem(409, exc.slug, str(exc)) from exc
        except InstancesUnavailable as exc:
            raise Problem(503, "instances-unavailable", "The instances service is unavailable; retry shortly.") from exc
        if outcome is None:
            raise Problem(404, "not-found", f"No activity record {record_id}.")
        _, released = outcome
        media = "application/json" if released.status_code < 400 else "application/problem+json"
        return JSONResponse(released.body, status_code=released.status_code, media_type=media)

    @api.get("/activity/terminals", tags=["activity"], summary="The partner's terminals, last seen first")
    async def latest(
        principal: CurrentPrincipal,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, Query(max_length=512)] = None,
    ) -> TerminalPage:
        page = await service.latest(principal.partner_id, limit, cursor)
        return TerminalPage(items=[TerminalOut.of(t) for t in page.items], next_cursor=page.next_cursor)

    @api.get("/activity/terminals/{serial}", tags=["activity"], summary="A terminal's latest state (R-42)")
    async def terminal(serial: Serial, principal: CurrentPrincipal) -> TerminalOut:
        found = await service.terminal(principal.partner_id, serial)
        if found is None:
            raise Problem(404, "not-found", f"No terminal {serial}.")
        return TerminalOut.of(found)

    return api
