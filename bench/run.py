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
4. the gateway's composed instance view and its instance list under concurrent clients,
   against the same work done directly: the view's calls made by the client itself to the
   services, the list asked of the instances service;
5. peak RSS (VmHWM) of every service process.

Sizes are flags (`make bench BENCH_ARGS="--search-events 1000000"`); the defaults finish in
minutes. The committed reference with its analysis is bench/results/reference.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform as host
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from activity.adapters.mongo_repository import MongoActivityStore, MongoTerminalStore, collection_name
from activity.domain.model import ActivityRecord, shard_of
from contracts import KAFKA_HEADERS, all_topic_partitions, envelope_for
from contracts.events.activity import DeviceInfo, GeoPoint, TerminalActivity
from harness import (
    CACHE,
    ROOT,
    TELEMETRY,
    BenchInfra,
    CpuMeter,
    LagWatch,
    Latencies,
    Platform,
    Request,
    ServiceProcess,
    Terminals,
    count_records,
    get,
    hammer,
    issue_ingest_key,
    percentile,
    processes,
    raw_pipe,
    say,
)
from servicekit.mongo import DocumentLocks
from servicekit.topics import ensure_topics

RESULTS = ROOT / "bench" / "results"
PROBERS, POLL_SECONDS = 2, 0.025  # latency probes: two at a time, each polling the search every 25 ms
PARTNER = "ptn-bench"
DEVICE = {"maker": "Zebra", "model": "TC21", "os": "Android", "os_version": "11", "app_version": "5.1"}


async def topics(platform: Platform) -> None:
    await ensure_topics(platform.infra.kafka, all_topic_partitions(), prefix=platform.prefix)


async def wait_drained(platform: Platform, group: str, within: float) -> float:
    """Seconds until the group's lag on the telemetry topic is 0."""
    began = time.monotonic()
    async with LagWatch(platform, group) as watch:
        while await watch.lag() > 0:
            if time.monotonic() - began > within:
                raise RuntimeError(f"group {group} still lags after {within}s")
            await asyncio.sleep(0.25)
    return time.monotonic() - began


def activity(platform: Platform, tag: str, database: str, group: str) -> ServiceProcess:
    return platform.service(
        "activity", tag, mongo_database=database, consumer_group=group, instances_url="http://127.0.0.1:9"
    )


# --------------------------------------------------------------------------- 1 + 2: ingest


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
        terminals = Terminals(service.url, key, workers=args.ingest_workers)
        meter = CpuMeter({"activity": service})
        began = time.monotonic()
        terminals.start()
        await asyncio.sleep(args.ingest_seconds)
        await terminals.finish()
        sent_for = time.monotonic() - began
        await wait_drained(platform, group, within=600)
        end_to_end = time.monotonic() - began
        stored = await count_records(infra.mongo_url, database)
        service.sample_memory()
        figures: dict[str, Any] = {
            "seconds_sending": round(sent_for, 1),
            "acknowledged": terminals.acked,
            "refused": terminals.refused,
            "acknowledged_per_s": round(terminals.acked / sent_for),
            "stored": stored,
            "seconds_until_stored": round(end_to_end, 1),
            "events_per_s": round(stored / end_to_end),
            "cores_used": meter.cores(),
        }
        say(f"raw pipe over the same {terminals.acked} events")
        meter = CpuMeter({})
        figures["raw"] = await raw_pipe(platform, terminals.acked)
        figures["raw"]["cores_used"] = meter.cores()
        figures["ratio_to_raw"] = round(figures["events_per_s"] / figures["raw"]["events_per_s"], 2)

        target = figures["events_per_s"] / 2
        say(f"latency: {args.latency_seconds:.0f} s at {target:.0f} events/s (half the end-to-end rate)")
        figures["latency"] = await ingest_to_queryable(platform, service, key, target, args.latency_seconds)
        await wait_drained(platform, group, within=600)
        service.sample_memory()
    memory["activity"] = max(memory.get("activity", 0), service.peak_rss_mb)
    return figures


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

    async def probe(client: httpx.AsyncClient, number: int) -> None:
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

    async def prober(client: httpx.AsyncClient, first: int, deadline: float) -> None:
        """One probe at a time, so the polling itself stays a light load."""
        number = first
        while time.monotonic() < deadline:
            await probe(client, number)
            number += PROBERS
            await asyncio.sleep(0.2)

    async with httpx.AsyncClient(base_url=service.url, timeout=30) as client:
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


# --------------------------------------------------------------------------- 3: search


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
            async with httpx.AsyncClient(base_url=service.url, timeout=30) as http:
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
    http: httpx.AsyncClient,
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


# --------------------------------------------------------------------------- 4: gateway


async def gateway(infra: BenchInfra, args: argparse.Namespace, memory: dict[str, float]) -> dict[str, Any]:
    platform = Platform(infra, f"bench-{uuid.uuid4().hex[:6]}.")
    await topics(platform)
    credentials = CACHE / "bench-credentials.json"
    credentials.unlink(missing_ok=True)
    with processes() as started:
        services = {
            "instances": platform.service("instances", "gw"),
            "support": platform.service("support", "gw"),
            "reports": platform.service("reports", "gw"),
            "activity": activity(platform, "gw", "bench_activity_gw", "bench-activity-gw"),
        }
        urls = {f"{name}_url": s.url for name, s in services.items()}
        services["gateway"] = platform.service("gateway", "gw", token_private_key_file=str(platform.key_file), **urls)
        for service in services.values():
            started.append(service)
            service.start()
        for service in services.values():
            await service.wait_ready()
        say("gateway: demo data and users")
        env = {**os.environ, **platform.env("instances"), **platform.env("gateway")}
        demo = ["--json", "--partners", "2", "--companies", "5", "--instances", "2", "--licenses", "3"]
        summary = json.loads(await run_module("instances.entrypoints.demo_data", *demo, env=env))
        partner = summary["partners"][0]
        await run_module("gateway.entrypoints.seed_users", "--credentials", str(credentials), partner, env=env)
        email = f"admin@{partner}.example"
        password = json.loads(credentials.read_text())[email]
        async with httpx.AsyncClient(base_url=services["gateway"].url, timeout=30) as client:
            login = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
            login.raise_for_status()
            token = login.json()["access_token"]
            listing = await client.get("/api/v1/instances?limit=1", headers={"Authorization": f"Bearer {token}"})
            listing.raise_for_status()
            instance_id = listing.json()["items"][0]["id"]
        gateway_url = services["gateway"].url
        targets = {
            "instance_view": (
                get(f"{gateway_url}/api/v1/views/instances/{instance_id}"),
                composed_directly({name: s.url for name, s in services.items()}, instance_id),
            ),
            "instance_list": (
                get(f"{gateway_url}/api/v1/instances?limit=20"),
                get(f"{services['instances'].url}/v1/instances?limit=20"),
            ),
        }
        figures: dict[str, Any] = {"clients": args.clients, "seconds_each": args.gateway_seconds}
        for name, (through_gateway, direct) in targets.items():  # the same work, with and without the gateway
            say(f"gateway: {name} ({args.clients} clients, {args.gateway_seconds:.0f} s each way)")
            pair = figures[name] = {}
            for path, request in (("direct", direct), ("gateway", through_gateway)):
                meter = CpuMeter(services)
                pair[path] = await hammer(request, token, args.clients, args.gateway_seconds)
                pair[path]["cores_used"] = meter.cores()
            pair["throughput_ratio"] = round(pair["direct"]["requests_per_s"] / pair["gateway"]["requests_per_s"], 2)
            pair["p99_ratio"] = round(pair["gateway"]["p99_ms"] / pair["direct"]["p99_ms"], 2)
        for name, service in services.items():
            memory[name] = max(memory.get(name, 0), service.sample_memory())
    return figures


def composed_directly(urls: dict[str, str], instance_id: str) -> Request:
    """The gateway's instance view made by the client itself: the same calls to the same services
    (the instance; then its licenses, then the terminals of up to 10 of them, beside the company's
    thread), so the ratio to the gateway's view is the price of the gateway, not of the work."""

    async def view(client: httpx.AsyncClient) -> bool:
        found = await client.get(f"{urls['instances']}/v1/instances/{instance_id}")
        if found.status_code != 200:
            return False
        instance = found.json()

        async def licenses_and_terminals() -> bool:
            page = await client.get(f"{urls['instances']}/v1/instances/{instance_id}/licenses", params={"limit": 50})
            serials = [item["serial"] for item in page.json().get("items", []) if item.get("serial")][:10]
            answers = await asyncio.gather(
                *(client.get(f"{urls['activity']}/v1/activity/terminals/{serial}") for serial in serials)
            )
            return page.status_code == 200 and all(a.status_code in (200, 404) for a in answers)

        async def thread() -> bool:
            answer = await client.get(f"{urls['support']}/v1/threads/thr-{instance['company_id']}")
            return answer.status_code in (200, 404)

        return all(await asyncio.gather(licenses_and_terminals(), thread()))

    return view


async def run_module(module: str, *args: str, env: dict[str, str]) -> str:
    """`python -m module args` to its end (in a thread: the event loop keeps serving); its output."""
    command = [sys.executable, "-m", module, *args]
    done = await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{module} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return done.stdout


# --------------------------------------------------------------------------- report


def machine(store: str) -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        host.processor(),
    )
    kafka_pom = (ROOT / "deploy" / "local" / "kafka" / "pom.xml").read_text()
    kafka_version = kafka_pom.split("<kafka.version>")[1].split("<")[0] if "<kafka.version>" in kafka_pom else "?"
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": sys.version.split()[0],
        "os": host.platform(),
        "store": f"FerretDB v1.24.2 ({store} backend)",
        "kafka": kafka_version,
        "libraries": {
            name: version(name)
            for name in ("faststream", "aiokafka", "pymongo", "fastapi", "uvicorn", "pydantic", "httpx")
        },
    }


def _cores(used: dict[str, float]) -> str:
    busy = {name: cores for name, cores in sorted(used.items(), key=lambda kv: -kv[1]) if cores >= 0.01}
    return ", ".join(f"{name} {cores:.2f}" for name, cores in busy.items()) + f" (total {sum(busy.values()):.2f})"


def markdown(report: dict[str, Any]) -> str:
    m, out = report["machine"], []
    out.append(f"# Benchmarks — {report['started']}\n")
    out.append(
        f"{m['cores']} cores ({m['cpu']}), {m['memory_gb']} GiB; Python {m['python']}; {m['store']}; "
        f"Kafka {m['kafka']}; " + ", ".join(f"{k} {v}" for k, v in m["libraries"].items()) + ".\n"
    )
    out.append(f"Arguments: `{report['arguments']}`; took {report['seconds']:.0f} s.\n")
    for key, error in report.get("failed", {}).items():
        out.append(f"**{key} failed**: `{error}`\n")
    if "ingest_http" in report:
        h = report["ingest_http"]
        out.append("## 1. Ingest throughput\n")
        out.append(
            "| path | events | seconds | events/s | raw pipe events/s | ratio (goal ≥ 0.8) |\n"
            "|---|---:|---:|---:|---:|---:|"
        )
        out.append(
            f"| terminals → ingest endpoint → Kafka → consumer → store | {h['stored']} | {h['seconds_until_stored']} "
            f"| {h['events_per_s']} | {h['raw']['events_per_s']} | {h['ratio_to_raw']} |"
        )
        if "ingest_kafka" in report:
            k = report["ingest_kafka"]
            out.append(
                f"| producers → Kafka → consumer → store | {k['service']['events']} | {k['service']['seconds']} "
                f"| {k['service']['events_per_s']} | {k['raw']['events_per_s']} | {k['ratio_to_raw']} |"
            )
        out.append(
            f"\nThe ingest endpoint acknowledged {h['acknowledged']} events in {h['seconds_sending']} s "
            f"({h['acknowledged_per_s']}/s), refused {h['refused']}; all stored: {h['stored'] == h['acknowledged']}.\n"
        )
        out.append("Cores used while measuring (CPU seconds ÷ wall seconds, from /proc):\n")
        out.append(f"- end to end: {_cores(h['cores_used'])}")
        out.append(f"- its raw pipe: {_cores(h['raw']['cores_used'])}")
        if "ingest_kafka" in report:
            out.append(f"- service from Kafka: {_cores(report['ingest_kafka']['service']['cores_used'])}")
            out.append(f"- its raw pipe: {_cores(report['ingest_kafka']['raw']['cores_used'])}")
        out.append("")
        lat = h["latency"]
        out.append("## 2. Ingest-to-queryable latency\n")
        out.append(
            f"At {lat['achieved_events_per_s']} events/s (target {lat['target_events_per_s']}, half the end-to-end "
            f"rate): {lat['probes']} probes, p50 **{lat['p50_ms']} ms**, p99 **{lat['p99_ms']} ms** (goal ≤ 1000), "
            f"max {lat['max_ms']} ms; not seen within 30 s: {lat['not_seen_within_30_s']}.\n"
        )
    if "search" in report:
        s = report["search"]
        out.append("## 3. Activity search\n")
        out.append(
            f"{s['events']} records of {s['terminals']} terminals over {s['days']} days "
            f"(loaded at {s['load']['events_per_s']}/s).\n"
        )
        out.append(
            "| by | samples | service p50 ms | service p99 ms (goal ≤ 50) | raw query p50 ms | raw p99 ms "
            "| items/page |"
        )
        out.append("|---|---:|---:|---:|---:|---:|---:|")
        for by in ("serial", "pin"):
            f = s[by]
            out.append(
                f"| {by} + one-day window | {f['samples']} | {f['service']['p50_ms']} | {f['service']['p99_ms']} "
                f"| {f['raw_store_query']['p50_ms']} | {f['raw_store_query']['p99_ms']} | {f['mean_items']} |"
            )
        e = s["serial"]["explain"]
        out.append(
            f"\nCollections read for one window: {', '.join(e.get('collections_read', []))}; FerretDB: "
            f"{e.get('ferretdb')}; backend plan: `{e.get('backend_plan')}`\n"
        )
    if "gateway" in report:
        g = report["gateway"]
        out.append("## 4. Gateway\n")
        out.append(f"{g['clients']} concurrent clients, {g['seconds_each']} s per target.\n")
        out.append("| endpoint | path | req/s | p50 ms | p99 ms | errors |\n|---|---|---:|---:|---:|---:|")
        for name in ("instance_view", "instance_list"):
            for path in ("direct", "gateway"):
                f = g[name][path]
                out.append(
                    f"| {name} | {path} | {f['requests_per_s']} | {f['p50_ms']} | {f['p99_ms']} | {f['errors']} |"
                )
        out.append("\nCores used:\n")
        for name in ("instance_view", "instance_list"):
            for path in ("direct", "gateway"):
                out.append(f"- {name} {path}: {_cores(g[name][path]['cores_used'])}")
        out.append(
            "\nOverhead (direct req/s ÷ gateway req/s; goal ≤ 1.3): "
            + "; ".join(
                f"{n} {g[n]['throughput_ratio']}×, p99 {g[n]['p99_ratio']}×" for n in ("instance_view", "instance_list")
            )
            + ".\n"
        )
    out.append("## 5. Peak memory (VmHWM)\n")
    out.append("| service | peak RSS MB |\n|---|---:|")
    for name, mb in sorted(report["peak_rss_mb"].items()):
        out.append(f"| {name} | {mb:.0f} |")
    return "\n".join(out) + "\n"


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
            "ingest_http": ("ingest", ingest_over_http),
            "ingest_kafka": ("ingest", ingest_from_kafka),
            "search": ("search", search),
            "gateway": ("gateway", gateway),
        }
        for key, (group, phase) in phases.items():
            if group in args.only:
                try:
                    report[key] = await phase(infra, args, memory)
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
        "--only", nargs="+", choices=["ingest", "search", "gateway"], default=["ingest", "search", "gateway"]
    )
    parser.add_argument("--ingest-seconds", type=float, default=60)
    parser.add_argument("--ingest-workers", type=int, default=8, help="concurrent terminals posting batches of 50")
    parser.add_argument("--latency-seconds", type=float, default=60)
    parser.add_argument("--kafka-events", type=int, default=100_000)
    parser.add_argument("--search-events", type=int, default=200_000)
    parser.add_argument("--search-terminals", type=int, default=500)
    parser.add_argument("--search-days", type=float, default=10)
    parser.add_argument("--search-samples", type=int, default=200)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--gateway-seconds", type=float, default=15)
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse(sys.argv[1:])
    result = asyncio.run(main(arguments))
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    text = markdown(result)
    for name in (stamp, "latest"):
        (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
        (RESULTS / f"{name}.md").write_text(text)
    sys.stdout.write(text)
    say(f"written bench/results/{stamp}.json and .md (and latest.*)")
    sys.exit(1 if result.get("failed") else 0)
