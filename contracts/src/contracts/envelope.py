"""The event envelope every topic carries: a CloudEvents 1.0 event with a typed payload.

On Kafka it travels in the structured mode of the CloudEvents Kafka binding: the whole event as
JSON in the record's value, `content-type: application/cloudevents+json`, no `ce_` headers
(`KAFKA_HEADERS`). Every producer sends exactly those headers; trace context is added per hop.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AliasChoices, AwareDatetime, BaseModel, ConfigDict, Field, WithJsonSchema

from contracts.topics import topic_for_payload

PayloadT = TypeVar("PayloadT")

SPEC_VERSION: Literal["1.0"] = "1.0"
CONTENT_TYPE = "application/cloudevents+json"
"""The Kafka `content-type` header of a structured-mode CloudEvent."""
KAFKA_HEADERS: tuple[tuple[str, bytes], ...] = (("content-type", CONTENT_TYPE.encode()),)
"""The headers of every event record, as Kafka clients take them (name, bytes)."""

# Envelope forms, for fixtures and old records: 1 wrote the extension attributes as
# `schema_version`, `correlation_id`, `causation_id`, names CloudEvents does not allow (only
# lower-case letters and digits); 2 writes `schemaversion`, `correlationid`, `causationid` and
# leaves out an extension that has no value. Both are read.
ENVELOPE_FORM = 2


def _unset(value: object) -> bool:
    return value is None


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


# An extension without a value is left out, never written as null: the wire schema says so.
OptionalExtensionId = Annotated[
    uuid.UUID | None, WithJsonSchema({"type": "string", "format": "uuid"}, mode="serialization")
]


class EventEnvelope(BaseModel, Generic[PayloadT]):
    """One event on the wire.

    The CloudEvents attributes (`id`, `type`, `source`, `time`, `specversion`, `subject`,
    `datacontenttype`) plus the project's own extension attributes: `schemaversion` of the
    payload model, `correlationid` (the request or flow it belongs to) and `causationid` (the
    event that caused it). In Python they keep their snake_case names; on the wire they use the
    CloudEvents names, and the old names of envelope form 1 are still read. Trace context does
    not live here: it travels per hop in Kafka headers.
    """

    model_config = ConfigDict(
        frozen=True,
        extra="ignore",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        # The committed schema describes what is written: attributes with defaults are always there.
        json_schema_serialization_defaults_required=True,
    )

    id: uuid.UUID = Field(description="Unique event id; consumers deduplicate on it.")
    type: str = Field(description="The topic name, e.g. `instance.provisioned`.", min_length=1)
    source: str = Field(description="The producing service.", min_length=1)
    time: AwareDatetime = Field(description="When the fact happened (UTC).")
    specversion: Literal["1.0"] = SPEC_VERSION
    subject: str = Field(description="The aggregate id; also the partition key.", min_length=1)
    datacontenttype: Literal["application/json"] = "application/json"
    schema_version: int = Field(
        default=1,
        ge=1,
        description="Version of the payload model (CloudEvents extension attribute).",
        validation_alias=AliasChoices("schemaversion", "schema_version"),
        serialization_alias="schemaversion",
    )
    correlation_id: OptionalExtensionId = Field(
        default=None,
        description="The request or flow the event belongs to (extension attribute; absent when none).",
        validation_alias=AliasChoices("correlationid", "correlation_id"),
        serialization_alias="correlationid",
        exclude_if=_unset,
        json_schema_extra=_no_default,
    )
    causation_id: OptionalExtensionId = Field(
        default=None,
        description="The event that caused this one (extension attribute; absent when none).",
        validation_alias=AliasChoices("causationid", "causation_id"),
        serialization_alias="causationid",
        exclude_if=_unset,
        json_schema_extra=_no_default,
    )
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
