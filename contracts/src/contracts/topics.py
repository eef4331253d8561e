"""The topic catalogue: every topic, who owns (produces) it, its payload model, partitions and key.

The local infrastructure, docker-compose and Kubernetes manifests create topics from this list;
nothing else names partition counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from contracts.events.activity import TerminalActivity
from contracts.events.companies import CompanyCreated, CompanyUpdated
from contracts.events.instances import (
    IngestKeyRotated,
    InstanceCancellationRequested,
    InstanceExtended,
    InstanceProvisioned,
    InstanceUpdated,
    SessionCleared,
)
from contracts.events.licenses import LicenseAdded, LicenseImpersonated, LicenseReleased, LicenseRevoked
from contracts.events.partners import PartnerUpdated
from contracts.events.support import MessagePosted


@dataclass(frozen=True)
class TopicSpec:
    name: str
    owner: str
    payload: type[BaseModel]
    partitions: int
    key_field: str
    schema_version: int = 1
    description: str = ""

    def key_of(self, data: BaseModel) -> str:
        """The partition key of a payload: its aggregate id, so one entity's events stay ordered."""
        value: Any = getattr(data, self.key_field)
        return str(value)


# Partition counts bound how many consumers of one group work in parallel: telemetry is the
# only high-volume stream, so it gets the most.
CATALOGUE: tuple[TopicSpec, ...] = (
    TopicSpec(
        "company.created",
        "instances",
        CompanyCreated,
        3,
        "company_id",
        description="A partner registered a customer company (R-02).",
    ),
    TopicSpec("company.updated", "instances", CompanyUpdated, 3, "company_id", description="A company's data changed."),
    TopicSpec(
        "instance.provisioned",
        "instances",
        InstanceProvisioned,
        3,
        "instance_id",
        description="An instance was generated from a provisioning (R-24).",
    ),
    TopicSpec(
        "instance.updated",
        "instances",
        InstanceUpdated,
        3,
        "instance_id",
        description="An instance's data or configuration changed.",
    ),
    TopicSpec(
        "instance.extended",
        "instances",
        InstanceExtended,
        3,
        "instance_id",
        description="An instance's expiry date moved (R-03).",
    ),
    TopicSpec(
        "instance.cancellation_requested",
        "instances",
        InstanceCancellationRequested,
        3,
        "instance_id",
        description="Cancellation of an instance was requested with a reason (R-25).",
    ),
    TopicSpec(
        "instance.ingest_key_rotated",
        "instances",
        IngestKeyRotated,
        3,
        "instance_id",
        description="An instance's terminals use a new ingest key (R-04).",
    ),
    TopicSpec(
        "license.added",
        "instances",
        LicenseAdded,
        3,
        "instance_id",
        description="A license (seat) was added to an instance.",
    ),
    TopicSpec(
        "license.revoked",
        "instances",
        LicenseRevoked,
        3,
        "instance_id",
        description="A license was cancelled with a reason (R-26).",
    ),
    TopicSpec(
        "license.released",
        "instances",
        LicenseReleased,
        3,
        "instance_id",
        description="A license was freed from its terminal (R-43).",
    ),
    TopicSpec(
        "license.impersonated",
        "instances",
        LicenseImpersonated,
        3,
        "instance_id",
        description="Someone opened the web panel as a license's user with a short-lived grant (R-22).",
    ),
    TopicSpec(
        "session.cleared",
        "instances",
        SessionCleared,
        3,
        "instance_id",
        description="Terminals of an instance must log in again (R-23).",
    ),
    TopicSpec(
        "message.posted",
        "support",
        MessagePosted,
        3,
        "thread_id",
        description="A message was posted in a company's support thread (R-06, R-10).",
    ),
    TopicSpec(
        "partner.updated",
        "gateway",
        PartnerUpdated,
        3,
        "partner_id",
        description="A partner was registered or renamed in the gateway's partner directory.",
    ),
    TopicSpec(
        "terminal.activity",
        "activity",
        TerminalActivity,
        6,
        "serial",
        description="Telemetry of field terminals (R-40..R-43).",
    ),
)

DEADLETTER_TOPIC = "deadletter"
"""Where any consumer puts a message it could not handle, with the reason in the headers.
Its records keep the original bytes and key, so they can be inspected and replayed."""
DEADLETTER_PARTITIONS = 3
DEADLETTER_HEADERS: dict[str, str] = {
    "dlq-original-topic": "The topic the record was read from (with the deployment's prefix).",
    "dlq-original-partition": "Its partition, in decimal.",
    "dlq-original-offset": "Its offset, in decimal.",
    "dlq-consumer-group": "The consumer group that gave up on it.",
    "dlq-attempts": "How many times the handler was tried (1: the record is no valid event).",
    "dlq-error": "Why it failed, at most 2000 characters.",
    "dlq-failed-at": "When it was dead-lettered (ISO 8601, UTC).",
}
"""The headers a dead-letter record carries besides the original record's `content-type`."""

_BY_NAME = {spec.name: spec for spec in CATALOGUE}
_BY_PAYLOAD = {spec.payload: spec for spec in CATALOGUE}


def topic(name: str) -> TopicSpec:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown topic {name!r}: not in the catalogue") from None


def topic_for_payload(payload: type[BaseModel]) -> TopicSpec:
    try:
        return _BY_PAYLOAD[payload]
    except KeyError:
        raise KeyError(f"{payload.__name__} is not the payload of any catalogued topic") from None


def all_topic_partitions() -> dict[str, int]:
    """Every topic the platform needs, with its partition count (dead letters included)."""
    return {**{spec.name: spec.partitions for spec in CATALOGUE}, DEADLETTER_TOPIC: DEADLETTER_PARTITIONS}
