"""MongoDB store of the reports read model (valid on FerretDB 1.x and on MongoDB).

Every projection write is a read-modify-write of one document, guarded by its `version`
(compare-and-set; a lost race reads again) and, for FerretDB, by this process's per-document
lock (its updates of one document are not atomic). A change that leaves the document as it was
is not written. Dates are ISO strings (`YYYY-MM-DD`), which compare in date order.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from reports.adapters.seats_mongo import SEATS
from reports.domain.model import (
    ActivityBucket,
    CompanyView,
    CountKey,
    CountResult,
    InstanceStatus,
    InstanceView,
    LicenseStatus,
    LicenseView,
    Period,
    bucket_id,
    day_of_bucket,
    month_of,
)
from reports.domain.tallies import InstanceGroup, LicenseGroup, MonthCount, OperationCount
from reports.service_layer.ports import InstanceFilter, LicenseFilter
from servicekit.mongo import Document, DocumentLocks, IndexSpec, find_page
from servicekit.pagination import Page, Sort

T = TypeVar("T")

INSTANCES = "instances"
LICENSES = "licenses"
COMPANIES = "companies"
ACTIVITY = "activity_counts"
PROJECTIONS = (COMPANIES, INSTANCES, LICENSES, ACTIVITY, SEATS)

BOOKKEEPING = ("version", "projected_at")
"""Fields about the write, not the projected facts (a rebuild compares without them)."""

INDEXES = [
    IndexSpec(INSTANCES, [("partner_id", 1), ("activation_date", -1)], name="partner_activation"),
    IndexSpec(LICENSES, [("instance_id", 1)], name="instance"),
    IndexSpec(LICENSES, [("partner_id", 1), ("added_at", -1)], name="partner_added"),
    IndexSpec(ACTIVITY, [("day", 1)], name="day"),
]

BATCH = 500
WHOLE_ANSWER = 100_000
"""The batch size of the charts' aggregations and of look-ups by `_id`: their answer (counted
groups, the ids asked for) comes in the command's first reply, not in `getMore`s by the hundred
(the store's default first batch is 101 documents); a reply is at most 16 MB."""


def _ms(moment: datetime | None) -> datetime | None:
    """BSON keeps milliseconds: truncate first, so an unchanged document compares equal."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(microsecond=moment.microsecond // 1000 * 1000)


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


# ---------------------------------------------------------------------------------- documents


def company_document(company: CompanyView) -> Document:
    return {
        "partner_id": company.partner_id,
        "name": company.name,
        "name_stamp": company.name_stamp,
        "origin_stamp": company.origin_stamp,
    }


def company_of(document: Document) -> CompanyView:
    return CompanyView(
        document["_id"],
        document["partner_id"],
        document.get("name"),
        document.get("name_stamp"),
        document.get("origin_stamp"),
    )


def instance_document(instance: InstanceView) -> Document:
    return {
        "partner_id": instance.partner_id,
        "company_id": instance.company_id,
        "type": instance.type,
        "provisioned": instance.provisioned,
        "provisioning_id": instance.provisioning_id,
        "contract_number": instance.contract_number,
        "provisioned_at": _ms(instance.provisioned_at),
        "activation_date": _iso(instance.activation_date),
        "expiry_date": _iso(instance.expiry_date),
        "expiry_stamp": instance.expiry_stamp,
        "profile": instance.profile,
        "profile_stamp": instance.profile_stamp,
        "name": instance.name,
        "name_stamp": instance.name_stamp,
        "cancellation_requested": instance.cancellation_requested_at is not None,
        "cancellation_requested_at": _ms(instance.cancellation_requested_at),
        # The month counted by the monthly chart (FerretDB 1.x's aggregation has no date operators).
        "cancellation_month": month_of(at) if (at := instance.cancellation_requested_at) else None,
        "cancellation_reason": instance.cancellation_reason,
        "cancellation_stamp": instance.cancellation_stamp,
        "origin_stamp": instance.origin_stamp,
    }


def instance_of(document: Document) -> InstanceView:
    return InstanceView(
        id=document["_id"],
        partner_id=document["partner_id"],
        company_id=document["company_id"],
        type=document.get("type") or "",
        provisioned=bool(document.get("provisioned")),
        provisioning_id=document.get("provisioning_id"),
        contract_number=document.get("contract_number"),
        provisioned_at=document.get("provisioned_at"),
        activation_date=_day(document.get("activation_date")),
        expiry_date=_day(document.get("expiry_date")),
        expiry_stamp=document.get("expiry_stamp"),
        profile=document.get("profile"),
        profile_stamp=document.get("profile_stamp"),
        name=document.get("name"),
        name_stamp=document.get("name_stamp"),
        cancellation_requested_at=document.get("cancellation_requested_at"),
        cancellation_reason=document.get("cancellation_reason"),
        cancellation_stamp=document.get("cancellation_stamp"),
        origin_stamp=document.get("origin_stamp"),
    )


def license_document(license_: LicenseView) -> Document:
    return {
        "instance_id": license_.instance_id,
        "partner_id": license_.partner_id,
        "company_id": license_.company_id,
        "added": license_.added,
        "added_at": _ms(license_.added_at),
        "user_name": license_.user_name,
        "pin": license_.pin,
        "status": license_.status.value if license_.status else None,
        "status_stamp": license_.status_stamp,
        "serial": license_.serial,
        "serial_stamp": license_.serial_stamp,
        "released_at": _ms(license_.released_at),
        "revoked_at": _ms(license_.revoked_at),
        "revoke_reason": license_.revoke_reason,
        "instance_type": license_.instance_type,
        "instance_activation_date": _iso(license_.instance_activation_date),
        "origin_stamp": license_.origin_stamp,
    }


def license_of(document: Document) -> LicenseView:
    status = document.get("status")
    return LicenseView(
        id=document["_id"],
        instance_id=document["instance_id"],
        partner_id=document["partner_id"],
        company_id=document["company_id"],
        added=bool(document.get("added")),
        added_at=document.get("added_at"),
        user_name=document.get("user_name"),
        pin=document.get("pin"),
        status=LicenseStatus(status) if status else None,
        status_stamp=document.get("status_stamp"),
        serial=document.get("serial"),
        serial_stamp=document.get("serial_stamp"),
        released_at=document.get("released_at"),
        revoked_at=document.get("revoked_at"),
        revoke_reason=document.get("revoke_reason"),
        instance_type=document.get("instance_type"),
        instance_activation_date=_day(document.get("instance_activation_date")),
        origin_stamp=document.get("origin_stamp"),
    )


def bucket_document(bucket: ActivityBucket) -> Document:
    # Counts as a list: instance ids and actions may hold dots, which field names may not.
    return {
        "day": bucket.day.isoformat(),
        "partition": bucket.partition,
        "applied_offset": bucket.applied_offset,
        "recent_ids": list(bucket.recent_ids),
        "counts": [
            {"instance_id": k.instance_id, "partner_id": k.partner_id, "action": k.action, "count": n}
            for k, n in sorted(bucket.counts.items(), key=lambda item: (item[0].instance_id, item[0].action))
        ],
    }


def bucket_of(document: Document) -> ActivityBucket:
    return ActivityBucket(
        day=date.fromisoformat(document["day"]),
        partition=int(document["partition"]),
        applied_offset=int(document["applied_offset"]),
        recent_ids=list(document.get("recent_ids", [])),
        counts={
            CountKey(c["instance_id"], c["partner_id"], c["action"]): int(c["count"])
            for c in document.get("counts", [])
        },
    )


# ---------------------------------------------------------------------------------- filters


def instance_match(query: InstanceFilter) -> Document:
    conditions: list[Document] = [{"partner_id": {"$in": list(query.partner_ids)}}, {"provisioned": True}]
    if query.company_id:
        conditions.append({"company_id": query.company_id})
    if query.type:
        conditions.append({"type": query.type})
    today = query.today.isoformat()
    if query.status == InstanceStatus.CANCELLATION_REQUESTED:
        conditions.append({"cancellation_requested": True})
    elif query.status == InstanceStatus.ACTIVE:
        conditions += [{"cancellation_requested": False}, {"expiry_date": {"$gte": today}}]
    elif query.status == InstanceStatus.EXPIRED:
        conditions += [{"cancellation_requested": False}, {"expiry_date": {"$lt": today}}]
    if query.activated:
        conditions += [
            {"activation_date": {"$gte": query.activated.first.isoformat()}},
            {"activation_date": {"$lte": query.activated.last.isoformat()}},
        ]
    if query.active_during:
        conditions += [
            {"activation_date": {"$lte": query.active_during.last.isoformat()}},
            {"expiry_date": {"$gte": query.active_during.first.isoformat()}},
        ]
    return {"$and": conditions}


def license_match(query: LicenseFilter) -> Document:
    conditions: list[Document] = [{"partner_id": {"$in": list(query.partner_ids)}}, {"added": True}]
    if query.company_id:
        conditions.append({"company_id": query.company_id})
    if query.instance_id:
        conditions.append({"instance_id": query.instance_id})
    if query.instance_ids is not None:
        conditions.append({"instance_id": {"$in": list(query.instance_ids)}})
    if query.type:
        conditions.append({"instance_type": query.type})
    if query.status:
        conditions.append({"status": query.status.value})
    if query.activated:
        conditions += [
            {"instance_activation_date": {"$gte": query.activated.first.isoformat()}},
            {"instance_activation_date": {"$lte": query.activated.last.isoformat()}},
        ]
    return {"$and": conditions}


# ---------------------------------------------------------------------------------- the store


class MongoReportsStore:
    """Both ports: the projection's writes and the API's reads."""

    def __init__(self, db: AsyncDatabase[Document], locks: DocumentLocks) -> None:
        self._db = db
        self._locks = locks
        self._companies = db[COMPANIES]
        self._instances = db[INSTANCES]
        self._licenses = db[LICENSES]
        self._activity = db[ACTIVITY]

    # ------------------------------------------------------------------ writes

    async def _change(
        self,
        collection: AsyncCollection[Document],
        document_id: str,
        load: Callable[[Document], T],
        dump: Callable[[T], Document],
        change: Callable[[T | None], T],
    ) -> T:
        async with self._locks.lock(collection.name, document_id):
            while True:
                stored = await collection.find_one({"_id": document_id})
                new = change(load(stored) if stored else None)
                body = dump(new)
                if stored is None:
                    try:
                        await collection.insert_one(
                            {"_id": document_id, **body, "version": 1, "projected_at": datetime.now(UTC)}
                        )
                    except DuplicateKeyError:
                        continue  # another writer created it first: merge into theirs
                    return new
                if all(stored.get(key) == value for key, value in body.items()):
                    return new  # a duplicate or an older fact: nothing to write
                version = int(stored.get("version", 0))
                replaced = await collection.replace_one(
                    {"_id": document_id, "version": version},
                    {**body, "version": version + 1, "projected_at": datetime.now(UTC)},
                )
                if replaced.matched_count:
                    return new

    async def change_company(self, company_id: str, change: Callable[[CompanyView | None], CompanyView]) -> CompanyView:
        return await self._change(self._companies, company_id, company_of, company_document, change)

    async def change_instance(
        self, instance_id: str, change: Callable[[InstanceView | None], InstanceView]
    ) -> InstanceView:
        return await self._change(self._instances, instance_id, instance_of, instance_document, change)

    async def change_license(self, license_id: str, change: Callable[[LicenseView | None], LicenseView]) -> LicenseView:
        return await self._change(self._licenses, license_id, license_of, license_document, change)

    async def instance(self, instance_id: str) -> InstanceView | None:
        document = await self._instances.find_one({"_id": instance_id})
        return instance_of(document) if document else None

    async def fill_instance_on_licenses(self, instance: InstanceView) -> None:
        if not instance.provisioned:
            return
        # $inc version: a concurrent compare-and-set of one of these licenses then reads again.
        await self._licenses.update_many(
            {"instance_id": instance.id, "instance_type": None},
            {
                "$set": {"instance_type": instance.type, "instance_activation_date": _iso(instance.activation_date)},
                "$inc": {"version": 1},
            },
        )

    async def change_activity_bucket(
        self, day: date, partition: int, change: Callable[[ActivityBucket], CountResult]
    ) -> CountResult:
        document_id = bucket_id(day, partition)
        async with self._locks.lock(ACTIVITY, document_id):
            while True:
                stored = await self._activity.find_one({"_id": document_id})
                bucket = bucket_of(stored) if stored else ActivityBucket(day, partition)
                result = change(bucket)
                if result.counted == 0 and result.resent == 0 and stored is not None:
                    return result  # a pure redelivery: nothing moved
                body = bucket_document(bucket)
                if stored is None:
                    try:
                        await self._activity.insert_one({"_id": document_id, **body, "version": 1})
                    except DuplicateKeyError:
                        continue
                    return result
                version = int(stored.get("version", 0))
                replaced = await self._activity.replace_one(
                    {"_id": document_id, "version": version}, {**body, "version": version + 1}
                )
                if replaced.matched_count:
                    return result

    # ------------------------------------------------------------------ reads

    async def instances(self, query: InstanceFilter, sort: Sort) -> AsyncIterator[InstanceView]:
        cursor = self._instances.find(instance_match(query)).sort(sort.mongo_sort()).batch_size(BATCH)
        async for document in cursor:
            yield instance_of(document)

    async def instance_page(
        self, query: InstanceFilter, sort: Sort, limit: int, cursor: str | None
    ) -> Page[InstanceView]:
        return await find_page(self._instances, instance_match(query), sort, limit, cursor, instance_of)

    async def licenses(self, query: LicenseFilter, sort: Sort) -> AsyncIterator[LicenseView]:
        cursor = self._licenses.find(license_match(query)).sort(sort.mongo_sort()).batch_size(BATCH)
        async for document in cursor:
            yield license_of(document)

    async def license_page(self, query: LicenseFilter, sort: Sort, limit: int, cursor: str | None) -> Page[LicenseView]:
        return await find_page(self._licenses, license_match(query), sort, limit, cursor, license_of)

    async def get_instance(self, instance_id: str, partner_ids: tuple[str, ...]) -> InstanceView | None:
        document = await self._instances.find_one({"_id": instance_id})
        return instance_of(document) if document and document["partner_id"] in partner_ids else None

    async def get_license(self, license_id: str, partner_ids: tuple[str, ...]) -> LicenseView | None:
        document = await self._licenses.find_one({"_id": license_id})
        return license_of(document) if document and document["partner_id"] in partner_ids else None

    async def instances_by_id(self, instance_ids: set[str]) -> dict[str, InstanceView]:
        if not instance_ids:
            return {}
        found = self._instances.find({"_id": {"$in": sorted(instance_ids)}}).batch_size(WHOLE_ANSWER)
        return {d["_id"]: instance_of(d) async for d in found}

    async def company_names(self, company_ids: set[str]) -> dict[str, str | None]:
        if not company_ids:
            return {}
        found = self._companies.find({"_id": {"$in": sorted(company_ids)}}, {"name": 1}).batch_size(WHOLE_ANSWER)
        return {d["_id"]: d.get("name") async for d in found}

    # ------------------------------------------------------------------ the charts' counts
    # One aggregation each ($match, $unwind, $group with $sum: what FerretDB 1.24 implements; no
    # $facet, $cond or date operators), so the store sends back counted groups, not documents.

    async def _grouped(self, collection: AsyncCollection[Document], pipeline: Sequence[Document]) -> list[Document]:
        return [group async for group in await collection.aggregate(list(pipeline), batchSize=WHOLE_ANSWER)]

    async def instance_groups(self, query: InstanceFilter) -> list[InstanceGroup]:
        match = instance_match(query)
        keys = {"type": "$type", "profile": "$profile", "cancellation_requested": "$cancellation_requested"}
        every = await self._grouped(self._instances, [{"$match": match}, _count_by(keys)])
        # Expired: past the expiry date and no cancellation requested (the status of `InstanceView`).
        expired_match = {
            "$and": [
                *match["$and"],
                {"cancellation_requested": False},
                {"expiry_date": {"$lt": query.today.isoformat()}},
            ]
        }
        expired = {
            (g["_id"].get("type"), g["_id"].get("profile")): int(g["n"])
            for g in await self._grouped(
                self._instances, [{"$match": expired_match}, _count_by({"type": "$type", "profile": "$profile"})]
            )
        }
        groups: list[InstanceGroup] = []
        for group in every:
            kind, profile = group["_id"].get("type") or "", group["_id"].get("profile")
            count = int(group["n"])
            if group["_id"].get("cancellation_requested"):
                groups.append(InstanceGroup(kind, profile, InstanceStatus.CANCELLATION_REQUESTED, count))
                continue
            past = expired.get((group["_id"].get("type"), profile), 0)
            groups += [
                InstanceGroup(kind, profile, InstanceStatus.EXPIRED, past),
                InstanceGroup(kind, profile, InstanceStatus.ACTIVE, count - past),
            ]
        return [g for g in groups if g.count]

    async def license_groups(self, query: LicenseFilter) -> list[LicenseGroup]:
        keys = {"instance_type": "$instance_type", "status": "$status"}
        found = await self._grouped(self._licenses, [{"$match": license_match(query)}, _count_by(keys)])
        return [
            LicenseGroup(
                g["_id"].get("instance_type"),
                LicenseStatus(status) if (status := g["_id"].get("status")) else None,
                int(g["n"]),
            )
            for g in found
        ]

    async def month_counts(self, query: InstanceFilter, months: Period) -> list[MonthCount]:
        first = months.first.replace(day=1)
        after = _next_month(months.last)
        match = instance_match(query)["$and"]
        activated = {
            "$and": [
                *match,
                {"activation_date": {"$gte": first.isoformat()}},
                {"activation_date": {"$lt": after.isoformat()}},
            ]
        }
        counts = [
            MonthCount("activations", str(g["_id"]["day"])[:7], g["_id"].get("type") or "", int(g["n"]))
            for g in await self._grouped(
                self._instances, [{"$match": activated}, _count_by({"day": "$activation_date", "type": "$type"})]
            )
        ]
        requested = {
            "$and": [
                *match,
                {"cancellation_requested": True},
                {"cancellation_requested_at": {"$gte": _midnight(first)}},
                {"cancellation_requested_at": {"$lt": _midnight(after)}},
            ]
        }
        keys = {"month": "$cancellation_month", "type": "$type"}
        unmonthed = False
        for g in await self._grouped(self._instances, [{"$match": requested}, _count_by(keys)]):
            if g["_id"].get("month") is None:
                unmonthed = True  # projected before the month was kept: counted from the documents below
                continue
            counts.append(MonthCount("cancellations", g["_id"]["month"], g["_id"].get("type") or "", int(g["n"])))
        if unmonthed:
            older = {"$and": [*requested["$and"], {"cancellation_month": None}]}
            async for document in self._instances.find(older, {"type": 1, "cancellation_requested_at": 1}):
                moment = document["cancellation_requested_at"]
                counts.append(MonthCount("cancellations", month_of(moment), document.get("type") or "", 1))
        return counts

    async def licenses_held(
        self, partner_ids: tuple[str, ...], instance_ids: tuple[str, ...], period: Period
    ) -> dict[str, int]:
        if not instance_ids:
            return {}
        match = {
            "$and": [
                license_match(LicenseFilter(partner_ids=partner_ids, instance_ids=instance_ids)),
                # `LicenseView.active_during`: added by the period's end, not revoked before its start
                {"added_at": {"$lt": _midnight(period.last + timedelta(days=1))}},
                {"$or": [{"revoked_at": None}, {"revoked_at": {"$gte": _midnight(period.first)}}]},
            ]
        }
        found = await self._grouped(self._licenses, [{"$match": match}, _count_by({"instance_id": "$instance_id"})])
        return {g["_id"]["instance_id"]: int(g["n"]) for g in found}

    async def operation_counts(self, period: Period, partner_ids: tuple[str, ...]) -> list[OperationCount]:
        pipeline: list[Document] = [
            {"$match": {"day": {"$gte": period.first.isoformat(), "$lte": period.last.isoformat()}}},
            {"$unwind": "$counts"},
            {"$match": {"counts.partner_id": {"$in": list(partner_ids)}}},
            {
                "$group": {
                    "_id": {
                        # The bucket, not its `day`: FerretDB 1.24's $unwind keeps only `_id` and
                        # the unwound field. The id begins with the day (`bucket_id`).
                        "bucket": "$_id",
                        "instance_id": "$counts.instance_id",
                        "partner_id": "$counts.partner_id",
                        "action": "$counts.action",
                    },
                    "n": {"$sum": "$counts.count"},
                }
            },
        ]
        return [
            OperationCount(
                day_of_bucket(g["_id"]["bucket"]),
                g["_id"]["instance_id"],
                g["_id"]["partner_id"],
                g["_id"]["action"],
                int(g["n"]),
            )
            for g in await self._grouped(self._activity, pipeline)
        ]

    async def activity_buckets(self, period: Period) -> AsyncIterator[ActivityBucket]:
        match: Mapping[str, Any] = {"day": {"$gte": period.first.isoformat(), "$lte": period.last.isoformat()}}
        async for document in self._activity.find(match).batch_size(BATCH):
            yield bucket_of(document)


def _count_by(keys: Mapping[str, str]) -> Document:
    return {"$group": {"_id": dict(keys), "n": {"$sum": 1}}}


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _next_month(day: date) -> date:
    if (day.year, day.month) == (date.max.year, 12):  # no later month exists: its last day bounds it
        return date.max
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)
