"""3: activity search by serial + one-day window and by PIN over a stored volume, through the
service's HTTP API against the same store query sent raw with PyMongo."""

from __future__ import annotations

import argparse
import json
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
from pymongo import AsyncMongoClient

from activity.adapters.mongo_repository import MongoActivityStore, MongoTerminalStore, collection_name
from activity.domain.model import ActivityRecord, shard_of
from harness import BenchInfra, Latencies, Platform, percentile, processes, say
from scenarios.common import DEVICE, PARTNER, activity, topics
from servicekit.mongo import DocumentLocks


async def search(infra: BenchInfra, args: argparse.Namespace, memory: dict[str, float]) -> dict[str, Any]:
    platform = Platform(infra, f"bench-{uuid.uuid4().hex[:6]}.")
    await topics(platform)
    database = "bench_activity_search"
    rng = random.Random(11)  # noqa: S311  (simulated data)
    serials = [f"BS{n:05d}" for n in range(args.search_terminals)]
    pins = {serial: f"{2000 + n}" for n, serial in enumerate(serials)}
    now = datetime.now(UTC).replace(microsecond=0)
    say(f"search: loading {args.search_events} records of {len(serials)} terminals over {args.search_days} days")
    loaded = await load_records(infra, database, args, serials, pins, now, rng)
    figures: dict[str, Any] = {
        "events": args.search_events,
        "terminals": len(serials),
        "days": args.search_days,
        "load": loaded,
    }
    token = platform.token(PARTNER)
    with processes() as started:
        service = activity(platform, "search", database, "bench-activity-search")
        started.append(service)
        service.start()
        await service.wait_ready()
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url)
        try:
            async with httpx2.AsyncClient(base_url=service.url, timeout=30) as http:
                for by in ("serial", "pin"):
                    say(f"search by {by}: {args.search_samples} one-day windows")
                    figures[by] = await search_by(http, client[database], by, args, serials, pins, now, token, rng)
        finally:
            await client.close()
        service.sample_memory()
    memory["activity"] = max(memory.get("activity", 0), service.peak_rss_mb)
    return figures


async def load_records(
    infra: BenchInfra,
    database: str,
    args: argparse.Namespace,
    serials: list[str],
    pins: dict[str, str],
    now: datetime,
    rng: random.Random,
) -> dict[str, Any]:
    """Straight into the store through the activity service's own store code (not via Kafka)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    db = client[database]
    terminals = MongoTerminalStore(db, DocumentLocks())
    store = MongoActivityStore(db, terminals)
    loaded, began = 0, time.perf_counter()
    try:
        while loaded < args.search_events:
            chunk = []
            for _ in range(min(5000, args.search_events - loaded)):
                serial = rng.choice(serials)
                at = now - timedelta(seconds=rng.uniform(0, args.search_days * 86400))
                chunk.append(
                    ActivityRecord(
                        event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                        serial=serial, instance_id="ins-bench", partner_id=PARTNER,
                        action=rng.choice(["gps_fix", "clock_in", "task_started", "task_completed", "sync"]),
                        occurred_at=at, received_at=at, pin=pins[serial], battery_pct=rng.randint(5, 100),
                        device=DEVICE, location={"lat": 40.4, "lon": -3.7, "accuracy_m": 9.0},
                    )
                )  # fmt: skip
            await store.add_records(chunk)
            await terminals.advance(chunk)
            loaded += len(chunk)
    finally:
        await client.close()
    seconds = time.perf_counter() - began
    return {"seconds": round(seconds, 1), "events_per_s": round(loaded / seconds)}


async def search_by(
    http: httpx2.AsyncClient,
    db: Any,
    by: str,
    args: argparse.Namespace,
    serials: list[str],
    pins: dict[str, str],
    now: datetime,
    token: str,
    rng: random.Random,
) -> dict[str, Any]:
    service, raw = Latencies(), Latencies()
    items: list[int] = []
    explained: dict[str, Any] = {}
    for _ in range(args.search_samples):
        serial = rng.choice(serials)
        end = now - timedelta(days=rng.uniform(0, max(args.search_days - 1, 0)))
        start = end - timedelta(days=1)
        query = {by: serial if by == "serial" else pins[serial], "from": start.isoformat(), "to": end.isoformat()}
        began = time.perf_counter()
        answer = await http.get("/v1/activity/records", params=query, headers={"Authorization": f"Bearer {token}"})
        service.samples.append((time.perf_counter() - began) * 1000)
        if answer.status_code != 200:
            service.errors += 1
            continue
        items.append(len(answer.json()["items"]))
        # The same store query, raw: the filter on each collection of the window, newest first.
        match = {"partner_id": PARTNER, "serial": serial, "occurred_at": {"$gte": start, "$lt": end}}
        names = [collection_name(day, shard_of(serial)) for day in _days(start, end)]
        began = time.perf_counter()
        for name in names:
            _ = [d async for d in db[name].find(match).sort("occurred_at", -1).limit(51)]
        raw.samples.append((time.perf_counter() - began) * 1000)
        if not explained:
            plan = await db.command({"explain": {"find": names[0], "filter": match, "sort": {"occurred_at": -1}}})
            explained = {
                "collections_read": names,
                "filter": dict.fromkeys(match, "…"),
                "ferretdb": {k: plan.get(k) for k in ("filterPushdown", "sortPushdown", "limitPushdown")},
                "backend_plan": _plan_text(plan.get("queryPlanner")),
            }
    return {
        "samples": args.search_samples,
        "service": service.summary(sum(service.samples) / 1000),
        "raw_store_query": raw.summary(sum(raw.samples) / 1000),
        "ratio_p99_to_raw": round(percentile(service.samples, 0.99) / percentile(raw.samples, 0.99), 2),
        "mean_items": round(sum(items) / max(len(items), 1), 1),
        "explain": explained,
    }


def _days(start: datetime, end: datetime) -> list[str]:
    days, day = [], end.date()
    while day >= start.date():
        days.append(day.strftime("%Y%m%d"))
        day -= timedelta(days=1)
    return days


def _plan_text(planner: Any) -> str:
    text = json.dumps(planner, default=str)
    return text if len(text) <= 600 else text[:600] + "…"
