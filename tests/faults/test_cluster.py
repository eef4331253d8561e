"""Faults on a 3-broker Kafka cluster, as production runs it (replication factor 3,
min.insync.replicas 2, producers with acks=all): a partition leader dies while producers and
consumers keep going, a broker stops answering without dying, two brokers are down at once.

Each row counts what was sent, acknowledged, stored, lost and duplicated, and how long the
service took to acknowledge again after the fault.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import pytest
from pymongo import AsyncMongoClient

from servicekit.metrics import consumer_lag as measure_lag
from servicekit.testing import KafkaProbe

from .cluster import ClusterInfra, busiest_leader, wait_for_isr
from .harness import FULL, SIZES, TELEMETRY, Results, Row, drop_database, free_port, processes, say, service_process
from .scenario import Ingest, assert_exactly_once, settle, steady, steady_ingest
from .test_outbox_crash import PARTNER, company_body, created_per_company
from .test_webhook_dispatcher_kill import close_rig, license_added, produce, webhook_rig

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.timeout(900 if FULL else 240)]

REJOIN_SECONDS = 120  # a restarted broker catches up and is back in every ISR within this
FREEZE_LIMIT = 40.0  # a frozen broker is out of the ISR within this (replica.lag.time.max.ms is 10 s)


class Restarts:
    """Leaders SIGKILLed during a test, each started again in the background while the test goes
    on (its load keeps running through the restart, as it would in production); the next kill,
    and the end of the block, wait until the restarted broker is back in every ISR of its topic."""

    def __init__(self, cluster: ClusterInfra) -> None:
        self.cluster = cluster
        self.pending: list[tuple[int, str, asyncio.Task[float | None]]] = []

    async def kill_leader(self, topic: str, what: str) -> tuple[float, float]:
        """SIGKILL the broker leading the topic's busiest partitions (three in sync first);
        returns the kill's monotonic and wall-clock times."""
        await self.rejoined()
        leader = await busiest_leader(self.cluster, topic)
        at, wall = time.monotonic(), time.time()
        pid = self.cluster.kill(leader)
        say(f"{what}: killed kafka-{leader} (pid {pid}), leader of {topic}'s busiest partitions")
        self.pending.append((leader, topic, asyncio.create_task(self._restart(leader, topic))))
        return at, wall

    async def _restart(self, node: int, topic: str) -> float | None:
        await asyncio.sleep(1.0)
        # The stack's `up` also checks a round trip through the cluster; the ISR is watched meanwhile.
        started = asyncio.create_task(asyncio.to_thread(self.cluster.up))
        back = await wait_for_isr(self.cluster, topic, node, present=True, within=REJOIN_SECONDS)
        await started
        return back

    async def rejoined(self) -> None:
        while self.pending:
            node, topic, restart = self.pending.pop()
            assert await restart is not None, f"kafka-{node} did not rejoin the ISR of {topic}"


@contextlib.asynccontextmanager
async def restarts(cluster: ClusterInfra) -> AsyncIterator[Restarts]:
    kills = Restarts(cluster)
    try:
        yield kills
    except BaseException:
        for _, _, restart in kills.pending:  # the next test needs every node running
            with contextlib.suppress(Exception):
                await restart
        raise
    await kills.rejoined()


def slowest(recoveries: list[float | None]) -> float | None:
    assert all(r is not None for r in recoveries), f"no acknowledgement after a fault: {recoveries}"
    return max((r for r in recoveries if r is not None), default=None)


async def test_leader_of_the_busiest_partitions_killed_during_ingest(
    cluster_infra: ClusterInfra, cluster_prefix: str, fault_keys: tuple[str, str], results: Results
) -> None:
    topic = cluster_prefix + TELEMETRY
    async with (
        steady_ingest(cluster_infra, cluster_prefix, fault_keys[1], "cluster-leader") as ingest,
        restarts(cluster_infra) as kills,
    ):
        await steady(ingest)
        faults = []
        for number in range(1, SIZES.leader_kills + 1):
            at, _ = await kills.kill_leader(topic, f"cluster leader {number}/{SIZES.leader_kills}")
            faults.append(at)
            await steady(ingest)
        await ingest.sender.finish()  # every batch acknowledged: each kill's recovery is known
        row = await settle(
            ingest,
            results,
            key="cluster-leader",
            fault="Cluster: leader of the busiest terminal.activity partitions SIGKILL + restart, during ingest",
            injected=SIZES.leader_kills,
            recovered=slowest([ingest.sender.recovered_after(at) for at in faults]),
        )
    assert_exactly_once(row)


async def test_a_frozen_broker_leaves_the_isr_and_comes_back(
    cluster_infra: ClusterInfra, cluster_prefix: str, fault_keys: tuple[str, str], results: Results
) -> None:
    topic = cluster_prefix + TELEMETRY
    async with steady_ingest(cluster_infra, cluster_prefix, fault_keys[1], "cluster-frozen") as ingest:
        await steady(ingest)
        node = await busiest_leader(cluster_infra, topic)
        at = time.monotonic()
        pid = cluster_infra.freeze(node)
        say(f"cluster frozen: SIGSTOP kafka-{node} (pid {pid}) for {SIZES.frozen_seconds}s")
        # Frozen for SIZES.frozen_seconds, or longer until it has left the ISR (at most FREEZE_LIMIT).
        left = await wait_for_isr(cluster_infra, topic, node, present=False, within=FREEZE_LIMIT, without=node)
        await asyncio.sleep(max(0.0, SIZES.frozen_seconds - (time.monotonic() - at)))
        cluster_infra.thaw(node)
        frozen_for = time.monotonic() - at
        back = await wait_for_isr(cluster_infra, topic, node, present=True, within=REJOIN_SECONDS)
        await steady(ingest)
        recovered = ingest.sender.recovered_after(at)
        row = await settle(
            ingest,
            results,
            key="cluster-frozen",
            fault=f"Cluster: the busiest leader SIGSTOPped {SIZES.frozen_seconds:.0f} s, then SIGCONT, during ingest",
            # (the notes say how long it really was: until it had left the ISR, if that took longer)
            injected=1,
            notes=(
                f"kafka-{node} out of every ISR {left:.1f} s after SIGSTOP, SIGCONT after {frozen_for:.1f} s, "
                f"back in every ISR {back:.1f} s after SIGCONT"
                if left is not None and back is not None
                else f"kafka-{node}: left the ISR {left}, back {back}"
            ),
            recovered=slowest([recovered]),
        )
    assert left is not None, "the frozen broker never left the in-sync replicas"
    assert back is not None, "the broker did not come back into the in-sync replicas"
    assert_exactly_once(row)


async def test_leader_killed_while_the_outbox_relay_publishes(
    cluster_infra: ClusterInfra,
    cluster_prefix: str,
    fault_keys: tuple[str, str],
    fault_token: Callable[[str], str],
    results: Results,
) -> None:
    """Companies are created (201: stored with their event in the outbox) all along; the relay
    publishes `company.created` while the leader of that topic's busiest partitions dies."""
    started = time.monotonic()
    tag = uuid.uuid4().hex[:6]
    database = f"faults_instances_{tag}"
    port = free_port()
    env = {
        "PARTNERAPP_KAFKA_BOOTSTRAP_SERVERS": cluster_infra.kafka,
        "PARTNERAPP_MONGO_URL": cluster_infra.mongo_url,
        "PARTNERAPP_TOPIC_PREFIX": cluster_prefix,
        "PARTNERAPP_AUTH_PUBLIC_KEY": fault_keys[1],
        "INSTANCES_MONGO_DATABASE": database,
        "INSTANCES_CONSUMER_GROUP": f"faults-instances-{tag}",
        "INSTANCES_HTTP_PORT": str(port),
    }
    headers = {"Authorization": f"Bearer {fault_token(PARTNER)}"}
    created: dict[str, float] = {}  # company id -> wall-clock time of its 201
    attempts = 0
    stop = asyncio.Event()

    async def write(client: httpx2.AsyncClient) -> None:
        nonlocal attempts
        while not stop.is_set():
            attempts += 1
            response = await client.post("/v1/companies", json=company_body(attempts))
            assert response.status_code == 201, response.text
            created[response.json()["id"]] = time.time()
            await asyncio.sleep(0.1)

    faults: list[float] = []
    try:
        with processes() as started_processes:
            instances = service_process("instances", env, port=port, tag=tag)
            started_processes.append(instances)
            instances.start()
            await instances.wait_ready()
            async with (
                httpx2.AsyncClient(base_url=instances.url, timeout=30, headers=headers) as client,
                restarts(cluster_infra) as kills,
            ):
                writer = asyncio.create_task(write(client))
                await asyncio.sleep(SIZES.steady_seconds)
                for number in range(1, SIZES.cluster_outbox_kills + 1):
                    _, wall = await kills.kill_leader(
                        cluster_prefix + "company.created", f"cluster outbox {number}/{SIZES.cluster_outbox_kills}"
                    )
                    faults.append(wall)
                    await asyncio.sleep(SIZES.steady_seconds)
                stop.set()
                await writer
                ours = set(created)
                mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(cluster_infra.mongo_url)
                try:
                    deadline = time.monotonic() + 180
                    while await mongo[database]["companies"].count_documents({"_outbox_pending": True}):
                        assert time.monotonic() < deadline, "the outbox relay did not catch up"
                        await asyncio.sleep(0.5)
                finally:
                    await mongo.close()
                # Everything the relay published (it has nothing pending, so it publishes no more):
                # a second copy would be there too.
                records = await KafkaProbe(cluster_infra.kafka, cluster_prefix).read_to_end("company.created")
            instances.stop()
        published_at = {json.loads(r.value)["data"]["company_id"]: r.timestamp / 1000 for r in records}
        seen = created_per_company(records, ours)
    finally:
        await drop_database(cluster_infra.mongo_url, database)
    # Recovery: from a kill to the publish of the first company created after it.
    recoveries: list[float | None] = []
    for wall in faults:
        after = [published_at[c] for c, at in created.items() if at >= wall and c in published_at]
        recoveries.append(min(after) - wall if after else None)
    row = Row(
        key="cluster-outbox",
        fault="Cluster: leader of company.created SIGKILL + restart while the instances outbox relay publishes",
        injected=SIZES.cluster_outbox_kills,
        sent=attempts,
        acknowledged=len(created),
        stored=len(seen),
        duplicated=sum(seen.values()) - len(seen),
        lag_zero=None,
        seconds=round(time.monotonic() - started, 1),
        notes="acknowledged = companies created (201); stored = their company.created on Kafka; "
        "recovered = from a kill to the publish of the first company created after it",
        recovered=None if None in recoveries else round(max(r for r in recoveries if r is not None), 1),
    )
    results.add(row)
    say(f"cluster outbox: {row}")
    assert row.lost == 0, f"events never published: {row}"
    assert row.duplicated == 0, f"events published twice: {row}"
    assert None not in recoveries, f"nothing created after a kill was published: {recoveries}"


async def test_leader_killed_while_the_gateway_consumers_run(
    cluster_infra: ClusterInfra, cluster_prefix: str, fault_keys: tuple[str, str], results: Results
) -> None:
    """license.added events are produced in batches; the gateway's webhook dispatcher delivers
    them (signed) to a receiver and its notification consumer reads them, while the leader of that
    topic's busiest partitions dies between batches."""
    started = time.monotonic()
    tag = uuid.uuid4().hex[:6]
    rig = await webhook_rig(cluster_infra, cluster_prefix, fault_keys[1], fault_keys[0], tag)
    topic = cluster_prefix + "license.added"
    batches = SIZES.cluster_webhook_kills + 1
    events = [license_added(f"inst-faults-{n % 6}") for n in range(20 * batches)]
    acked = 0
    faults: list[float] = []
    try:
        with processes() as started_processes:
            gateway = service_process("gateway", rig.env, port=free_port(), tag=tag)
            started_processes.append(gateway)
            gateway.start()
            await gateway.wait_ready()
            async with restarts(cluster_infra) as kills:
                # The batch after a kill is produced at once, while the killed leader restarts: the
                # recovery counts the leader's election, the producer's retries and the consumers'.
                for number in range(batches):
                    acked += await produce(cluster_infra.kafka, cluster_prefix, events[number * 20 : (number + 1) * 20])
                    if number < SIZES.cluster_webhook_kills:
                        _, wall = await kills.kill_leader(
                            topic, f"cluster webhooks {number + 1}/{SIZES.cluster_webhook_kills}"
                        )
                        faults.append(wall)
                deadline = time.monotonic() + 180
                while len(set(rig.receiver.received)) < acked and time.monotonic() < deadline:  # noqa: ASYNC110 - polls a count
                    await asyncio.sleep(0.5)
                await asyncio.sleep(3)  # a second delivery would have arrived by now
                lags = {
                    group: sum((await measure_lag(cluster_infra.kafka, group, [topic])).values())
                    for group in (rig.group, rig.env["GATEWAY_CONSUMER_GROUP"])
                }
            gateway.stop()
    finally:
        await close_rig(rig, cluster_infra)
    arrived = Counter(rig.receiver.received)
    produced = {str(e.id) for e in events}
    # Recovery: from a kill to the arrival of the first event produced after it.
    produced_after = [{str(e.id) for e in events[(n + 1) * 20 : (n + 2) * 20]} for n in range(len(faults))]
    recoveries = [
        min((rig.receiver.arrived_at[i] for i in ids if i in rig.receiver.arrived_at), default=wall) - wall
        for wall, ids in zip(faults, produced_after, strict=True)
    ]
    row = Row(
        key="cluster-webhooks",
        fault="Cluster: leader of license.added SIGKILL + restart while the gateway's webhook and notification "
        "consumers run",
        injected=SIZES.cluster_webhook_kills,
        sent=len(events),
        acknowledged=acked,
        stored=len(produced & set(arrived)),
        duplicated=sum(arrived.values()) - len(arrived),
        lag_zero=all(lag == 0 for lag in lags.values()),
        seconds=round(time.monotonic() - started, 1),
        notes=f"stored = webhooks received (signature verified); lag back to 0 = both gateway groups ({lags}); "
        "recovered = from a kill to the arrival of the first event produced after it",
        recovered=round(max(recoveries), 1) if recoveries else None,
    )
    results.add(row)
    say(f"cluster webhooks: {row}")
    assert rig.receiver.bad_signatures == 0
    assert row.lost == 0, f"events acknowledged by Kafka never delivered: {row}"
    assert row.duplicated == 0, f"webhooks delivered twice: {row}"
    assert row.lag_zero, f"a gateway consumer group did not catch up: {lags}"


def answered_inside(ingest: Ingest, start: float, end: float, status: str) -> int:
    return sum(1 for sent, answered, s in ingest.sender.answers if s == status and sent >= start and answered <= end)


async def test_two_brokers_down_refuses_ingest_and_recovers_with_one_back(
    cluster_infra: ClusterInfra, cluster_prefix: str, fault_keys: tuple[str, str], results: Results
) -> None:
    """With one broker of three, a write cannot reach min.insync.replicas (2): ingest must answer
    503 and acknowledge nothing; with one back it must acknowledge again, losing nothing."""
    topic = cluster_prefix + TELEMETRY
    async with steady_ingest(
        cluster_infra,
        cluster_prefix,
        fault_keys[1],
        "cluster-two-down",
        PARTNERAPP_KAFKA_REQUEST_TIMEOUT_MS=str(SIZES.two_down_request_timeout_ms),
    ) as ingest:
        await steady(ingest)
        first = await busiest_leader(cluster_infra, topic)
        second = next(n for n in cluster_infra.nodes if n != first)
        down_at = time.monotonic()
        for node in (first, second):
            cluster_infra.kill(node)
        say(f"cluster two down: killed kafka-{first} and kafka-{second} for {SIZES.two_down_seconds}s")
        await asyncio.sleep(SIZES.two_down_seconds)
        back_at = time.monotonic()
        # (the stack's `up` waits for a round trip through the cluster; ingest is watched meanwhile)
        started = asyncio.create_task(asyncio.to_thread(cluster_infra.stack, "up", f"kafka-{first}"))
        say(f"cluster two down: starting kafka-{first}; waiting for ingest to acknowledge again")
        while ingest.sender.recovered_after(back_at) is None and time.monotonic() - back_at < REJOIN_SECONDS:  # noqa: ASYNC110 - polls the sender
            await asyncio.sleep(0.2)
        await steady(ingest)
        await started
        recovered = ingest.sender.recovered_after(back_at)  # (the next test's fixture starts the third)
        acked_while_down = answered_inside(ingest, down_at + 1, back_at, "202")
        refused_while_down = answered_inside(ingest, down_at, back_at + 60, "503")
        sample = ingest.sender.samples.get("503", "")
        row = await settle(
            ingest,
            results,
            key="cluster-two-down",
            fault=f"Cluster: two brokers of three SIGKILLed for {SIZES.two_down_seconds:.0f} s, then one back",
            injected=1,
            notes=f"while down: {refused_while_down} requests refused with 503, {acked_while_down} acknowledged; "
            "recovered = from the first broker's start to the next acknowledgement",
            recovered=slowest([recovered]),
        )
    assert acked_while_down == 0, "a write was acknowledged while min.insync.replicas could not be met"
    assert refused_while_down > 0, f"ingest never answered 503 while two brokers were down: {ingest.sender.outcomes}"
    assert sample.startswith("application/problem+json"), sample
    assert_exactly_once(row)
