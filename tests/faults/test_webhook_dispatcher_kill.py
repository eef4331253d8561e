"""The webhook dispatcher (a gateway process) SIGKILLed mid-delivery, again and again (#19):
no event acknowledged by Kafka is lost, and what arrives twice arrives with the same
`webhook-id`, so the receiver can deduplicate it; each aggregate's events still arrive in order.

The receiver answers slowly enough that each kill lands while a request is in flight; the
dying process's claimed delivery is taken again once its lease expires. The Kafka side is killed
mid-batch too: its offsets were not committed, the batch comes again, and the deliveries it makes
are stored once each (their id is derived from the event's).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiokafka import AIOKafkaProducer
from cryptography.fernet import Fernet
from pymongo import AsyncMongoClient
from standardwebhooks import Webhook

from contracts import KAFKA_HEADERS, envelope_for
from contracts.events.common import Actor
from contracts.events.licenses import LicenseAdded
from gateway.adapters.webhooks import DELIVERIES, MongoWebhookSubscriptions, SecretBox
from gateway.domain.webhooks import SigningSecret, Subscription, new_secret, secret_hint
from partnerapp_stack.private import PrivateStack

from .harness import (
    FULL,
    SIZES,
    FaultInfra,
    Results,
    Row,
    consumer_lag,
    drop_database,
    free_port,
    processes,
    say,
    service_process,
)

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.timeout(900 if FULL else 300)]

PARTNER = "ptn-faults"
AGGREGATES = 6  # instances: each one's events must arrive in order


@dataclass
class Receiver:
    secret: str
    received: list[str] = field(default_factory=list)
    """webhook-id of every request answered or not, in arrival order"""
    arrived_at: dict[str, float] = field(default_factory=dict)
    """wall-clock time each webhook-id first arrived"""
    in_flight: int = 0
    bad_signatures: int = 0
    rng: random.Random = field(default_factory=lambda: random.Random(5))  # noqa: S311 (timing jitter)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            event = Webhook(self.secret).verify(body, dict(request.headers))
        except Exception:
            self.bad_signatures += 1
            return web.Response(status=400)
        self.received.append(str(event["id"]))
        self.arrived_at.setdefault(str(event["id"]), time.time())
        self.in_flight += 1
        try:
            await asyncio.sleep(self.rng.uniform(0.03, 0.12))
        finally:
            self.in_flight -= 1
        return web.Response(status=204)


async def produce(bootstrap: str, prefix: str, events: list[Any]) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(
                prefix + event.type, event.to_json_bytes(), key=event.subject.encode(), headers=list(KAFKA_HEADERS)
            )
    finally:
        await producer.stop()
    return len(events)


def license_added(instance_id: str) -> Any:
    return envelope_for(
        LicenseAdded(
            license_id=f"lic-{uuid.uuid4().hex[:10]}",
            instance_id=instance_id,
            partner_id=PARTNER,
            company_id="cmp-faults",
            user_name="Ana",
            email="ana@example.com",
            pin="4821",
            added_by=Actor(user_id="usr-faults", role="partner"),
        ),
        source="instances",
    )


async def mid_delivery(receiver: Receiver, *, within: float = 60) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if receiver.in_flight > 0:
            return True
        await asyncio.sleep(0.005)
    return False


@dataclass
class WebhookRig:
    """A receiver on a port of its own, subscribed (in the gateway's database) to license.added,
    and the environment of a gateway process that delivers to it."""

    receiver: Receiver
    runner: web.AppRunner
    mongo: AsyncMongoClient[dict[str, Any]]
    database: str
    group: str
    env: dict[str, str]


async def webhook_rig(infra: PrivateStack, prefix: str, public_key: str, private_key: str, tag: str) -> WebhookRig:
    database = f"faults_gateway_{tag}"
    group = f"faults-webhooks-{tag}"
    key = Fernet.generate_key()
    secret = new_secret()
    receiver = Receiver(secret)
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url, serverSelectionTimeoutMS=5000)
    now = datetime.now(UTC)
    await MongoWebhookSubscriptions(mongo[database]).add(
        Subscription(
            id=f"whk_faults_{tag}",
            partner_id=PARTNER,
            url=f"http://127.0.0.1:{port}/hook",
            event_types=("license.added",),
            instance_id=None,
            description="fault suite",
            status="active",
            paused_reason=None,
            consecutive_failures=0,
            secret_hint=secret_hint(secret),
            secrets=(SigningSecret(SecretBox(key).seal(secret)),),
            created_at=now,
            updated_at=now,
            created_by="usr-faults",
        )
    )
    env = {
        "PARTNERAPP_KAFKA_BOOTSTRAP_SERVERS": infra.kafka,
        "PARTNERAPP_MONGO_URL": infra.mongo_url,
        "PARTNERAPP_TOPIC_PREFIX": prefix,
        "PARTNERAPP_AUTH_PUBLIC_KEY": public_key,
        "GATEWAY_TOKEN_PRIVATE_KEY": private_key,
        "GATEWAY_MONGO_DATABASE": database,
        "GATEWAY_CONSUMER_GROUP": f"faults-gateway-{tag}",
        "GATEWAY_WEBHOOK_CONSUMER_GROUP": group,
        "GATEWAY_WEBHOOK_SECRET_KEY": key.decode(),
        "GATEWAY_WEBHOOKS_ALLOW_PRIVATE": "true",
        "GATEWAY_WEBHOOK_LEASE_SECONDS": "2",
        "GATEWAY_WEBHOOK_TIMEOUT_SECONDS": "2",
        "GATEWAY_WEBHOOK_POLL_SECONDS": "0.2",
        "GATEWAY_WEBHOOK_RETRY_SCHEDULE_SECONDS": "[0.5, 1, 1, 2, 2, 5, 5, 10, 10, 20]",
    }
    return WebhookRig(receiver, runner, mongo, database, group, env)


async def close_rig(rig: WebhookRig, infra: PrivateStack) -> None:
    await rig.mongo.close()
    await rig.runner.cleanup()
    await drop_database(infra.mongo_url, rig.database)


async def test_dispatcher_sigkill_mid_delivery(
    fault_infra: FaultInfra, fault_prefix: str, fault_keys: tuple[str, str], results: Results
) -> None:
    started = time.monotonic()
    tag = uuid.uuid4().hex[:6]
    rig = await webhook_rig(fault_infra, fault_prefix, fault_keys[1], fault_keys[0], tag)
    receiver, mongo, database, group, env = rig.receiver, rig.mongo, rig.database, rig.group, rig.env
    instances = [f"inst-faults-{n}" for n in range(AGGREGATES)]
    events = [license_added(instances[n % AGGREGATES]) for n in range(SIZES.webhook_events)]
    acked = 0
    kills_mid_delivery = 0
    lag = -1
    try:
        with processes() as started_processes:
            gateway = service_process("gateway", env, port=free_port(), tag=tag)
            started_processes.append(gateway)
            gateway.start()
            await gateway.wait_ready()
            size = -(-len(events) // SIZES.webhook_kills)
            batches = [events[i : i + size] for i in range(0, len(events), size)]
            for number, batch in enumerate(batches, start=1):
                acked += await produce(fault_infra.kafka, fault_prefix, batch)
                kills_mid_delivery += await mid_delivery(receiver)
                gateway.kill()
                say(f"webhooks: kill {number}/{SIZES.webhook_kills} with {receiver.in_flight} in flight; "
                    f"received {len(set(receiver.received))}/{acked}")  # fmt: skip
                gateway.start()
                await gateway.wait_ready()
            deadline = time.monotonic() + 180
            while len(set(receiver.received)) < acked and time.monotonic() < deadline:  # noqa: ASYNC110 - polls a count
                await asyncio.sleep(0.5)
            await asyncio.sleep(3)  # a lease left by the last kill would show up as a duplicate by now
            lag = await consumer_lag(fault_infra.kafka, group, fault_prefix + "license.added")
            stored_deliveries = await mongo[database][DELIVERIES].count_documents({})
            outcomes = Counter([d["outcome"] async for d in mongo[database][DELIVERIES].find({})])
            gateway.stop()
    finally:
        await close_rig(rig, fault_infra)
    arrived = Counter(receiver.received)
    produced = [str(e.id) for e in events]
    first_seen = {event_id: n for n, event_id in reversed(list(enumerate(receiver.received)))}
    out_of_order = 0
    for instance_id in instances:
        ours = [str(e.id) for e in events if e.subject == instance_id and str(e.id) in first_seen]
        out_of_order += ours != sorted(ours, key=lambda i: first_seen[i])
    row = Row(
        key="webhooks",
        fault="Webhook dispatcher SIGKILL mid-delivery",
        injected=SIZES.webhook_kills,
        sent=len(events),
        acknowledged=acked,
        stored=len(set(produced) & set(arrived)),
        duplicated=sum(arrived.values()) - len(arrived),
        lag_zero=lag == 0,
        seconds=round(time.monotonic() - started, 1),
        notes=(
            f"{kills_mid_delivery} of {SIZES.webhook_kills} kills with a request in flight; stored = events received "
            f"(signature verified); duplicated = received again with the same webhook-id; {stored_deliveries} "
            f"deliveries stored for {acked} events ({dict(outcomes)}); aggregates out of order: {out_of_order}"
        ),
    )
    results.add(row)
    say(f"webhooks: {row}")
    assert row.lost == 0, f"events acknowledged by Kafka never delivered: {row.lost}"
    assert receiver.bad_signatures == 0
    assert stored_deliveries == acked, "one delivery per event, however often Kafka redelivered it"
    assert outcomes == Counter({"succeeded": acked})
    assert out_of_order == 0, "each aggregate's events arrived in order"
    assert kills_mid_delivery == SIZES.webhook_kills, "some kills did not hit a delivery in flight"
    assert lag == 0
