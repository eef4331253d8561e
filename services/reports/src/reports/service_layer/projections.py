"""Projecting events into the read model. The same code serves the live consumer and the rebuild
from offset 0, so a rebuild gives what the live service built."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from contracts import EventEnvelope
from reports.domain import model
from reports.domain.model import CountResult, InstanceView, LicenseView, Operation
from reports.service_layer.ports import ProjectionStore

EventHandler = Callable[[EventEnvelope[Any]], Awaitable[None]]

TELEMETRY_TOPIC = "terminal.activity"


@dataclass
class ProjectionStats:
    """Read at scrape time by the service's metrics."""

    operations: CountResult = field(default_factory=CountResult)


def _stamp(event: EventEnvelope[Any]) -> str:
    return model.stamp_of(event.time, str(event.id))


def operation_of(event: EventEnvelope[Any], partition: int, offset: int) -> Operation:
    data = event.data
    return Operation(
        event_id=str(event.id),
        partition=partition,
        offset=offset,
        day=data.occurred_at.astimezone(UTC).date(),
        instance_id=data.instance_id,
        partner_id=data.partner_id,
        action=data.action,
    )


@dataclass
class Projector:
    store: ProjectionStore
    recent_ids: int = model.RECENT_IDS
    stats: ProjectionStats = field(default_factory=ProjectionStats)

    def handlers(self) -> dict[str, EventHandler]:
        """One handler per consumed topic (telemetry is counted in batches: `count_operations`)."""
        return {
            "company.created": self.company_named,
            "company.updated": self.company_named,
            "instance.provisioned": self.instance_provisioned,
            "instance.updated": self.instance_updated,
            "instance.extended": self.instance_extended,
            "instance.cancellation_requested": self.cancellation_requested,
            "license.added": self.license_added,
            "license.released": self.license_released,
            "license.revoked": self.license_revoked,
        }

    # ------------------------------------------------------------------ companies

    async def company_named(self, event: EventEnvelope[Any]) -> None:
        d, stamp = event.data, _stamp(event)
        await self.store.change_company(
            d.company_id,
            lambda current: model.company_named(
                current,
                company_id=d.company_id,
                partner_id=d.partner_id,
                name=d.name,
                stamp=stamp,
                created=event.type == "company.created",
            ),
        )

    # ------------------------------------------------------------------ instances

    async def instance_provisioned(self, event: EventEnvelope[Any]) -> None:
        d, stamp = event.data, _stamp(event)
        instance = await self.store.change_instance(
            d.instance_id,
            lambda current: model.instance_provisioned(
                current,
                instance_id=d.instance_id,
                partner_id=d.partner_id,
                company_id=d.company_id,
                type_=d.type.value,
                provisioning_id=d.provisioning_id,
                contract_number=d.contract_number,
                name=d.name,
                profile=d.profile,
                activation_date=d.activation_date,
                expiry_date=d.expiry_date,
                at=event.time,
                stamp=stamp,
            ),
        )
        # Licenses that arrived before their instance learn its type now.
        await self.store.fill_instance_on_licenses(instance)

    async def instance_updated(self, event: EventEnvelope[Any]) -> None:
        d, stamp = event.data, _stamp(event)
        await self.store.change_instance(
            d.instance_id,
            lambda current: model.instance_updated(
                current,
                instance_id=d.instance_id,
                partner_id=d.partner_id,
                company_id=d.company_id,
                type_=d.type.value,
                changes=dict(d.changes),
                stamp=stamp,
            ),
        )

    async def instance_extended(self, event: EventEnvelope[Any]) -> None:
        d, stamp = event.data, _stamp(event)
        await self.store.change_instance(
            d.instance_id,
            lambda current: model.instance_extended(
                current,
                instance_id=d.instance_id,
                partner_id=d.partner_id,
                company_id=d.company_id,
                new_expiry_date=d.new_expiry_date,
                stamp=stamp,
            ),
        )

    async def cancellation_requested(self, event: EventEnvelope[Any]) -> None:
        d, stamp = event.data, _stamp(event)
        await self.store.change_instance(
            d.instance_id,
            lambda current: model.cancellation_requested(
                current,
                instance_id=d.instance_id,
                partner_id=d.partner_id,
                company_id=d.company_id,
                reason=d.reason,
                at=event.time,
                stamp=stamp,
            ),
        )

    # ------------------------------------------------------------------ licenses

    async def _change_license(
        self, license_id: str, instance_id: str, change: Callable[[LicenseView | None], LicenseView]
    ) -> None:
        instance: InstanceView | None = await self.store.instance(instance_id)
        await self.store.change_license(license_id, lambda current: model.with_instance(change(current), instance))

    async def license_added(self, event: EventEnvelope[Any]) -> None:
        d, stamp = event.data, _stamp(event)
        await self._change_license(
            d.license_id,
            d.instance_id,
            lambda current: model.license_added(
                current,
                license_id=d.license_id,
                instance_id=d.instance_id,
                partner_id=d.partner_id,
                company_id=d.company_id,
                user_name=d.user_name,
                pin=d.pin,
                serial=d.serial,
                at=event.time,
                stamp=stamp,
            ),
        )

    async def license_released(self, event: EventEnvelope[Any]) -> None:
        d, stamp = event.data, _stamp(event)
        await self._change_license(
            d.license_id,
            d.instance_id,
            lambda current: model.license_released(
                current,
                license_id=d.license_id,
                instance_id=d.instance_id,
                partner_id=d.partner_id,
                company_id=d.company_id,
                pin=d.pin,
                at=event.time,
                stamp=stamp,
            ),
        )

    async def license_revoked(self, event: EventEnvelope[Any]) -> None:
        d, stamp = event.data, _stamp(event)
        await self._change_license(
            d.license_id,
            d.instance_id,
            lambda current: model.license_revoked(
                current,
                license_id=d.license_id,
                instance_id=d.instance_id,
                partner_id=d.partner_id,
                company_id=d.company_id,
                pin=d.pin,
                reason=d.reason,
                at=event.time,
                stamp=stamp,
            ),
        )

    # ------------------------------------------------------------------ telemetry

    async def count_operations(self, operations: list[Operation]) -> CountResult:
        """Count telemetry events, each (partition, offset) once however often Kafka delivers it."""
        total = CountResult()
        for (day, partition), group in sorted(model.group_by_bucket(operations).items()):
            result = await self.store.change_activity_bucket(
                day,
                partition,
                lambda bucket, group=group: model.count_operations(bucket, group, self.recent_ids),  # type: ignore[misc]
            )
            total.add(result)
        self.stats.operations.add(total)
        return total
