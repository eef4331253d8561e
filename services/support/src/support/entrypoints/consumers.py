"""What the support service takes from other services' events."""

from __future__ import annotations

from typing import Any

from contracts import EventEnvelope
from servicekit.consumer import EventConsumer
from support.service_layer.services import SupportService


def register(consumer: EventConsumer, service: SupportService) -> None:
    async def company_created_or_updated(event: EventEnvelope[Any]) -> None:
        await service.company_known(event.data.partner_id, event.data.company_id, event.data.name)

    async def instance_provisioned(event: EventEnvelope[Any]) -> None:
        await service.company_known(event.data.partner_id, event.data.company_id, None)

    async def cancellation_requested(event: EventEnvelope[Any]) -> None:
        await service.note_cancellation_requested(event)

    async def license_revoked(event: EventEnvelope[Any]) -> None:
        await service.note_license_revoked(event)

    consumer.subscribe("company.created", company_created_or_updated)
    consumer.subscribe("company.updated", company_created_or_updated)
    consumer.subscribe("instance.provisioned", instance_provisioned)
    consumer.subscribe("instance.cancellation_requested", cancellation_requested)
    consumer.subscribe("license.revoked", license_revoked)
