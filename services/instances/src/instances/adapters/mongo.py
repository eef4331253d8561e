"""MongoDB repositories of the instances service (valid on FerretDB 1.x and on MongoDB).

An instance (with its provisioning, contract, licenses and terminal sessions) is one document:
every change to it is one `update_one` guarded by its `version`, carrying its events and audit
entries in the outbox fields. Dates are stored as ISO `YYYY-MM-DD` strings: they sort and
compare correctly and need no time zone.

Lists read another collection, `instance_list`: one small document per instance with what a list
shows (`InstanceListing`: no licenses, terminal sessions, contract text nor outbox; the license
counts instead), written by the same write path right after the instance, before the caller is
answered (read-your-own-writes), never older than one it replaces (guarded by the instance's
`version`). The instance carries `_listed: false` until its listing is written: `catch_up_listings`
writes what a crash (or data stored before this collection existed: `_listed` absent) left behind,
once at start (the service is not ready before) and then periodically.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure

from contracts.events.common import Actor, InstanceType
from instances.domain.company import Address, Company
from instances.domain.configuration import configuration_document, parse_configuration
from instances.domain.errors import Conflict
from instances.domain.listing import InstanceListing, LicenseCounts
from instances.domain.model import (
    CancellationRequest,
    Contract,
    Instance,
    InstanceStatus,
    License,
    LicenseStatus,
    Party,
    Stage,
    TerminalSession,
)
from instances.domain.pricing import Pricing
from instances.service_layer.ports import CompanyQuery, InstanceQuery, Pending
from servicekit.mongo import Document, DocumentLocks, IndexSpec, find_page, is_duplicate_key
from servicekit.outbox import OUTBOX_FIELD, new_document_with_outbox, with_outbox
from servicekit.pagination import Page

INSTANCES = "instances"
INSTANCE_LIST = "instance_list"
LISTED_FIELD = "_listed"
COMPANIES = "companies"
COUNTERS = "counters"
AGGREGATES = [INSTANCES, COMPANIES]

log = logging.getLogger(__name__)

_NO_OUTBOX = {OUTBOX_FIELD: 0}
"""The events and audit entries waiting for the relay are no part of the instance a use case reads."""

OnWrite = Callable[[str, str], None]
"""Told (collection, id) after a document was written with events: wakes the outbox relay."""


def _ignore(collection: str, document_id: str) -> None:
    return None


INDEXES = [
    IndexSpec(INSTANCE_LIST, [("partner_id", 1), ("stage", 1), ("created_at", -1)], name="partner_stage_created"),
    IndexSpec(INSTANCE_LIST, [("partner_id", 1), ("company_id", 1)], name="partner_company"),
    IndexSpec(INSTANCE_LIST, [("partner_id", 1), ("expiry_date", 1)], name="partner_expiry"),
    IndexSpec(INSTANCES, [(LISTED_FIELD, 1)], name="listed"),
    IndexSpec(COMPANIES, [("partner_id", 1), ("tax_id", 1)], unique=True, name="partner_tax_id"),
    IndexSpec(COMPANIES, [("partner_id", 1), ("name_sort", 1)], name="partner_name"),
]


def _text_filter(text: str | None, fields: list[str]) -> dict[str, Any]:
    if not text:
        return {}
    # The user's text is matched literally: escaped, so it can never be a regular expression.
    pattern = {"$regex": re.escape(text), "$options": "i"}
    return {"$or": [{name: pattern} for name in fields]}


class MongoInstanceRepository:
    def __init__(self, db: AsyncDatabase[Document], locks: DocumentLocks, on_write: OnWrite = _ignore) -> None:
        self._collection = db[INSTANCES]
        self._listings = db[INSTANCE_LIST]
        self._locks = locks
        self._on_write = on_write

    async def get(self, partner_id: str, instance_id: str) -> Instance | None:
        document = await self._collection.find_one({"_id": instance_id, "partner_id": partner_id}, _NO_OUTBOX)
        return instance_from_document(document) if document else None

    async def find_by_id(self, instance_id: str) -> Instance | None:
        document = await self._collection.find_one({"_id": instance_id}, _NO_OUTBOX)
        return instance_from_document(document) if document else None

    async def add(self, instance: Instance, pending: list[Pending]) -> None:
        document = {"_id": instance.id, **instance_state(instance), "version": instance.version, LISTED_FIELD: False}
        await self._collection.insert_one(new_document_with_outbox(document, pending))
        self._on_write(INSTANCES, instance.id)
        await self._list(instance)

    async def save(self, instance: Instance, pending: list[Pending]) -> bool:
        state = {**instance_state(instance), "version": instance.version + 1, LISTED_FIELD: False}
        update = with_outbox({"$set": state}, pending)
        async with self._locks.lock(INSTANCES, instance.id):
            result = await self._collection.update_one(
                {"_id": instance.id, "partner_id": instance.partner_id, "version": instance.version}, update
            )
        if result.matched_count != 1:
            return False
        instance.version += 1
        self._on_write(INSTANCES, instance.id)
        await self._list(instance)
        return True

    async def search(self, partner_id: str, query: InstanceQuery) -> Page[InstanceListing]:
        today = (query.today or date.today()).isoformat()
        match: dict[str, Any] = {"partner_id": partner_id, "stage": {"$in": [s.value for s in query.stages]}}
        conditions: list[dict[str, Any]] = [match]
        if query.type:
            match["type"] = query.type.value
        if query.company_id:
            match["company_id"] = query.company_id
        if query.status == InstanceStatus.EXPIRED:
            conditions.append({"status": InstanceStatus.ACTIVE.value, "expiry_date": {"$lt": today}})
        elif query.status == InstanceStatus.ACTIVE:
            conditions.append({"status": InstanceStatus.ACTIVE.value, "expiry_date": {"$gte": today}})
        elif query.status:
            match["status"] = query.status.value
        if query.expiring_within_days is not None:
            until = (date.fromisoformat(today) + timedelta(days=query.expiring_within_days)).isoformat()
            conditions.append({"status": InstanceStatus.ACTIVE.value, "expiry_date": {"$gte": today, "$lte": until}})
        text = _text_filter(query.text, ["name", "_id"])
        if text:
            conditions.append(text)
        combined = {"$and": conditions} if len(conditions) > 1 else match
        return await find_page(self._listings, combined, query.sort, query.limit, query.cursor, listing_from_document)

    async def catch_up_listings(self, *, including_unmarked: bool = False) -> int:
        """Write the listings a crash left unwritten (`_listed: false`, an equality the store pushes
        down); `including_unmarked` also those of instances stored before listings existed (no
        `_listed` at all: a scan, once at start). Idempotent; returns how many it wrote."""
        missing: dict[str, Any] = {LISTED_FIELD: {"$ne": True}} if including_unmarked else {LISTED_FIELD: False}
        written = 0
        async for document in self._collection.find(missing, _NO_OUTBOX):
            await self._list(instance_from_document(document), raise_errors=True)
            written += 1
        return written

    async def _list(self, instance: Instance, *, raise_errors: bool = False) -> None:
        """The instance's listing as of `instance.version`, unless a newer one is there; then the
        instance is marked listed (if nobody changed it meanwhile: that writer lists it itself)."""
        # Under the documents' locks, as every write here: FerretDB applies an update by rewriting the
        # whole document, so two at once on one document could undo each other (the relay's among them).
        try:
            try:
                async with self._locks.lock(INSTANCE_LIST, instance.id):
                    await self._listings.replace_one(
                        {"_id": instance.id, "version": {"$lt": instance.version}},
                        listing_document(InstanceListing.of(instance)),
                        upsert=True,
                    )
            except OperationFailure as exc:
                if not is_duplicate_key(exc):
                    raise
                # the listing of this version or a newer one is there already
            async with self._locks.lock(INSTANCES, instance.id):
                await self._collection.update_one(
                    {"_id": instance.id, "version": instance.version}, {"$set": {LISTED_FIELD: True}}
                )
        except Exception:
            if raise_errors:
                raise
            # The change itself is stored (and its events will go out): answering it as failed would
            # invite a retry of a write that happened. The catch-up writes the listing later.
            log.exception("listing of instance %s not written; the catch-up will write it", instance.id)


class ListingCatchUp:
    """The periodic catch-up of the instances' listings; the first pass (at start) also converts
    the data stored before listings existed, and the service is ready only once it has run."""

    def __init__(self, instances: MongoInstanceRepository) -> None:
        self._instances = instances
        self._done_once = asyncio.Event()

    async def run(self) -> None:
        written = await self._instances.catch_up_listings(including_unmarked=not self._done_once.is_set())
        if written:
            log.info("listings written by the catch-up: %d", written)
        self._done_once.set()

    async def ready(self) -> Mapping[str, Any]:
        """Waits for the first pass (the readiness check's own deadline ends a long one: not ready yet)."""
        await self._done_once.wait()
        return {"caught_up": True}


class MongoCompanyRepository:
    def __init__(self, db: AsyncDatabase[Document], locks: DocumentLocks, on_write: OnWrite = _ignore) -> None:
        self._collection = db[COMPANIES]
        self._locks = locks
        self._on_write = on_write

    async def get(self, partner_id: str, company_id: str) -> Company | None:
        document = await self._collection.find_one({"_id": company_id, "partner_id": partner_id})
        return company_from_document(document) if document else None

    async def add(self, company: Company, pending: list[Pending]) -> None:
        document = {"_id": company.id, **company_state(company), "version": company.version}
        try:
            await self._collection.insert_one(new_document_with_outbox(document, pending))
        except DuplicateKeyError as exc:
            raise _tax_id_in_use(company.tax_id) from exc
        self._on_write(COMPANIES, company.id)

    async def save(self, company: Company, pending: list[Pending]) -> bool:
        update = with_outbox({"$set": {**company_state(company), "version": company.version + 1}}, pending)
        try:
            async with self._locks.lock(COMPANIES, company.id):
                result = await self._collection.update_one(
                    {"_id": company.id, "partner_id": company.partner_id, "version": company.version}, update
                )
        except DuplicateKeyError as exc:  # on FerretDB too: the service kit's client words it so
            raise _tax_id_in_use(company.tax_id) from exc
        if result.matched_count != 1:
            return False
        company.version += 1
        self._on_write(COMPANIES, company.id)
        return True

    async def search(self, partner_id: str, query: CompanyQuery) -> Page[Company]:
        match: dict[str, Any] = {"partner_id": partner_id}
        text = _text_filter(query.text, ["name", "tax_id", "contact_person"])
        combined = {"$and": [match, text]} if text else match
        return await find_page(self._collection, combined, query.sort, query.limit, query.cursor, company_from_document)


class MongoContractNumbers:
    """Consecutive contract numbers per year: C-2026-000001, … (one atomic counter per year)."""

    def __init__(self, db: AsyncDatabase[Document], locks: DocumentLocks) -> None:
        self._collection = db[COUNTERS]
        self._locks = locks

    async def next(self, year: int) -> str:
        async with self._locks.lock(COUNTERS, f"contract-{year}"):
            counter = await self._collection.find_one_and_update(
                {"_id": f"contract-{year}"}, {"$inc": {"seq": 1}}, upsert=True, return_document=ReturnDocument.AFTER
            )
        if counter is None:  # cannot happen with upsert and ReturnDocument.AFTER
            raise RuntimeError("contract counter not returned")
        return f"C-{year}-{int(counter['seq']):06d}"


def _tax_id_in_use(tax_id: str) -> Conflict:
    return Conflict("tax-id-in-use", f"Another company of this partner has tax id {tax_id}.", field="tax_id")


# ---------------------------------------------------------------------------- mapping


def _actor(document: dict[str, Any]) -> Actor:
    return Actor(user_id=document["user_id"], role=document["role"])


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def instance_state(instance: Instance) -> dict[str, Any]:
    contract = instance.contract
    return {
        "partner_id": instance.partner_id,
        "company_id": instance.company_id,
        "type": instance.type.value,
        "name": instance.name,
        "name_sort": instance.name.casefold(),
        "configuration": configuration_document(instance.configuration),
        "term_months": instance.term_months,
        "stage": instance.stage.value,
        "status": instance.status.value if instance.status else None,
        "created_at": instance.created_at,
        "created_by": instance.created_by.model_dump(),
        "updated_at": instance.updated_at,
        "contract": _contract_document(contract) if contract else None,
        "activation_date": instance.activation_date.isoformat() if instance.activation_date else None,
        "expiry_date": instance.expiry_date.isoformat() if instance.expiry_date else None,
        "generate_key": instance.generate_key,
        "session_epoch": instance.session_epoch,
        "terminal_sessions": [asdict(s) for s in instance.terminal_sessions],
        "cancellation": _cancellation_document(instance.cancellation),
        "licenses": [_license_document(lic) for lic in instance.licenses],
        "ingest_key_hash": instance.ingest_key_hash,
    }


def instance_from_document(document: Document) -> Instance:
    instance_type = InstanceType(document["type"])
    return Instance(
        id=document["_id"],
        partner_id=document["partner_id"],
        company_id=document["company_id"],
        type=instance_type,
        name=document["name"],
        configuration=parse_configuration(instance_type, document["configuration"]),
        term_months=document["term_months"],
        stage=Stage(document["stage"]),
        created_at=document["created_at"],
        created_by=_actor(document["created_by"]),
        updated_at=document["updated_at"],
        version=document["version"],
        status=InstanceStatus(document["status"]) if document.get("status") else None,
        contract=_contract_from(document["contract"]) if document.get("contract") else None,
        activation_date=_date(document.get("activation_date")),
        expiry_date=_date(document.get("expiry_date")),
        generate_key=document.get("generate_key"),
        session_epoch=document.get("session_epoch", 0),
        terminal_sessions=[TerminalSession(**s) for s in document.get("terminal_sessions", [])],
        cancellation=_cancellation_from(document.get("cancellation")),
        licenses=[_license_from(d) for d in document.get("licenses", [])],
        ingest_key_hash=document.get("ingest_key_hash"),
    )


def listing_document(listing: InstanceListing) -> Document:
    return {
        "_id": listing.id,
        "partner_id": listing.partner_id,
        "company_id": listing.company_id,
        "type": listing.type.value,
        "name": listing.name,
        "name_sort": listing.name.casefold(),
        "configuration": configuration_document(listing.configuration),
        "term_months": listing.term_months,
        "stage": listing.stage.value,
        "status": listing.status.value if listing.status else None,
        "contract_number": listing.contract_number,
        "activation_date": listing.activation_date.isoformat() if listing.activation_date else None,
        "expiry_date": listing.expiry_date.isoformat() if listing.expiry_date else None,
        "session_epoch": listing.session_epoch,
        "cancellation": _cancellation_document(listing.cancellation),
        "licenses": asdict(listing.licenses),
        "has_ingest_key": listing.has_ingest_key,
        "created_at": listing.created_at,
        "updated_at": listing.updated_at,
        "version": listing.version,
    }


def listing_from_document(document: Document) -> InstanceListing:
    instance_type = InstanceType(document["type"])
    return InstanceListing(
        id=document["_id"],
        partner_id=document["partner_id"],
        company_id=document["company_id"],
        type=instance_type,
        name=document["name"],
        configuration=parse_configuration(instance_type, document["configuration"]),
        term_months=document["term_months"],
        stage=Stage(document["stage"]),
        status=InstanceStatus(document["status"]) if document.get("status") else None,
        contract_number=document.get("contract_number"),
        activation_date=_date(document.get("activation_date")),
        expiry_date=_date(document.get("expiry_date")),
        session_epoch=document.get("session_epoch", 0),
        cancellation=_cancellation_from(document.get("cancellation")),
        licenses=LicenseCounts(**document["licenses"]),
        has_ingest_key=bool(document.get("has_ingest_key")),
        created_at=document["created_at"],
        updated_at=document["updated_at"],
        version=document["version"],
    )


def _cancellation_document(cancellation: CancellationRequest | None) -> dict[str, Any] | None:
    if cancellation is None:
        return None
    return {
        "reason": cancellation.reason,
        "requested_by": cancellation.requested_by.model_dump(),
        "requested_at": cancellation.requested_at,
    }


def _cancellation_from(document: dict[str, Any] | None) -> CancellationRequest | None:
    if not document:
        return None
    return CancellationRequest(
        reason=document["reason"], requested_by=_actor(document["requested_by"]), requested_at=document["requested_at"]
    )


def _license_document(lic: License) -> dict[str, Any]:
    return {**asdict(lic), "status": lic.status.value, "created_by": lic.created_by.model_dump()}


def _license_from(document: dict[str, Any]) -> License:
    return License(
        **{**document, "status": LicenseStatus(document["status"]), "created_by": _actor(document["created_by"])}
    )


def _contract_document(contract: Contract) -> dict[str, Any]:
    pricing = {k: str(v) if isinstance(v, Decimal) else v for k, v in asdict(contract.pricing).items()}
    return {
        **asdict(contract),
        "product_type": contract.product_type.value,
        "pricing": pricing,
    }


def _contract_from(document: dict[str, Any]) -> Contract:
    pricing = document["pricing"]
    return Contract(
        number=document["number"],
        issued_at=document["issued_at"],
        vendor=Party(**document["vendor"]),
        customer=Party(**document["customer"]),
        partner_id=document["partner_id"],
        product_type=InstanceType(document["product_type"]),
        product_name=document["product_name"],
        profile=document.get("profile"),
        term_months=document["term_months"],
        pricing=Pricing(
            currency=pricing["currency"],
            unit_price=Decimal(pricing["unit_price"]),
            seats=int(pricing["seats"]),
            monthly_total=Decimal(pricing["monthly_total"]),
            term_months=int(pricing["term_months"]),
            term_total=Decimal(pricing["term_total"]),
        ),
        # A contract issued before the terms came in two languages holds its one (English) text.
        terms=dict(terms) if isinstance(terms := document["terms"], dict) else {"en": str(terms)},
    )


def company_state(company: Company) -> dict[str, Any]:
    return {
        "partner_id": company.partner_id,
        "name": company.name,
        "name_sort": company.name.casefold(),
        "tax_id": company.tax_id,
        "address": asdict(company.address),
        "contact_person": company.contact_person,
        "email": company.email,
        "phone": company.phone,
        "created_at": company.created_at,
        "created_by": company.created_by.model_dump(),
        "updated_at": company.updated_at,
    }


def company_from_document(document: Document) -> Company:
    return Company(
        id=document["_id"],
        partner_id=document["partner_id"],
        name=document["name"],
        tax_id=document["tax_id"],
        address=Address(**document["address"]),
        contact_person=document["contact_person"],
        email=document["email"],
        phone=document["phone"],
        created_at=document["created_at"],
        created_by=_actor(document["created_by"]),
        updated_at=document["updated_at"],
        version=document["version"],
    )
