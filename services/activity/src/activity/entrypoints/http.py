from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel

from activity.service_layer import handlers
from activity.service_layer.ports import ActivityRepository
from servicekit.auth import CurrentPrincipal
from servicekit.problems import Problem

EventId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class ActivityRecordOut(BaseModel):
    event_id: str
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


def router(repository: ActivityRepository) -> APIRouter:
    api = APIRouter(prefix="/v1/activity", tags=["activity"])

    @api.get(
        "/records/{event_id}",
        response_model=ActivityRecordOut,
        summary="One activity record of the caller's partner (R-41)",
        responses={404: {"description": "No such record for this partner"}},
    )
    async def get_record(event_id: EventId, principal: CurrentPrincipal) -> ActivityRecordOut:
        record = await handlers.get_record(event_id, principal.partner_id, repository)
        if record is None:
            raise Problem(404, "not-found", f"No activity record {event_id}.")
        return ActivityRecordOut.model_validate(record, from_attributes=True)

    return api
