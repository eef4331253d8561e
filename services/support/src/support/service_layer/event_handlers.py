"""What the support service takes from other services' events: each company gets its thread,
and events worth a word in it become system notes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts import EventEnvelope, utc_now
from contracts.events.companies import CompanyCreated, CompanyUpdated
from contracts.events.instances import InstanceCancellationRequested, InstanceExtended, InstanceProvisioned
from contracts.events.licenses import LicenseAdded, LicenseRevoked
from contracts.events.partners import PartnerUpdated
from servicekit.errors import NotFound
from servicekit.handlers import EventHandlerTable
from support.domain.model import (
    DEFAULT_LANGUAGE,
    Note,
    Side,
    ThreadContext,
    cancellation_note,
    license_revoked_note,
    thread_id_for,
)
from support.service_layer.commands import add_message
from support.service_layer.ports import MessageRepository, PartnerNames, ThreadRepository

SYSTEM_AUTHOR = "system"


@dataclass
class SupportEventHandlers:
    threads: ThreadRepository
    messages: MessageRepository
    now: Callable[[], datetime] = utc_now
    partners: PartnerNames | None = None

    async def company_created(self, event: EventEnvelope[CompanyCreated]) -> None:
        data = event.data
        await self._company_known(data.partner_id, data.company_id, data.name)
        await self.threads.note_context(data.company_id, data.partner_id, ThreadContext(company_tax_id=data.tax_id))

    async def company_updated(self, event: EventEnvelope[CompanyUpdated]) -> None:
        data = event.data
        await self._company_known(data.partner_id, data.company_id, data.name)
        await self.threads.note_context(data.company_id, data.partner_id, ThreadContext(company_tax_id=data.tax_id))

    async def instance_provisioned(self, event: EventEnvelope[InstanceProvisioned]) -> None:
        """The company's thread exists even when its own event has not arrived yet; the latest
        instance is what canned replies' `instance.*` variables name."""
        data = event.data
        await self._company_known(data.partner_id, data.company_id, None)
        context = ThreadContext(
            instance_id=data.instance_id,
            instance_name=data.name or data.contract_number,
            instance_type=data.type.value,
            instance_expiry_date=data.expiry_date,
        )
        await self.threads.note_context(data.company_id, data.partner_id, context)

    async def instance_extended(self, event: EventEnvelope[InstanceExtended]) -> None:
        data = event.data
        await self._company_known(data.partner_id, data.company_id, None)
        thread = await self.threads.get(thread_id_for(data.company_id), (data.partner_id,))
        if thread is not None and thread.context.instance_id in (None, data.instance_id):
            context = ThreadContext(instance_id=data.instance_id, instance_expiry_date=data.new_expiry_date)
            await self.threads.note_context(data.company_id, data.partner_id, context)

    async def license_added(self, event: EventEnvelope[LicenseAdded]) -> None:
        """The latest licensed user is what `{{license.user}}` names."""
        data = event.data
        await self._company_known(data.partner_id, data.company_id, None)
        await self.threads.note_context(data.company_id, data.partner_id, ThreadContext(license_user=data.user_name))

    async def partner_updated(self, event: EventEnvelope[PartnerUpdated]) -> None:
        """The partner's current name (the gateway's directory), for `{{partner.name}}`."""
        if self.partners is not None:
            await self.partners.put(event.data.partner_id, event.data.name)

    async def cancellation_requested(self, event: EventEnvelope[InstanceCancellationRequested]) -> None:
        data = event.data
        note = cancellation_note(data.instance_id, data.reason)
        await self._system_note(event, data.partner_id, data.company_id, note)

    async def license_revoked(self, event: EventEnvelope[LicenseRevoked]) -> None:
        data = event.data
        note = license_revoked_note(data.license_id, data.pin, data.serial, data.reason)
        await self._system_note(event, data.partner_id, data.company_id, note)

    async def _company_known(self, partner_id: str, company_id: str, name: str | None) -> None:
        await self.threads.ensure(partner_id=partner_id, company_id=company_id, company_name=name)

    async def _system_note(self, event: EventEnvelope[Any], partner_id: str, company_id: str, note: Note) -> None:
        """A note in the company's thread, once per event id however often it is delivered. It is
        stored as its code and parameters (each reader reads it in their language), with its text
        in the default language beside them for readers that know no codes."""
        await self._company_known(partner_id, company_id, None)
        message_id = f"note-{event.id}"
        if await self.messages.get(message_id):
            return
        thread = await self.threads.get(thread_id_for(company_id), (partner_id,))
        if thread is None:  # cannot happen after ensure; a defensive guard
            raise NotFound("thread", thread_id_for(company_id))
        await add_message(
            self.threads,
            self.messages,
            thread,
            message_id=message_id,
            author_id=SYSTEM_AUTHOR,
            side=Side.SYSTEM,
            body=note.text(DEFAULT_LANGUAGE) or note.code,
            at=self.now(),
            audit=[],
            causation=event,
            note=note,
        )


EVENT_HANDLERS: EventHandlerTable = {
    "company.created": SupportEventHandlers.company_created,
    "company.updated": SupportEventHandlers.company_updated,
    "instance.provisioned": SupportEventHandlers.instance_provisioned,
    "instance.extended": SupportEventHandlers.instance_extended,
    "license.added": SupportEventHandlers.license_added,
    "partner.updated": SupportEventHandlers.partner_updated,
    "instance.cancellation_requested": SupportEventHandlers.cancellation_requested,
    "license.revoked": SupportEventHandlers.license_revoked,
}
