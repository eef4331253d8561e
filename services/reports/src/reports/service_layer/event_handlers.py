"""What Kafka delivers to the reports service, projected into the read model: the instances
service's events one by one (the inbox drops redeliveries), the terminals' telemetry in batches,
counted once per (partition, offset). The same code serves the live consumer and the rebuild from
offset 0 (`commands.py`), so a rebuild gives what the live service built."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from contracts import EventEnvelope
from contracts.events.activity import TerminalActivity
from contracts.events.companies import CompanyCreated, CompanyUpdated
from contracts.events.instances import (
    InstanceCancellationRequested,
    InstanceExtended,
    InstanceProvisioned,
    InstanceUpdated,
)
from contracts.events.licenses import LicenseAdded, LicenseReleased, LicenseRevoked
from reports.domain import model
from reports.domain.model import CountResult, InstanceView, LicenseView, Operation
from reports.domain.seats import Binding
from reports.service_layer.ports import ProjectionStore
from reports.service_layer.seats import SeatStore, Seen
from servicekit.handlers import Delivered, EventHandlerTable, InBatches

TELEMETRY_TOPIC = "terminal.activity"


@dataclass
class ProjectionStats:
    """Read at scrape time by the service's metrics."""

    operations: CountResult = field(default_factory=CountResult)


def _stamp(event: EventEnvelope[Any]) -> str:
    return model.stamp_of(event.time, str(event.id))


def operation_of(placed: Delivered[TerminalActivity]) -> Operation:
    data = placed.event.data
    return Operation(
        event_id=str(placed.event.id),
        partition=placed.partition,
        offset=placed.offset,
        day=data.occurred_at.astimezone(UTC).date(),
        instance_id=data.instance_id,
        partner_id=data.partner_id,
        action=data.action,
    )


@dataclass
class ReportsEventHandlers:
    store: ProjectionStore
    recent_ids: int = model.RECENT_IDS
    stats: ProjectionStats = field(default_factory=ProjectionStats)
    seats: SeatStore | None = None
    """Silent seats: which license holds each terminal, and when it was last seen (None: not kept)."""

    # ------------------------------------------------------------------ companies

    async def company_named(self, event: EventEnvelope[CompanyCreated | CompanyUpdated]) -> None:
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

    async def instance_provisioned(self, event: EventEnvelope[InstanceProvisioned]) -> None:
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

    async def instance_updated(self, event: EventEnvelope[InstanceUpdated]) -> None:
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

    async def instance_extended(self, event: EventEnvelope[InstanceExtended]) -> None:
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

    async def cancellation_requested(self, event: EventEnvelope[InstanceCancellationRequested]) -> None:
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

    async def license_added(self, event: EventEnvelope[LicenseAdded]) -> None:
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
        if self.seats is not None and d.serial is not None:
            binding = Binding(d.license_id, d.user_name, d.pin, stamp)
            await self.seats.bind(d.partner_id, d.instance_id, d.serial, binding, unbinding=False)

    async def license_released(self, event: EventEnvelope[LicenseReleased]) -> None:
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
        if self.seats is not None:
            released = Binding(d.license_id, None, d.pin, stamp)
            await self.seats.bind(d.partner_id, d.instance_id, d.serial, released, unbinding=True)

    async def license_revoked(self, event: EventEnvelope[LicenseRevoked]) -> None:
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
        if self.seats is not None and d.serial is not None:
            revoked = Binding(d.license_id, None, d.pin, stamp)
            await self.seats.bind(d.partner_id, d.instance_id, d.serial, revoked, unbinding=True)

    # ------------------------------------------------------------------ telemetry

    async def count_telemetry(self, batch: Sequence[Delivered[TerminalActivity]]) -> CountResult:
        """Count telemetry events, each (partition, offset) once however often Kafka delivers it."""
        operations = [operation_of(placed) for placed in batch]
        total = CountResult()
        for (day, partition), group in sorted(model.group_by_bucket(operations).items()):
            result = await self.store.change_activity_bucket(
                day,
                partition,
                lambda bucket, group=group: model.count_operations(bucket, group, self.recent_ids),  # type: ignore[misc]
            )
            total.add(result)
        self.stats.operations.add(total)
        if self.seats is not None:
            await self.seats.seen(
                [
                    Seen(
                        p.event.data.partner_id, p.event.data.instance_id, p.event.data.serial, p.event.data.occurred_at
                    )
                    for p in batch
                ]
            )
        return total


EVENT_HANDLERS: EventHandlerTable = {
    "company.created": ReportsEventHandlers.company_named,
    "company.updated": ReportsEventHandlers.company_named,
    "instance.provisioned": ReportsEventHandlers.instance_provisioned,
    "instance.updated": ReportsEventHandlers.instance_updated,
    "instance.extended": ReportsEventHandlers.instance_extended,
    "instance.cancellation_requested": ReportsEventHandlers.cancellation_requested,
    "license.added": ReportsEventHandlers.license_added,
    "license.released": ReportsEventHandlers.license_released,
    "license.revoked": ReportsEventHandlers.license_revoked,
    TELEMETRY_TOPIC: InBatches(ReportsEventHandlers.count_telemetry, with_offsets=True),
}
