"""Store queries per request of the reports' reads, counted with PyMongo's command monitoring: the
same number for a page of 5 and of 50, with 10, 100 and 1 300 instances (two licenses and telemetry
each) in the read model. The charts count in the store (one aggregation per figure), so no read
grows with what the store holds: past the store's default first batch (101 documents) and past
`reports.adapters.mongo.BATCH` (500) alike."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI
from pymongo import AsyncMongoClient

from contracts import envelope_for
from contracts.events.activity import TerminalActivity
from contracts.events.common import Actor, InstanceType
from contracts.events.companies import CompanyCreated
from contracts.events.instances import InstanceProvisioned
from contracts.events.licenses import LicenseAdded
from reports.adapters.mongo import ACTIVITY, INSTANCES, LICENSES, MongoReportsStore
from reports.bootstrap import build_app
from reports.config import Settings
from reports.domain.model import bucket_id, month_of
from reports.service_layer.event_handlers import ReportsEventHandlers
from reports.service_layer.queries import ReportsQueries
from servicekit.api import provided_on
from servicekit.handlers import Delivered
from servicekit.settings import PlatformSettings
from servicekit.testing import count_commands, started, watch_commands

pytestmark = pytest.mark.integration

PARTNER = f"ptn-count-{uuid.uuid4().hex[:8]}"  # other tests of the session share the topics
WHO = Actor(user_id="usr-ana", role="partner")
TODAY = datetime.now(UTC).date()
DAY = TODAY - timedelta(days=1)


@pytest.fixture
async def app(platform: PlatformSettings, database_name: str) -> AsyncIterator[FastAPI]:
    watch_commands()  # before the app's client is created, so that it reports its commands
    settings = Settings(
        mongo_database=database_name, consumer_group=f"reports-{uuid.uuid4().hex[:8]}", platform=platform
    )
    application = build_app(settings)
    async with started(application):
        yield application


async def add_instances(app: FastAPI, first: int, count: int) -> None:
    """Instances of a company each, with two licenses and a day of telemetry, as their events say."""
    store = provided_on(app, ReportsQueries).store
    assert isinstance(store, MongoReportsStore)  # the live service's store projects as well as it reads
    handlers = ReportsEventHandlers(store)
    telemetry = []
    for n in range(first, first + count):
        ids = {"partner_id": PARTNER, "company_id": f"cmp-{n:04d}"}
        instance_id = f"ins-{n:04d}"
        await handlers.company_named(
            envelope_for(CompanyCreated(name=f"Company {n:04d}", tax_id=f"B{n:08d}", created_by=WHO, **ids), source="t")
        )
        provisioned = InstanceProvisioned(
            instance_id=instance_id, provisioning_id=instance_id, contract_number=f"C-{n:04d}",
            type=InstanceType.WDS, profile="enterprise", activation_date=TODAY - timedelta(days=30 + n),
            expiry_date=TODAY + timedelta(days=300), provisioned_by=WHO, **ids,
        )  # fmt: skip
        await handlers.instance_provisioned(envelope_for(provisioned, source="t"))
        for pin in (f"1{n:04d}", f"2{n:04d}"):
            added = LicenseAdded(
                license_id=f"lic-{pin}", instance_id=instance_id, user_name=f"User {pin}", email="u@example.com",
                pin=pin, serial=f"SER-{pin}", added_by=WHO, **ids,
            )  # fmt: skip
            await handlers.license_added(envelope_for(added, source="t"))
        moment = datetime(DAY.year, DAY.month, DAY.day, 10, tzinfo=UTC)
        activity = TerminalActivity(
            serial=f"SER-1{n:04d}", instance_id=instance_id, partner_id=PARTNER, action="login",
            occurred_at=moment, received_at=moment,
        )  # fmt: skip
        # A partition the topic does not have: the other tests' telemetry, which the live consumer
        # counts meanwhile, never moves its applied offset.
        telemetry.append(Delivered(envelope_for(activity, source="activity"), partition=10_000, offset=n))
    await handlers.count_telemetry(telemetry)


async def add_copies(mongo: AsyncMongoClient[dict[str, Any]], database_name: str, count: int) -> dict[str, int]:
    """`count` more instances straight into the read model (copies of a projected one, two licenses
    and a day's telemetry each; a third past their expiry, a fifth with a cancellation requested),
    far faster than through the events. Answers the copies' statuses."""
    db = mongo[database_name]
    instance = await db[INSTANCES].find_one({"_id": "ins-0000"})
    license_ = await db[LICENSES].find_one({"_id": "lic-10000"})
    assert instance is not None and license_ is not None
    requested = datetime.now(UTC) - timedelta(days=1)
    instances, licenses, counts, statuses = [], [], [], {"active": 0, "expired": 0, "cancellation_requested": 0}
    for n in range(count):
        instance_id = f"ins-copy-{n:05d}"
        expired, cancelled = n % 3 == 0, n % 5 == 0
        instances.append(
            instance
            | {
                "_id": instance_id,
                "expiry_date": (TODAY - timedelta(days=2) if expired else TODAY + timedelta(days=90)).isoformat(),
                "cancellation_requested": cancelled,
                "cancellation_requested_at": requested if cancelled else None,
                "cancellation_month": month_of(requested) if cancelled else None,
            }
        )
        statuses["cancellation_requested" if cancelled else "expired" if expired else "active"] += 1
        licenses += [
            license_ | {"_id": f"lic-copy-{n:05d}-{k}", "instance_id": instance_id, "pin": f"9{n:05d}{k}"}
            for k in (1, 2)
        ]
        counts.append({"instance_id": instance_id, "partner_id": PARTNER, "action": "login", "count": 1})
    await db[INSTANCES].insert_many(instances)
    await db[LICENSES].insert_many(licenses)
    bucket = {"day": DAY.isoformat(), "partition": 10_001, "applied_offset": count, "recent_ids": [], "counts": counts}
    await db[ACTIVITY].insert_one({"_id": bucket_id(DAY, 10_001), **bucket, "version": 1})
    return statuses


# Each route with what it reads: (path, parameters, store commands per request).
ROUTES: list[tuple[str, dict[str, Any], int]] = [
    ("/v1/reports/summary", {}, 3),  # instances by type/profile/cancellation, the expired ones, licenses
    ("/v1/reports/monthly", {}, 2),  # activations, cancellation requests
    ("/v1/reports/operations", {"from": DAY.isoformat(), "to": DAY.isoformat()}, 3),  # counts, instances, names
    ("/v1/reports/instances", {"paged": True}, 2),  # the page, its companies' names
    ("/v1/reports/instances/ins-0007", {}, 3),  # the instance, its company's name, its licenses by status
    ("/v1/reports/licenses", {"paged": True}, 2),  # the page, its companies' names
    ("/v1/reports/licenses/lic-10007", {}, 2),  # the license, its company's name
    # the page, its companies' names, the licenses held per instance of the page
    ("/v1/reports/active-services", {"paged": True, "from": DAY.isoformat(), "to": TODAY.isoformat()}, 3),
    ("/v1/reports/operations/rows", {"paged": True, "from": DAY.isoformat(), "to": DAY.isoformat()}, 3),
]


async def test_every_report_costs_the_same_store_queries_whatever_the_page_and_the_read_model_hold(
    app: FastAPI, token_for: Callable[..., str], database_name: str, mongo: AsyncMongoClient[dict[str, Any]]
) -> None:
    headers = {"Authorization": f"Bearer {token_for(PARTNER, user_id='usr-count')}"}
    per_route: dict[str, set[int]] = {path: set() for path, _, _ in ROUTES}
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://reports", headers=headers
    ) as client:
        await add_instances(app, 0, 10)
        copies: dict[str, int] = {}
        for stored in (10, 100, 1300):
            if stored == 100:
                await add_instances(app, 10, 90)
            if stored == 1300:
                copies = await add_copies(mongo, database_name, 1200)
            for path, params, _ in ROUTES:
                query = {k: v for k, v in params.items() if k != "paged"}
                for limit in (5, 50) if params.get("paged") else (None,):
                    with count_commands(database_name) as counter:
                        response = await client.get(path, params=query | ({"limit": limit} if limit else {}))
                    assert response.status_code == 200, (path, response.text)
                    body = response.json()
                    if limit is not None:
                        assert len(body["items"]) == min(limit, stored * (2 if "licenses" in path else 1)), path
                    per_route[path].add(counter.total)
            summary = (await client.get("/v1/reports/summary")).json()
            assert (summary["instances"]["total"], summary["licenses"]["total"]) == (stored, 2 * stored)
        # The counts are the documents' (the 100 projected ones are active).
        assert summary["instances"]["by_status"] == copies | {"active": copies["active"] + 100}
        monthly = (await client.get("/v1/reports/monthly")).json()
        assert sum(m["cancellations"] for m in monthly["months"]) == copies["cancellation_requested"]
        operations = (
            await client.get("/v1/reports/operations", params={"from": DAY.isoformat(), "to": DAY.isoformat()})
        ).json()
        assert operations["total"] == 1300
    assert per_route == {path: {commands} for path, _, commands in ROUTES}
