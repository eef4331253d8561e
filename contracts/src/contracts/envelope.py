"""The event envelope every topic carries: CloudEvents-compatible, with a typed payload."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.topics import topic_for_payload

PayloadT = TypeVar("PayloadT")

SPEC_VERSION: Literal["1.0"] = "1.0"


class EventEnvelope(BaseModel, Generic[PayloadT]):
    """One event on the wire.

    The CloudEvents attributes (`id`, `type`, `source`, `time`, `specversion`, `subject`,
    `datacontenttype`) plus the project's own: `schema_version` of the payload model,
    `correlation_id` (the request or flow it belongs to) and `causation_id` (the event that
    caused it). Trace context does not live here: it travels per hop in Kafka headers.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: uuid.UUID = Field(description="Unique event id; consumers deduplicate on it.")
    type: str = Field(description="The topic name, e.g. `instance.provisioned`.", min_length=1)
    source: str = Field(description="The producing service.", min_length=1)
    time: AwareDatetime = Field(description="When the fact happened (UTC).")
    specversion: Literal["1.0"] = SPEC_VERSION
    subject: str = Field(description="The aggregate id; also the partition key.", min_length=1)
    datacontenttype: Literal["application/json"] = "application/json"
    schema_version: int = Field(default=1, ge=1, description="Version of the payload model.")
    correlation_id: uuid.UUID | None = None
    causation_id: uuid.UUID | None = None
    data: PayloadT

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json().encode()


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_event_id() -> uuid.UUID:
    return uuid.uuid4()


def envelope_for(
    data: BaseModel,
    *,
    source: str,
    event_id: uuid.UUID | None = None,
    time: datetime | None = None,
    correlation_id: uuid.UUID | None = None,
    causation_id: uuid.UUID | None = None,
) -> EventEnvelope[Any]:
    """Wrap a payload in its envelope; type, subject and schema version come from the catalogue."""
    spec = topic_for_payload(type(data))
    return EventEnvelope[Any](
        id=event_id or new_event_id(),
        type=spec.name,
        source=source,
        time=time or utc_now(),
        subject=spec.key_of(data),
        schema_version=spec.schema_version,
        correlation_id=correlation_id,
        causation_id=causation_id,
        data=data,
    )
