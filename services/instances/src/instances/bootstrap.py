"""Composition root of the instances service: the one place adapters are chosen and wired."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI
from pymongo.asynchronous.database import AsyncDatabase

from instances.adapters.documents import ContractRenderer
from instances.adapters.impersonation import Ed25519ImpersonationSigner, SystemClock
from instances.adapters.mongo import (
    AGGREGATES,
    INDEXES,
    ListingCatchUp,
    MongoCompanyRepository,
    MongoContractNumbers,
    MongoInstanceRepository,
    OnWrite,
)
from instances.config import Settings
from instances.domain.model import Party
from instances.entrypoints import http
from instances.service_layer.commands import InstanceCommands, ServiceParties
from instances.service_layer.event_handlers import EVENT_HANDLERS, InstanceEventHandlers
from instances.service_layer.ports import Clock, ContractDocuments
from instances.service_layer.queries import InstanceQueries
from servicekit import openapi
from servicekit.handlers import subscribe_table
from servicekit.idempotency import COLLECTION as IDEMPOTENCY_KEYS
from servicekit.idempotency import IdempotencyKeys
from servicekit.mongo import Document, DocumentLocks
from servicekit.pdf import fonts_ready
from servicekit.runtime import ServiceRuntime
from servicekit.telemetry import Telemetry

SERVICE = "instances"
LISTING_CATCH_UP_SECONDS = 30.0


@dataclass(frozen=True)
class UseCases:
    commands: InstanceCommands
    queries: InstanceQueries
    events: InstanceEventHandlers
    listings: ListingCatchUp


def build_use_cases(
    settings: Settings,
    db: AsyncDatabase[Document],
    *,
    locks: DocumentLocks | None = None,
    clock: Clock | None = None,
    on_write: OnWrite | None = None,
    documents: ContractDocuments | None = None,
) -> UseCases:
    locks = locks or DocumentLocks()
    notify: OnWrite = on_write or (lambda collection, document_id: None)
    clock = clock or SystemClock()
    instances = MongoInstanceRepository(db, locks, notify)
    companies = MongoCompanyRepository(db, locks, notify)
    signing_key = settings.impersonation_pem()
    commands = InstanceCommands(
        instances=instances,
        companies=companies,
        contract_numbers=MongoContractNumbers(db, locks),
        clock=clock,
        parties=ServiceParties(
            vendor=Party(
                name=settings.vendor_name,
                tax_id=settings.vendor_tax_id,
                address=settings.vendor_address,
                contact=settings.vendor_contact,
                email=settings.vendor_email,
            )
        ),
        signer=Ed25519ImpersonationSigner(signing_key) if signing_key else None,
        panel_url=settings.panel_url,
        impersonation_ttl=settings.impersonation_ttl,
    )
    queries = InstanceQueries(
        instances=instances, companies=companies, documents=documents or ContractRenderer(), clock=clock
    )
    return UseCases(commands, queries, InstanceEventHandlers(), ListingCatchUp(instances))


def build_app(settings: Settings | None = None, *, telemetry: Telemetry | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = ServiceRuntime.create(SERVICE, settings, telemetry=telemetry)
    runtime.add_indexes(INDEXES)
    runtime.add_readiness("pdf_fonts", fonts_ready)  # the contract PDF needs them
    relay = runtime.use_outbox(AGGREGATES)
    use_cases = build_use_cases(settings, runtime.db, locks=runtime.locks, on_write=relay.notify)
    # The lists read `instance_list`: written with every change; what a crash left out (and, at
    # start, the data stored before it existed) is written by this catch-up; ready once it ran.
    runtime.every(LISTING_CATCH_UP_SECONDS, use_cases.listings.run, name="listing_catch_up")
    runtime.add_readiness("instance_listings", use_cases.listings.ready)
    runtime.provide(InstanceCommands, use_cases.commands)
    runtime.provide(InstanceQueries, use_cases.queries)
    runtime.provide(IdempotencyKeys, IdempotencyKeys(runtime.db[IDEMPOTENCY_KEYS]))
    subscribe_table(runtime.consumer, EVENT_HANDLERS, use_cases.events)
    app = runtime.create_app(title="partnerapp instances", routers=[http.api])
    # What the domain refuses with 409 (illegal transitions, quota, PIN in use, a write that kept
    # losing its race), beyond what the routes' declarations show; a draft's company must be the partner's.
    openapi.declare_errors(
        app,
        {
            "POST /v1/provisionings": (404, 409),
            "PATCH /v1/companies/*": (409,),
            "PATCH /v1/provisionings/*": (409,),
            "POST /v1/provisionings/*": (409,),
            "PATCH /v1/instances/*": (409,),
            "POST /v1/instances/*": (409,),
        },
    )
    return app
