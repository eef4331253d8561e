"""1 + 2: ingest throughput (over HTTP and straight from Kafka, each against the raw pipe) and
ingest-to-queryable latency at half the measured end-to-end throughput."""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
from aiokafka import AIOKafkaProducer

from contracts import KAFKA_HEADERS, envelope_for
from contracts.events.activity import DeviceInfo, GeoPoint, TerminalActivity
from harness import (
    TELEMETRY,
    BenchInfra,
    CpuMeter,
    LagWatch,
    Platform,
    ServiceProcess,
    Terminals,
    count_records,
    issue_ingest_key,
    percentile,
    processes,
    raw_pipe,
    say,
)
from scenarios.common import DEVICE, PARTNER, activity, topics, wait_drained

PROBERS, POLL_SECONDS = 2, 0.025  # latency probes: two at a time, each polling the search every 25 ms


async def ingest_over_http(infra: BenchInfra, args: argparse.Namespace, memory: dict[str, float]) -> dict[str, Any]:
    platform = Platform(infra, f"bench-{uuid.uuid4().hex[:6]}.")
    await topics(platform)
    database, group = "bench_activity_ingest", "bench-activity-ingest"
    with processes() as started:
        service = activity(platform, "ingest", database, group)
        started.append(service)
        service.start()
        await service.wait_ready()
        key = await issue_ingest_key(platform, database, PARTNER)

        say(f"ingest over HTTP: {args.ingest_seconds:.0f} s of terminals as fast as the endpoint answers")
        meter = CpuMeter({"activity": service})
        figures = await end_to_end(
            platform, service.url, key, database, group, args.ingest_seconds, args.ingest_workers
        )
        figures["cores_used"] = meter.cores()
        service.sample_memory()
        say(f"raw pipe over the same {figures['acknowledged']} events")
        meter = CpuMeter({})
        figures["raw"] = await raw_pipe(platform, figures["acknowledged"])
        figures["raw"]["cores_used"] = meter.cores()
        figures["ratio_to_raw"] = round(figures["events_per_s"] / figures["raw"]["events_per_s"], 2)

        target = figures["events_per_s"] / 2
        say(f"latency: {args.latency_seconds:.0f} s at {target:.0f} events/s (half the end-to-end rate)")
        figures["latency"] = await ingest_to_queryable(platform, service, key, target, args.latency_seconds)
        await wait_drained(platform, group, within=600)
        service.sample_memory()
    memory["activity"] = max(memory.get("activity", 0), service.peak_rss_mb)
    return figures


async def end_to_end(
    platform: Platform, url: str, key: str, database: str, group: str, seconds: float, workers: int
) -> dict[str, Any]:
    """Terminals posting to the ingest endpoint at `url` as fast as it answers for `seconds`, then
    until the consumer `group` has stored it all into `database` (empty before): the end-to-end
    rate is what was stored over the time from the first post until then."""
    terminals = Terminals(url, key, workers=workers)
    began = time.monotonic()
    terminals.start()
    await asyncio.sleep(seconds)
    await terminals.finish()
    sent_for = time.monotonic() - began
    await wait_drained(platform, group, within=600)
    until_stored = time.monotonic() - began
    stored = await count_records(platform.infra.mongo_url, database, kind="telemetry")
    return {
        "seconds_sending": round(sent_for, 1),
        "acknowledged": terminals.acked,
        "refused": terminals.refused,
        "acknowledged_per_s": round(terminals.acked / sent_for),
        "stored": stored,
        "seconds_until_stored": round(until_stored, 1),
        "events_per_s": round(stored / until_stored),
    }


async def ingest_to_queryable(
    platform: Platform, service: ServiceProcess, key: str, rate: float, seconds: float
) -> dict[str, Any]:
    """Background terminals at `rate`; meanwhile probe terminals post one event each and poll the
    search API until it answers with it."""
    load = Terminals(service.url, key, rate=rate, workers=4)
    load_began = time.monotonic()
    load.start()
    token = platform.token(PARTNER)
    latencies: list[float] = []
    missing = 0

    async def probe(client: httpx2.AsyncClient, number: int) -> None:
        nonlocal missing
        serial = f"PROBE{number:05d}-{uuid.uuid4().hex[:4]}"
        now = datetime.now(UTC)
        event = {"event_id": str(uuid.uuid4()), "serial": serial, "action": "gps_fix", "occurred_at": now.isoformat()}
        began = time.perf_counter()
        answer = await client.post("/v1/ingest/events", json={"events": [event]}, headers={"X-Ingest-Key": key})
        answer.raise_for_status()
        window = {"from": (now - timedelta(hours=1)).isoformat(), "to": (now + timedelta(hours=1)).isoformat()}
        headers = {"Authorization": f"Bearer {token}"}
        while time.perf_counter() - began < 30:
            found = await client.get("/v1/activity/records", params={"serial": serial, **window}, headers=headers)
            if found.status_code == 200 and found.json()["items"]:
                latencies.append((time.perf_counter() - began) * 1000)
                return
            await asyncio.sleep(POLL_SECONDS)
        missing += 1

    async def prober(client: httpx2.AsyncClient, first: int, deadline: float) -> None:
        """One probe at a time, so the polling itself stays a light load."""
        number = first
        while time.monotonic() < deadline:
            await probe(client, number)
            number += PROBERS
            await asyncio.sleep(0.2)

    async with httpx2.AsyncClient(base_url=service.url, timeout=30) as client:
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(prober(client, n, deadline) for n in range(PROBERS)))
    await load.finish()
    load_seconds = time.monotonic() - load_began
    return {
        "target_events_per_s": round(rate),
        "achieved_events_per_s": round(load.acked / load_seconds),
        "probes": len(latencies),
        "not_seen_within_30_s": missing,
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(max(latencies, default=float("nan")), 1),
    }


async def ingest_from_kafka(infra: BenchInfra, args: argparse.Namespace, memory: dict[str, float]) -> dict[str, Any]:
    """Producers write straight into Kafka; then the raw pipe and the service consume that backlog."""
    platform = Platform(infra, f"bench-{uuid.uuid4().hex[:6]}.")
    await topics(platform)
    say(f"ingest from Kafka: publishing {args.kafka_events} events straight into the topic")
    published = await publish_telemetry(platform, args.kafka_events, terminals=2000)
    say("raw pipe over that backlog")
    meter = CpuMeter({})
    raw = await raw_pipe(platform, args.kafka_events)
    raw["cores_used"] = meter.cores()
    database, group = "bench_activity_kafka", "bench-activity-kafka"
    say("the activity service over the same backlog")
    with processes() as started:
        service = activity(platform, "kafka", database, group)
        started.append(service)
        service.start()
        await service.wait_ready()
        meter = CpuMeter({"activity": service})
        first: tuple[float, int] | None = None
        async with LagWatch(platform, group) as watch:
            while True:  # timed from its first commit to lag 0, like the raw pipe from its first batch
                remaining = await watch.lag()
                now = time.monotonic()
                if first is None and 0 <= remaining < args.kafka_events:
                    first = (now, remaining)
                if remaining == 0:
                    break
                await asyncio.sleep(0.25)
        if first is None:
            raise RuntimeError("the activity service consumed nothing")
        seconds = now - first[0]
        consumed = first[1]
        cores = meter.cores()
        stored = await count_records(infra.mongo_url, database)
        service.sample_memory()
    memory["activity"] = max(memory.get("activity", 0), service.peak_rss_mb)
    events_per_s = round(consumed / seconds) if seconds > 0 else 0
    return {
        "published": published,
        "publish_events_per_s": round(published["events"] / published["seconds"]),
        "service": {
            "events": consumed,
            "seconds": round(seconds, 1),
            "events_per_s": events_per_s,
            "stored": stored,
            "cores_used": cores,
        },
        "raw": raw,
        "ratio_to_raw": round(events_per_s / raw["events_per_s"], 2),
    }


async def publish_telemetry(platform: Platform, events: int, terminals: int) -> dict[str, Any]:
    producer = AIOKafkaProducer(
        bootstrap_servers=platform.infra.kafka,
        acks="all",
        enable_idempotence=True,
        linger_ms=20,
        compression_type="lz4",
    )
    await producer.start()
    start = datetime.now(UTC) - timedelta(hours=6)
    device = DeviceInfo(**DEVICE)
    began = time.perf_counter()
    try:
        pending = []
        for n in range(events):
            number = n % terminals
            serial = f"BK{number:05d}"
            at = start + timedelta(milliseconds=250 * n)
            data = TerminalActivity(
                serial=serial,
                pin=f"{1000 + number}",
                instance_id="ins-bench",
                partner_id=PARTNER,
                action="gps_fix",
                occurred_at=at,
                received_at=at,
                device=device,
                battery_pct=80,
                location=GeoPoint(lat=40.4, lon=-3.7, accuracy_m=8.0),
            )
            envelope = envelope_for(data, source="activity", event_id=uuid.uuid4())
            topic = f"{platform.prefix}{TELEMETRY}"
            pending.append(
                await producer.send(topic, envelope.to_json_bytes(), key=serial.encode(), headers=list(KAFKA_HEADERS))
            )
            if len(pending) >= 2000:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return {"events": events, "seconds": round(time.perf_counter() - began, 1)}
