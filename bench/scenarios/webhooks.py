"""5: webhook deliveries (#19): events on Kafka → the gateway's dispatcher → signed POSTs to a fast
local receiver, beside the raw floor (the same receiver POSTed by a plain httpx client with the
same concurrency: one stream per subscription, one request at a time, as the dispatcher sends).

- a burst: `--webhook-events` events for `--webhook-subscriptions` subscriptions of one partner,
  produced as fast as Kafka acknowledges; deliveries per second until the last one arrived;
- the delivery delay after the event is on Kafka (acknowledged to the producer → first arrival
  at the receiver), p50/p99, with events paced at half the burst's rate for `--webhook-seconds`.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx2
from aiohttp import web
from aiokafka import AIOKafkaProducer
from cryptography.fernet import Fernet
from pymongo import AsyncMongoClient

from contracts import KAFKA_HEADERS, envelope_for
from contracts.events.common import Actor
from contracts.events.licenses import LicenseAdded
from gateway.adapters.webhooks import MongoWebhookSubscriptions, SecretBox
from gateway.domain.webhooks import SigningSecret, Subscription, new_secret, secret_hint
from harness import BenchInfra, CpuMeter, Platform, percentile, processes, say
from partnerapp_stack.private import free_port
from scenarios.common import PARTNER, topics

DATABASE = "bench_gateway_webhooks"
INSTANCES = 20


class Receiver:
    """Answers 204 at once; remembers when each (path, webhook-id) first arrived."""

    def __init__(self) -> None:
        self.first: dict[tuple[str, str], float] = {}
        self.requests = 0

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.requests += 1
        self.first.setdefault((request.path, request.headers.get("webhook-id", "")), time.monotonic())
        return web.Response(status=204)


def event(instance: int) -> Any:
    return envelope_for(
        LicenseAdded(
            license_id=f"lic-{uuid.uuid4().hex[:10]}",
            instance_id=f"inst-bench-{instance}",
            partner_id=PARTNER,
            company_id="cmp-bench",
            user_name="Ana",
            email="ana@example.com",
            pin="4821",
            added_by=Actor(user_id="usr-bench", role="partner"),
        ),
        source="instances",
    )


async def produce(producer: AIOKafkaProducer, prefix: str, events: list[Any], acked: dict[str, float]) -> None:
    """Send them all; each event's time is when Kafka acknowledged it."""

    def stamp(event_id: str) -> Any:
        return lambda _: acked.setdefault(event_id, time.monotonic())

    futures = []
    for e in events:
        future = await producer.send(
            prefix + e.type, e.to_json_bytes(), key=e.subject.encode(), headers=list(KAFKA_HEADERS)
        )
        future.add_done_callback(stamp(str(e.id)))
        futures.append(future)
    await asyncio.gather(*futures)


async def arrived(receiver: Receiver, expected: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while len(receiver.first) < expected and time.monotonic() < deadline:  # noqa: ASYNC110 - polls a count
        await asyncio.sleep(0.05)
    return len(receiver.first) >= expected


async def raw_floor(url: str, paths: list[str], per_path: int) -> dict[str, Any]:
    """The same receiver POSTed directly: one sequential stream per subscription."""
    body = b'{"specversion":"1.0","type":"license.added","data":{}}'
    async with httpx2.AsyncClient(timeout=10) as client:

        async def stream(path: str) -> None:
            for n in range(per_path):
                await client.post(f"{url}{path}", content=body, headers={"webhook-id": f"raw-{n}"})

        began = time.monotonic()
        await asyncio.gather(*(stream(p) for p in paths))
        seconds = time.monotonic() - began
    total = per_path * len(paths)
    return {"deliveries": total, "seconds": round(seconds, 2), "deliveries_per_s": round(total / seconds, 1)}


async def subscribed(repository: MongoWebhookSubscriptions, box: SecretBox, base: str, paths: list[str]) -> None:
    now = datetime.now(UTC)
    for path in paths:
        secret = new_secret()
        await repository.add(
            Subscription(
                id=f"whk_bench{path.replace('/', '_')}",
                partner_id=PARTNER,
                url=base + path,
                event_types=("license.added",),
                instance_id=None,
                description="bench",
                status="active",
                paused_reason=None,
                consecutive_failures=0,
                secret_hint=secret_hint(secret),
                secrets=(SigningSecret(box.seal(secret)),),
                created_at=now,
                updated_at=now,
                created_by="usr-bench",
            )
        )


async def paced(
    producer: AIOKafkaProducer, prefix: str, receiver: Receiver, paths: list[str], rate: float, seconds: float
) -> dict[str, Any]:
    """Events at `rate` per second: each delivery's delay from Kafka's acknowledgement to its arrival."""
    receiver.first.clear()
    acked: dict[str, float] = {}
    sent: list[Any] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        tick = [event(len(sent) % INSTANCES)]
        sent += tick
        await produce(producer, prefix, tick, acked)
        await asyncio.sleep(1 / rate)
    await arrived(receiver, len(sent) * len(paths), within=120)
    delays = [
        (receiver.first[(path, str(e.id))] - acked[str(e.id)]) * 1000
        for e in sent
        for path in paths
        if (path, str(e.id)) in receiver.first and str(e.id) in acked
    ]
    return {
        "events_per_s": round(rate, 1),
        "events": len(sent),
        "deliveries": len(delays),
        "p50_ms": round(percentile(delays, 0.50), 1) if delays else None,
        "p99_ms": round(percentile(delays, 0.99), 1) if delays else None,
        "max_ms": round(max(delays), 1) if delays else None,
    }


async def webhooks(infra: BenchInfra, args: argparse.Namespace, memory: dict[str, float]) -> dict[str, Any]:
    platform = Platform(infra, f"bench-{uuid.uuid4().hex[:6]}.")
    await topics(platform)
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/{tail:.*}", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    base = f"http://127.0.0.1:{port}"
    key = Fernet.generate_key()
    paths = [f"/hook/{n}" for n in range(args.webhook_subscriptions)]
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url, serverSelectionTimeoutMS=5000)
    await subscribed(MongoWebhookSubscriptions(mongo[DATABASE]), SecretBox(key), base, paths)
    figures: dict[str, Any] = {"subscriptions": len(paths), "events": args.webhook_events}
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        with processes() as started:
            gateway = platform.service(
                "gateway",
                "wh",
                token_private_key_file=str(platform.key_file),
                mongo_database=DATABASE,
                consumer_group="bench-gateway-wh",
                webhook_consumer_group="bench-webhooks",
                webhook_secret_key=key.decode(),
                webhooks_allow_private="true",
                webhook_poll_seconds="0.2",
            )
            started.append(gateway)
            gateway.start()
            await gateway.wait_ready()
            # Burst.
            acked: dict[str, float] = {}
            burst = [event(n % INSTANCES) for n in range(args.webhook_events)]
            expected = len(burst) * len(paths)
            cpu = CpuMeter({"gateway": gateway})
            began = time.monotonic()
            await produce(producer, platform.prefix, burst, acked)
            complete = await arrived(receiver, expected, within=600)
            last = max(receiver.first.values()) if receiver.first else began
            seconds = last - began
            figures["burst"] = {
                "deliveries": len(receiver.first),
                "complete": complete,
                "seconds": round(seconds, 2),
                "deliveries_per_s": round(len(receiver.first) / seconds, 1) if seconds > 0 else 0,
                "requests": receiver.requests,
                "cores_used": cpu.cores(),
            }
            say(f"webhooks: burst {figures['burst']}")
            # Paced, for the delay after Kafka.
            rate = max(1.0, figures["burst"]["deliveries_per_s"] / len(paths) / 2)
            figures["paced"] = await paced(producer, platform.prefix, receiver, paths, rate, args.webhook_seconds)
            say(f"webhooks: paced {figures['paced']}")
            memory["gateway (webhooks)"] = max(memory.get("gateway (webhooks)", 0), gateway.sample_memory())
        figures["raw"] = await raw_floor(base, paths, max(1, args.webhook_events))
        burst_rate = figures["burst"]["deliveries_per_s"]
        figures["ratio_to_raw"] = round(burst_rate / figures["raw"]["deliveries_per_s"], 3)
    finally:
        await producer.stop()
        await mongo.drop_database(DATABASE)
        await mongo.close()
        await runner.cleanup()
    return figures
