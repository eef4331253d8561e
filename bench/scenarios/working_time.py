"""6: the working-time record of one worker's month (issue #20) out of a store holding `--wt-events`
records (1 M by default), through the activity service's HTTP API, against the raw store floor of
the same reads (the worker look-up and the worker-month documents by `_id`, sent with PyMongo), and
beside it what reading the month from the raw records would cost (each day-and-shard collection
of the month filtered by partner and PIN).

The store is loaded directly (not through Kafka) with the service's own store code: the records
and, as the consumer keeps it, each worker's clock events per UTC month. Each worker's working day:
clock-in, a break, clock-out, and GPS fixes and tasks for the rest of the day's events."""

from __future__ import annotations

import argparse
import random
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx2
from pymongo import AsyncMongoClient

from activity.adapters.field_store import MongoFieldStore, events_collection, worker_key, wt_shard
from activity.adapters.mongo_repository import MongoActivityStore, MongoTerminalStore, collection_name
from activity.domain.model import ActivityRecord, shard_of
from harness import BenchInfra, Latencies, Platform, percentile, processes, say
from scenarios.common import DEVICE, PARTNER, activity, topics
from servicekit.concurrency import together
from servicekit.mongo import DocumentLocks

INSTANCE = "ins-bench-wt"
OTHER_ACTIONS = ["gps_fix", "task_started", "task_completed", "sync", "gps_fix"]


def _month(today: date) -> tuple[str, list[date]]:
    """The last whole month before today and its days."""
    first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    days, day = [], first
    while day.month == first.month:
        days.append(day)
        day += timedelta(days=1)
    return first.strftime("%Y-%m"), days


def _workday(serial: str, pin: str, day: date, per_day: int, rng: random.Random) -> list[ActivityRecord]:
    start = datetime(day.year, day.month, day.day, 7, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 60))
    length = timedelta(hours=8, minutes=rng.randint(0, 60))
    pause = start + timedelta(hours=4)
    times = [
        ("clock_in", start),
        ("break_start", pause),
        ("break_end", pause + timedelta(minutes=30)),
        ("clock_out", start + length),
    ]
    for _ in range(max(per_day - 4, 0)):
        times.append((rng.choice(OTHER_ACTIONS), start + timedelta(seconds=rng.uniform(0, length.total_seconds()))))
    return [
        ActivityRecord(
            event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            serial=serial, instance_id=INSTANCE, partner_id=PARTNER, action=action,
            occurred_at=at, received_at=at + timedelta(seconds=rng.uniform(1, 30)), pin=pin,
            battery_pct=rng.randint(5, 100), device=DEVICE, location={"lat": 40.4, "lon": -3.7, "accuracy_m": 9.0},
        )
        for action, at in times
    ]  # fmt: skip


async def load(infra: BenchInfra, database: str, args: argparse.Namespace, days: list[date]) -> dict[str, Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    db = client[database]
    records = MongoActivityStore(db, MongoTerminalStore(db, DocumentLocks()))
    field = MongoFieldStore(db)
    rng = random.Random(20)  # noqa: S311  (simulated data)
    per_day = max(args.wt_events // (args.wt_workers * len(days)), 4)
    loaded, clock, began = 0, 0, time.perf_counter()
    chunk: list[ActivityRecord] = []
    try:
        for day in days:
            for n in range(args.wt_workers):
                chunk += _workday(f"WT{n:05d}", f"{3000 + n}", day, per_day, rng)
                if len(chunk) >= 5000:
                    await records.add_records(chunk)
                    clock += await field.add_clock_events(chunk)
                    loaded += len(chunk)
                    chunk = []
                if loaded and loaded % 100_000 < per_day and not chunk:
                    say(f"working-time: {loaded} records loaded, {time.perf_counter() - began:.0f} s")
        if chunk:
            await records.add_records(chunk)
            clock += await field.add_clock_events(chunk)
            loaded += len(chunk)
    finally:
        await client.close()
    seconds = time.perf_counter() - began
    return {"records": loaded, "clock_events": clock, "seconds": round(seconds, 1), "per_s": round(loaded / seconds)}


async def working_time(infra: BenchInfra, args: argparse.Namespace, memory: dict[str, float]) -> dict[str, Any]:
    platform = Platform(infra, f"bench-{uuid.uuid4().hex[:6]}.")
    await topics(platform)
    database = "bench_activity_working_time"
    month, days = _month(datetime.now(UTC).date())
    say(f"working-time: loading {args.wt_events} records of {args.wt_workers} workers over {month}")
    figures: dict[str, Any] = {
        "month": month,
        "workers": args.wt_workers,
        "load": await load(infra, database, args, days),
    }
    with processes() as started:
        service = activity(platform, "working-time", database, "bench-activity-wt")
        started.append(service)
        service.start()
        await service.wait_ready()
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
        try:
            async with httpx2.AsyncClient(base_url=service.url, timeout=60) as http:
                figures |= await _sample(http, client[database], platform.token(PARTNER), args, month, days)
        finally:
            await client.close()
        service.sample_memory()
    memory["activity"] = max(memory.get("activity", 0), service.peak_rss_mb)
    return figures


async def _sample(
    http: httpx2.AsyncClient, db: Any, token: str, args: argparse.Namespace, month: str, days: list[date]
) -> dict[str, Any]:
    rng = random.Random(21)  # noqa: S311
    api, raw, scan = Latencies(), Latencies(), Latencies()
    totals: list[int] = []
    say(f"working-time: {args.wt_samples} months of one worker")
    for _ in range(args.wt_samples):
        pin = f"{3000 + rng.randrange(args.wt_workers)}"
        params = {"instance_id": INSTANCE, "pin": pin, "month": month}
        began = time.perf_counter()
        answer = await http.get(
            "/v1/activity/working-time", params=params, headers={"Authorization": f"Bearer {token}"}
        )
        api.samples.append((time.perf_counter() - began) * 1000)
        if answer.status_code != 200:
            api.errors += 1
            api.first_error = api.first_error or answer.text[:200]
            continue
        totals.append(answer.json()["total_worked_s"])
        # The raw floor: the same documents by _id, at once (the worker, the UTC months around, the corrections).
        key = worker_key(PARTNER, INSTANCE, pin)
        began = time.perf_counter()
        months = (days[0] - timedelta(days=2), days[0], days[-1] + timedelta(days=2))
        await together(
            db[f"wt_workers_{wt_shard(INSTANCE, pin):02d}"].find_one({"_id": key}),
            *(db[events_collection(m.strftime("%Y%m"), INSTANCE, pin)].find_one({"_id": key}) for m in months),
            db[f"wt_corrections_{month.replace('-', '')}"].find_one({"_id": key}),
        )
        raw.samples.append((time.perf_counter() - began) * 1000)
    say(f"working-time: {args.wt_scan_samples} months read from the raw records instead")
    for _ in range(args.wt_scan_samples):
        n = rng.randrange(args.wt_workers)
        serial, pin = f"WT{n:05d}", f"{3000 + n}"
        began = time.perf_counter()
        for day in days:
            name = collection_name(day.strftime("%Y%m%d"), shard_of(serial))
            _ = [d async for d in db[name].find({"partner_id": PARTNER, "pin": pin}, {"_id": 1})]
        scan.samples.append((time.perf_counter() - began) * 1000)
    p99 = percentile(api.samples, 0.99)
    figures: dict[str, Any] = {
        "service": api.summary(sum(api.samples) / 1000),
        "raw_store_floor": raw.summary(sum(raw.samples) / 1000),
        "ratio_p99_to_raw": round(p99 / max(percentile(raw.samples, 0.99), 0.001), 2),
        "p99_target_ms": 100,
        "within_target": p99 <= 100,
        "mean_total_worked_h": round(sum(totals) / max(len(totals), 1) / 3600, 1),
    }
    if scan.samples:
        figures["raw_records_scan"] = scan.summary(sum(scan.samples) / 1000)
    return figures
