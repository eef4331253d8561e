"""Telemetry consumption: the activity service against a raw pipe, on the same backlog and store.

Needs Kafka and FerretDB running (`make infra-up`). Publishes `--events` telemetry events straight
into a fresh `terminal.activity` topic (6 partitions; producers writing into Kafka, no HTTP), then
consumes the same backlog twice, each time into a new database:

- raw: one aiokafka consumer, `getmany` batches of 500 → `insert_many(ordered=False)` of the
  JSON-decoded envelopes, no validation, commit after each batch — the floor nothing can beat
  on this machine and store;
- service: one `python -m activity` process (validation, the terminal states, the per-day/shard
  collections, inbox-free batch insert, commit), timed from its first commit to lag 0
  (see bench/activity_scaleout.py).

Prints one JSON line with events/s of each and the service's ratio to the raw pipe.

    uv run python bench/ingest_vs_raw.py --events 60000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from pymongo import AsyncMongoClient

from contracts import all_topic_partitions
from servicekit.topics import delete_topics, ensure_topics

sys.path.insert(0, str(Path(__file__).resolve().parent))
from activity_scaleout import KAFKA, MONGO, TOPIC, publish, run  # a sibling script, not a package

BATCH = 500


async def raw_pipe(prefix: str, events: int) -> dict[str, Any]:
    """getmany → insert_many(ordered=False), no validation: the baseline."""
    database = f"bench_raw_{uuid.uuid4().hex[:8]}"
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO)
    consumer = AIOKafkaConsumer(
        f"{prefix}{TOPIC}",
        bootstrap_servers=KAFKA,
        group_id=f"raw-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=BATCH,
    )
    await consumer.start()
    consumed = 0
    started: float | None = None
    try:
        while consumed < events:
            batches = await consumer.getmany(timeout_ms=1000, max_records=BATCH)
            documents = []
            for records in batches.values():
                for record in records:
                    document = json.loads(record.value or b"{}")
                    document["_id"] = document.pop("id")
                    documents.append(document)
            if not documents:
                continue
            if started is None:
                started = time.perf_counter()
            await client[database]["records"].insert_many(documents, ordered=False)
            await consumer.commit()
            consumed += len(documents)
        seconds = time.perf_counter() - (started or time.perf_counter())
        stored = await client[database]["records"].count_documents({})
    finally:
        await consumer.stop()
        await client.drop_database(database)
        await client.close()
    return {"seconds": round(seconds, 1), "events_per_second": round(events / seconds), "stored": stored}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--terminals", type=int, default=600)
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    prefix = f"rawbench-{uuid.uuid4().hex[:8]}."
    await ensure_topics(KAFKA, all_topic_partitions(), prefix=prefix)
    try:
        await publish(prefix, args.events, args.terminals)
        raw = await raw_pipe(prefix, args.events)
        service = await run(prefix, 1, args.events, args.timeout)
    finally:
        await delete_topics(KAFKA, [f"{prefix}{name}" for name in all_topic_partitions()])
    figures = {
        "events": args.events,
        "cores": os.cpu_count(),
        "raw": raw,
        "service": {k: service[k] for k in ("seconds", "events_per_second", "stored")},
        "service_to_raw": round(service["events_per_second"] / raw["events_per_second"], 2),
    }
    sys.stdout.write(json.dumps(figures) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
