"""`make bench`: the platform's benchmarks, each figure beside a raw baseline from the same run.

    uv run python bench/run.py [--ingest-seconds 60] [--kafka-events 100000] [--search-events 200000] ...

Starts its own Kafka and FerretDB (see bench/harness.py), runs, and writes
`bench/results/<UTC time>.json` and `.md` (plus `latest.json` / `latest.md`):

1. ingest throughput: terminals → activity's ingest endpoint → Kafka → consumer → store, against
   the raw pipe (aiokafka getmany → insert_many, no validation) over the same events and store;
   and with producers writing straight into Kafka (no HTTP), service against raw pipe again;
2. ingest-to-queryable latency at half the measured end-to-end throughput: a probe event's time
   from its POST until the search API returns it;
3. activity search by serial + one-day window and by PIN over a stored volume, through the
   service's HTTP API, against the same store query sent raw with PyMongo; with the collections
   read and FerretDB's explanation of the query (what it pushed down to the backend);
4. the gateway's composed instance view, its instance list and the support thread list under
   concurrent clients, against the same work done directly: the view's calls made by the client
   itself to the services, the lists asked of their services; beside them the floors (the
   gateway's `/healthz`, the lists' `find` sent raw with PyMongo), the store commands each route
   costs, the most clients that keep the list's p99 within 200 ms, and the mixed load (readers
   while terminals post telemetry); see bench/scenarios/gateway.py;
5. webhook deliveries (events on Kafka → the gateway's dispatcher → a fast local receiver) per
   second against the raw floor (the receiver POSTed directly), and the delivery delay after the
   event is on Kafka; see bench/scenarios/webhooks.py;
6. peak RSS (VmHWM) of every service process;
7. `--only support-search` (not in the default run): message search over a loaded volume
   (`--support-messages`) and the upload throughput of 10 MB files (bench/scenarios/support_search.py).

`--only` picks scenarios (`ingest`, `search`, `gateway`, `webhooks`, `working-time`: the working-time record of one
worker's month out of 1 M stored records, bench/scenarios/working_time.py) or parts of the gateway's (e.g.
`--only floors mixed`). Sizes are flags (`make bench BENCH_ARGS="--search-events 1000000"`); the
defaults finish in minutes. The committed reference with its analysis is bench/results/reference.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime
from typing import Any

from harness import CACHE, BenchInfra, say
from report import machine, write_results
from scenarios import gateway, ingest, search, support_search, webhooks, working_time


async def main(args: argparse.Namespace) -> dict[str, Any]:
    infra = BenchInfra(args.store)
    say(f"starting Kafka and FerretDB ({args.store}) of its own, under {CACHE.name}/ in the cache")
    infra.start()
    memory: dict[str, float] = {}
    report: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "arguments": " ".join(sys.argv[1:]) or "(defaults)",
        "machine": machine(args.store),
    }
    began = time.monotonic()
    try:
        phases = {
            "ingest_http": ("ingest", ingest.ingest_over_http),
            "ingest_kafka": ("ingest", ingest.ingest_from_kafka),
            "search": ("search", search.search),
            "gateway": ("gateway", gateway.gateway),
            "working_time": ("working-time", working_time.working_time),
            "support_search": ("support-search", support_search.support_search),
            "webhooks": ("webhooks", webhooks.webhooks),
        }
        for key, (group, phase) in phases.items():
            if group in args.groups:
                try:
                    report[key] = await phase(infra, args, memory)
                    for part, error in report[key].pop("failed", {}).items():
                        report.setdefault("failed", {})[f"{key}.{part}"] = error
                except Exception as exc:  # the other benchmarks still run; the report names it
                    say(f"{key} failed: {exc!r}")
                    report.setdefault("failed", {})[key] = repr(exc)
    finally:
        infra.stop()
    report["peak_rss_mb"] = {k: round(v, 1) for k, v in memory.items()}
    report["seconds"] = round(time.monotonic() - began, 1)
    return report


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", choices=["postgresql", "sqlite"], default="postgresql", help="FerretDB backend")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=["ingest", "search", "gateway", "webhooks", "working-time", "support-search", *gateway.PARTS],
        default=["ingest", "search", "gateway", "webhooks"],
        help="scenarios to run; `gateway` is all of its parts, each also selectable alone",
    )
    parser.add_argument("--ingest-seconds", type=float, default=60)
    parser.add_argument("--ingest-workers", type=int, default=8, help="concurrent terminals posting batches of 50")
    parser.add_argument("--latency-seconds", type=float, default=60)
    parser.add_argument("--kafka-events", type=int, default=100_000)
    parser.add_argument("--search-events", type=int, default=200_000)
    parser.add_argument("--search-terminals", type=int, default=500)
    parser.add_argument("--search-days", type=float, default=10)
    parser.add_argument("--search-samples", type=int, default=200)
    parser.add_argument("--wt-events", type=int, default=1_000_000, help="records stored for the working-time month")
    parser.add_argument("--wt-workers", type=int, default=500)
    parser.add_argument("--wt-samples", type=int, default=200)
    parser.add_argument("--wt-scan-samples", type=int, default=3, help="months read from the raw records instead")
    parser.add_argument("--support-messages", type=int, default=20_000, help="messages loaded for support-search")
    parser.add_argument("--support-search-samples", type=int, default=100)
    parser.add_argument("--support-uploads", type=int, default=8, help="10 MB files uploaded per client count")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--gateway-seconds", type=float, default=15)
    parser.add_argument(
        "--step-seconds", type=float, default=8, help="per client count of the list's step search; 0 skips it"
    )
    parser.add_argument("--webhook-events", type=int, default=500, help="events of the webhook burst")
    parser.add_argument("--webhook-subscriptions", type=int, default=4)
    parser.add_argument("--webhook-seconds", type=float, default=15, help="paced events for the delivery delay")
    args = parser.parse_args(argv)
    args.gateway_parts = [p for p in gateway.PARTS if "gateway" in args.only or p in args.only]
    args.groups = {g for g in ("ingest", "search", "webhooks", "working-time", "support-search") if g in args.only} | (
        {"gateway"} if args.gateway_parts else set()
    )
    return args


if __name__ == "__main__":
    arguments = parse(sys.argv[1:])
    result = asyncio.run(main(arguments))
    written = write_results(result)
    sys.stdout.write(written.read_text())
    say(f"written bench/results/{written.stem}.json and .md (and latest.*)")
    sys.exit(1 if result.get("failed") else 0)
