"""Search latency over a large stored volume, loaded straight into the store (not via Kafka).

    uv run python bench/activity_search.py --events 1000000 --terminals 500 --days 10

Loads `--events` telemetry records of `--terminals` serials spread over `--days` into a scratch
database through the activity service's own store, then times searches by serial and by PIN
over one-day windows (the service's query path, in process). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from activity.adapters.mongo_repository import MongoActivityStore, MongoTerminalStore
from activity.domain.model import ActivityRecord, Window
from activity.service_layer.ports import RecordQuery
from servicekit.mongo import DocumentLocks, create_mongo_client
from servicekit.settings import PlatformSettings

PARTNER = "ptn-bench"
DEVICE = {"maker": "Zebra", "model": "TC21", "os": "Android", "os_version": "11", "app_version": None}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def main(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)  # noqa: S311
    platform = PlatformSettings(mongo_url=args.mongo)
    client = create_mongo_client(platform, app_name="bench-activity-search")
    db_name = f"bench_activity_{uuid.uuid4().hex[:6]}"
    db = client[db_name]
    terminals = MongoTerminalStore(db, DocumentLocks())
    store = MongoActivityStore(db, terminals)
    now = datetime.now(UTC)
    serials = [f"BS{n:05d}" for n in range(args.terminals)]
    pins = {serial: f"{2000 + n}" for n, serial in enumerate(serials)}
    loaded, started = 0, time.perf_counter()
    try:
        while loaded < args.events:
            chunk = []
            for _ in range(min(args.chunk, args.events - loaded)):
                serial = rng.choice(serials)
                at = now - timedelta(seconds=rng.uniform(0, args.days * 86400))
                chunk.append(
                    ActivityRecord(
                        event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                        serial=serial, instance_id="ins-bench", partner_id=PARTNER,
                        action=rng.choice(["gps_fix", "clock_in", "task_started", "task_completed", "sync"]),
                        occurred_at=at, received_at=at, pin=pins[serial], battery_pct=rng.randint(5, 100),
                        device=DEVICE,
                        location={"lat": 40.4, "lon": -3.7, "accuracy_m": 9.0},
                    )
                )  # fmt: skip
            await store.add_records(chunk)
            await terminals.advance(chunk)
            loaded += len(chunk)
        load_seconds = time.perf_counter() - started
        figures: dict[str, Any] = {
            "events": loaded,
            "terminals": args.terminals,
            "days": args.days,
            "load_events_per_s": round(loaded / load_seconds),
            "records_per_day_and_shard": round(loaded / args.days / 16),
        }
        for by in ("serial", "pin"):
            latencies, found = [], []
            for _ in range(args.samples):
                serial = rng.choice(serials)
                end = now - timedelta(days=rng.uniform(0, max(args.days - 1, 0)))
                window = Window(end - timedelta(days=1), end)
                query = RecordQuery(
                    partner_id=PARTNER,
                    window=window,
                    serial=serial if by == "serial" else None,
                    pin=pins[serial] if by == "pin" else None,
                    limit=50,
                )
                began = time.perf_counter()
                page = await store.search(query)
                latencies.append((time.perf_counter() - began) * 1000)
                found.append(len(page.items))
            figures[by] = {
                "samples": args.samples,
                "p50_ms": round(percentile(latencies, 0.5), 1),
                "p99_ms": round(percentile(latencies, 0.99), 1),
                "mean_items": round(sum(found) / len(found), 1),
            }
        return figures
    finally:
        if not args.keep:
            await client.drop_database(db_name)
        await client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mongo", default="mongodb://127.0.0.1:27017/")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--terminals", type=int, default=500)
    parser.add_argument("--days", type=float, default=10)
    parser.add_argument("--chunk", type=int, default=5000)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--seed", type=int, default=5)
    print(json.dumps(asyncio.run(main(parser.parse_args()))))  # noqa: T201
