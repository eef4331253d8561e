"""Which storage layout can answer "a terminal's activity in a one-day window" fast on FerretDB?

A probe for issue #10's search goal (p99 <= 50 ms), run against the local FerretDB
(`make infra-up`). It measures one candidate layout beside the current one, on the same data:

- `events` (the activity service today): one document per event in per-day, per-shard
  collections; a search filters by serial and time, which FerretDB 1.x evaluates by decoding
  every document of the collections the window touches.
- `buckets`: one document per serial and day (`_id` = serial) in a per-day collection, the day's
  events in a map keyed by event id (so writing an event twice stores it once); a search reads
  one or two documents by `_id`.

For each: write rate (events/s: batched `insert_many` for `events`, one `$set` upsert per event
for `buckets`, `--concurrency` at a time) and search latency p50/p99 over `--searches` random
serials. Prints one JSON line.

    uv run python bench/search_layouts.py --terminals 500 --events-per-terminal 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import AsyncMongoClient

MONGO = os.environ.get("PARTNERAPP_MONGO_URL", "mongodb://127.0.0.1:27017/")
SHARDS = 16
ACTIONS = ["login", "clock_in", "gps_fix", "task_started", "task_completed", "clock_out"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def make_events(terminals: int, per_terminal: int, day: datetime) -> list[dict[str, Any]]:
    events = []
    for n in range(terminals * per_terminal):
        serial = f"SR{n % terminals:05d}"
        events.append(
            {
                "_id": str(uuid.uuid4()),
                "serial": serial,
                "pin": f"{n % terminals:04d}",
                "partner_id": "ptn-probe",
                "instance_id": "ins-probe",
                "action": ACTIONS[n % len(ACTIONS)],
                "occurred_at": day + timedelta(seconds=(86_000 * (n // terminals)) // per_terminal),
                "battery_pct": 80,
                "device": {"maker": "Zebra", "model": "TC58", "os": "Android", "os_version": "14"},
                "location": {"lat": 40.41, "lon": -3.70},
            }
        )
    return events


async def write_events(db: Any, events: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    by_shard: dict[int, list[dict[str, Any]]] = {}
    for event in events:
        by_shard.setdefault(hash(event["serial"]) % SHARDS, []).append(event)
    for shard, documents in by_shard.items():
        for start in range(0, len(documents), 500):
            await db[f"events_{shard:02d}"].insert_many(documents[start : start + 500], ordered=False)
    return len(events) / (time.perf_counter() - started)


async def write_buckets(db: Any, events: list[dict[str, Any]], concurrency: int) -> float:
    gate = asyncio.Semaphore(concurrency)
    locks: dict[str, asyncio.Lock] = {}

    async def one(event: dict[str, Any]) -> None:
        entry = {k: v for k, v in event.items() if k not in ("_id", "serial", "partner_id", "instance_id")}
        lock = locks.setdefault(event["serial"], asyncio.Lock())  # one writer per document (FerretDB)
        async with gate, lock:
            await db["buckets"].update_one(
                {"_id": event["serial"]},
                {"$set": {f"e.{event['_id']}": entry, "partner_id": event["partner_id"]}},
                upsert=True,
            )

    started = time.perf_counter()
    await asyncio.gather(*(one(event) for event in events))
    return len(events) / (time.perf_counter() - started)


async def search_events(db: Any, serial: str, start: datetime, end: datetime) -> int:
    collection = db[f"events_{hash(serial) % SHARDS:02d}"]
    query = {"serial": serial, "occurred_at": {"$gte": start, "$lt": end}}
    found = [d async for d in collection.find(query).sort("occurred_at", -1).limit(50)]
    return len(found)


async def search_buckets(db: Any, serial: str, start: datetime, end: datetime) -> int:
    document = await db["buckets"].find_one({"_id": serial})
    entries = [e for e in (document or {}).get("e", {}).values() if start <= e["occurred_at"] < end]
    entries.sort(key=lambda e: e["occurred_at"], reverse=True)
    return len(entries[:50])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--terminals", type=int, default=500)
    parser.add_argument("--events-per-terminal", type=int, default=200)
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO, tz_aware=True)
    name = f"probe_layouts_{uuid.uuid4().hex[:6]}"
    db = client[name]
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    events = make_events(args.terminals, args.events_per_terminal, day)
    rng = random.Random(7)  # noqa: S311 - sampling, not security
    figures: dict[str, Any] = {"events": len(events), "terminals": args.terminals, "cores": os.cpu_count()}
    try:
        figures["events_write_per_s"] = round(await write_events(db, events))
        figures["buckets_write_per_s"] = round(await write_buckets(db, events, args.concurrency))
        for layout, search in (("events", search_events), ("buckets", search_buckets)):
            latencies = []
            for _ in range(args.searches):
                serial = f"SR{rng.randrange(args.terminals):05d}"
                start = day + timedelta(hours=rng.uniform(0, 12))
                began = time.perf_counter()
                await search(db, serial, start, start + timedelta(days=1))
                latencies.append((time.perf_counter() - began) * 1000)
            figures[f"{layout}_search_p50_ms"] = round(percentile(latencies, 0.5), 1)
            figures[f"{layout}_search_p99_ms"] = round(percentile(latencies, 0.99), 1)
    finally:
        await client.drop_database(name)
        await client.close()
    sys.stdout.write(json.dumps(figures) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
