"""Do two activity consumer processes in one group store telemetry faster than one? (issue #9)

Needs Kafka and FerretDB running (`make infra-up`). The script:
1. creates the catalogue's topics under a fresh prefix and publishes `--events` telemetry events
   of `--terminals` serials to `terminal.activity` (6 partitions), straight into Kafka;
2. for each process count in `--processes` (default 1 then 2): starts that many activity
   service processes (`python -m activity`) with one new consumer group and one new database,
   and times how long the group takes to consume everything (lag 0) — the same backlog each time;
3. prints one JSON line: events, per run the seconds, events/s, the partitions each process was
   given, and the ratio of each run's rate to the one-process rate.

    uv run python bench/activity_scaleout.py --events 60000 --processes 1 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.group import MemberAssignment
from pymongo import MongoClient

from contracts import KAFKA_HEADERS, all_topic_partitions, envelope_for
from contracts.events.activity import DeviceInfo, TerminalActivity
from servicekit.metrics import consumer_lag
from servicekit.topics import delete_topics, ensure_topics

ROOT = Path(__file__).resolve().parents[1]
KAFKA = os.environ.get("PARTNERAPP_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
MONGO = os.environ.get("PARTNERAPP_MONGO_URL", "mongodb://127.0.0.1:27017/")
TOPIC = "terminal.activity"
ACTIONS = ["login", "clock_in", "gps_fix", "task_started", "task_completed", "clock_out"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def publish(prefix: str, events: int, terminals: int) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=KAFKA, acks="all", enable_idempotence=True, linger_ms=20, compression_type="lz4"
    )
    await producer.start()
    start = datetime.now(UTC) - timedelta(hours=6)
    device = DeviceInfo(maker="Zebra", model="TC58", os="Android", os_version="14", app_version="5.12.0")
    try:
        pending = []
        for n in range(events):
            serial = f"SC{n % terminals:05d}"
            at = start + timedelta(milliseconds=250 * n)
            data = TerminalActivity(
                serial=serial,
                pin=f"{n % terminals:04d}",
                instance_id="ins-scaleout",
                partner_id="ptn-scaleout",
                action=ACTIONS[n % len(ACTIONS)],
                occurred_at=at,
                received_at=at,
                device=device,
                battery_pct=80,
            )
            envelope = envelope_for(data, source="activity", event_id=uuid.uuid4())
            record = envelope.to_json_bytes()
            topic = f"{prefix}{TOPIC}"
            pending.append(await producer.send(topic, record, key=serial.encode(), headers=list(KAFKA_HEADERS)))
            if len(pending) >= 2000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def lag_and_owners(prefix: str, group: str) -> tuple[int, dict[str, list[int]]]:
    """The group's lag on the telemetry topic, and which partitions each member holds."""
    lag = sum((await consumer_lag(KAFKA, group, [f"{prefix}{TOPIC}"])).values())
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        owners: dict[str, list[int]] = {}
        for response in await admin.describe_consumer_groups([group]):
            for described in response.groups:  # raw DescribeGroups: (error, group, state, type, protocol, members)
                for member_id, _client, _host, _metadata, assignment in described[5]:
                    if assignment:
                        for topic_name, numbers in MemberAssignment.decode(assignment).assignment:
                            if topic_name == f"{prefix}{TOPIC}":
                                owners.setdefault(member_id, []).extend(numbers)
        return lag, owners
    finally:
        await admin.close()


async def run(prefix: str, processes: int, events: int, deadline_seconds: float) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    group, database = f"scaleout-{tag}", f"bench_scaleout_{tag}"
    env_base = {
        **os.environ,
        "PARTNERAPP_KAFKA_BOOTSTRAP_SERVERS": KAFKA,
        "PARTNERAPP_MONGO_URL": MONGO,
        "PARTNERAPP_TOPIC_PREFIX": prefix,
        "ACTIVITY_CONSUMER_GROUP": group,
        "ACTIVITY_MONGO_DATABASE": database,
    }
    started = time.perf_counter()
    children = [
        subprocess.Popen(  # noqa: ASYNC220 - started once per run, not on a hot path
            [sys.executable, "-m", "activity"],
            env={**env_base, "ACTIVITY_HTTP_PORT": str(free_port())},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(processes)
    ]
    owners: dict[str, list[int]] = {}
    first_progress: float | None = None  # process start-up is not consumption: time from the first commit
    try:
        while True:
            await asyncio.sleep(0.25)
            lag, seen = await lag_and_owners(prefix, group)
            owners = seen or owners
            if first_progress is None and lag < events:
                first_progress = time.perf_counter()
            if lag == 0:
                break
            if time.perf_counter() - started > deadline_seconds:
                raise TimeoutError(f"{processes} process(es): {lag} events still not consumed")
            if any(child.poll() is not None for child in children):
                raise RuntimeError("an activity process exited")
        finished = time.perf_counter()
        seconds = finished - (first_progress or started)
        wall = finished - started
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(timeout=30)
        client: MongoClient[dict[str, Any]]
        with MongoClient(MONGO) as client:
            stored = sum(
                client[database][name].count_documents({})
                for name in client[database].list_collection_names()
                if name.startswith("records_")
            )
            client.drop_database(database)
    return {
        "processes": processes,
        "seconds": round(seconds, 1),
        "seconds_with_start_up": round(wall, 1),
        "events_per_second": round(events / seconds),
        "stored": stored,
        "partitions_per_process": sorted(sorted(numbers) for numbers in owners.values()),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--terminals", type=int, default=600)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    prefix = f"scaleout-{uuid.uuid4().hex[:8]}."
    await ensure_topics(KAFKA, all_topic_partitions(), prefix=prefix)
    try:
        await publish(prefix, args.events, args.terminals)
        runs = [await run(prefix, count, args.events, args.timeout) for count in args.processes]
    finally:
        await delete_topics(KAFKA, [f"{prefix}{name}" for name in all_topic_partitions()])
    base = runs[0]["events_per_second"]
    for figures in runs:
        figures["ratio_to_first"] = round(figures["events_per_second"] / base, 2)
    sys.stdout.write(json.dumps({"events": args.events, "cores": os.cpu_count(), "runs": runs}) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
