"""The demo generator makes every type, stage and status through the use cases, once."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from instances.bootstrap import build_use_cases
from instances.config import Settings
from instances.entrypoints.demo_data import DemoClock, generate
from instances.service_layer.ports import InstanceQuery
from servicekit.principal import Principal
from servicekit.settings import PlatformSettings

pytestmark = pytest.mark.integration


async def test_demo_data_covers_types_stages_and_statuses_and_is_idempotent(
    platform: PlatformSettings, database_name: str, mongo: AsyncMongoClient[dict[str, Any]]
) -> None:
    settings = Settings(mongo_database=database_name, platform=platform)
    clock = DemoClock()
    use_cases = build_use_cases(settings, mongo[database_name], clock=clock)

    summary = await generate(use_cases, clock, partners=2, companies=3, instances=3, licenses=4, seed=11)
    assert summary.partners == ["ptn-demo", "ptn-norte"]
    assert summary.companies == 6
    assert summary.instances == 18
    assert summary.provisionings == 6
    assert summary.licenses == 72
    assert summary.terminals, "terminals for the telemetry demo"

    documents = [d async for d in mongo[database_name]["instances"].find({})]
    assert Counter(d["stage"] for d in documents) == Counter(
        {"generated": 18, "draft": 2, "provisioned": 2, "cancelled": 2}
    )
    generated = [d for d in documents if d["stage"] == "generated"]
    assert {d["type"] for d in generated} == {"WDS", "MCRM", "S360", "WTA"}
    today = datetime.now(UTC).date().isoformat()
    statuses = {("expired" if d["status"] == "active" and d["expiry_date"] < today else d["status"]) for d in generated}
    assert {"active", "expired"} <= statuses
    assert all(d["_outbox_pending"] for d in generated), "events wait for the service's relay"
    assert await mongo[database_name]["audit"].count_documents({}) == 0, "audit entries ride the outbox too"

    principal = Principal("usr-x", "partner", "ptn-demo", frozenset({"ptn-demo"}))
    page = await use_cases.queries.search_instances(principal, InstanceQuery(limit=100))
    assert len(page.items) == 9

    again = await generate(use_cases, clock, partners=2, companies=3, instances=3, licenses=4, seed=11)
    assert again.skipped_partners == ["ptn-demo", "ptn-norte"]
    assert await mongo[database_name]["instances"].count_documents({}) == len(documents)
