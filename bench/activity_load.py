"""Activity load and search measurement against a running local platform (`make up`).

1. Ingest: the terminal simulator posts events as fast as the ingest endpoint takes them
   (events/s accepted, i.e. acknowledged by Kafka).
2. Drain: waits until the activity consumer group has no lag (events/s stored, end to end).
3. Search: random serial and PIN searches over one-day windows (p50/p99 latency).

    uv run python bench/activity_load.py --events 200000 --terminals 500 --backfill-days 10

Prints one JSON line with the figures. Needs an ingest key (`--key`, or `--token` to have one
issued for the first active WDS instance of the demo partner).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from activity.entrypoints import simulator
from servicekit.metrics import consumer_lag as measure_lag

TOPIC = "terminal.activity"


async def consumer_lag(bootstrap: str, group: str) -> int:
    return sum((await measure_lag(bootstrap, group, [TOPIC])).values())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def measure_search(
    url: str, token: str, serials: list[str], pins: list[str], days: float, samples: int
) -> dict[str, Any]:
    rng = random.Random(7)  # noqa: S311
    figures: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        for by, values in (("serial", serials), ("pin", pins)):
            latencies, hits = [], []
            for _ in range(samples):
                end = datetime.now(UTC) - timedelta(days=rng.uniform(0, max(days - 1, 0)))
                params = {by: rng.choice(values), "from": (end - timedelta(days=1)).isoformat(), "to": end.isoformat()}
                began = time.perf_counter()
                response = await client.get("/v1/activity/records", params=params)
                latencies.append((time.perf_counter() - began) * 1000)
                response.raise_for_status()
                hits.append(len(response.json()["items"]))
            figures[by] = {
                "samples": samples,
                "p50_ms": round(percentile(latencies, 0.5), 1),
                "p99_ms": round(percentile(latencies, 0.99), 1),
                "mean_items": round(statistics.mean(hits), 1),
            }
    return figures


async def main(args: argparse.Namespace) -> dict[str, Any]:
    sim_args = argparse.Namespace(
        url=args.url, key=args.key, config_url="", terminals=args.terminals, rate=0.0, duration=args.max_seconds,
        total=args.events, batch=500, concurrency=args.concurrency, backfill_days=args.backfill_days,
        serial_prefix=args.serial_prefix, seed=args.seed,
    )  # fmt: skip
    started = time.perf_counter()
    totals = await simulator.run(sim_args)
    ingest_seconds = time.perf_counter() - started
    while (lag := await consumer_lag(args.kafka, args.group)) > 0:  # noqa: ASYNC110  (polling another process)
        await asyncio.sleep(2)
    drained_seconds = time.perf_counter() - started
    serials = [f"{args.serial_prefix}{n:05d}" for n in range(args.terminals)]
    pins = sorted({f"{1000 + n % 9000}" for n in range(args.terminals)})
    search = await measure_search(args.url, args.token, serials, pins, args.backfill_days or 1, args.samples)
    return {
        "events_accepted": totals.accepted,
        "ingest_events_per_s": round(totals.accepted / ingest_seconds),
        "stored_end_to_end_events_per_s": round(totals.accepted / drained_seconds),
        "drain_lag_at_end": lag,
        "search": search,
        "terminals": args.terminals,
        "backfill_days": args.backfill_days,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8004")
    parser.add_argument("--kafka", default="127.0.0.1:9092")
    parser.add_argument("--group", default="activity")
    parser.add_argument("--key", required=True)
    parser.add_argument("--token", required=True, help="access token of the key's partner, for the searches")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--terminals", type=int, default=500)
    parser.add_argument("--backfill-days", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--max-seconds", type=float, default=3600)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--serial-prefix", default="BEN")
    parser.add_argument("--seed", type=int, default=3)
    print(json.dumps(asyncio.run(main(parser.parse_args()))))  # noqa: T201
