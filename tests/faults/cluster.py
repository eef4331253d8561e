"""A 3-broker Kafka cluster of the fault suite's own (as production runs Kafka: replication factor 3,
min.insync.replicas 2), beside the suite's FerretDB, and what its tests need to pick, kill, freeze
and watch its brokers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import time
from collections import Counter

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from partnerapp_stack import kafka
from partnerapp_stack.private import PrivateStack
from partnerapp_stack.process import Managed, port_open

from .harness import CACHE, POSTGRES_PORT, FaultInfra, say

CLUSTER_CACHE = CACHE / "cluster"
CLUSTER_KAFKA_PORT = int(os.environ.get("FAULTS_CLUSTER_KAFKA_PORT", "19192"))  # nodes on 19192, 19194, 19196
CLUSTER_CONTROLLER_PORT = int(os.environ.get("FAULTS_CLUSTER_CONTROLLER_PORT", "19193"))
BROKERS = 3


class ClusterInfra(PrivateStack):
    """Three KRaft nodes through the stack's CLI (`PARTNERAPP_KAFKA_BROKERS=3`, a cache of their
    own); the store is the fault suite's FerretDB."""

    def __init__(self, store: FaultInfra) -> None:
        super().__init__(
            CLUSTER_CACHE,
            kafka_port=CLUSTER_KAFKA_PORT,
            controller_port=CLUSTER_CONTROLLER_PORT,
            mongo_port=int(store.mongo_url.rsplit(":", 1)[1].strip("/")),
            postgres_port=POSTGRES_PORT,
            brokers=BROKERS,
            port_hint="set FAULTS_CLUSTER_*_PORT",
        )
        self.mongo_url = store.mongo_url
        nodes = self.cache / "kafka" / "cluster"
        self.nodes = {
            n: Managed(f"kafka-{n}", nodes / f"kafka-{n}.pid", nodes / f"kafka-{n}.log", "kafka.Kafka")
            for n in range(1, BROKERS + 1)
        }
        self.frozen: set[int] = set()

    def start(self) -> None:
        self.stack("down", "kafka")
        for port in self.ports[: 2 * BROKERS]:
            if port_open(port):
                raise RuntimeError(f"port {port} is taken by a process we did not start; {self.port_hint}")
        shutil.rmtree(self.cache / "kafka" / "cluster", ignore_errors=True)
        libs = kafka.libs_dir()  # the jars the main cache holds
        target = self.cache / "kafka" / libs.name
        if (libs / ".complete").exists() and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(libs, target_is_directory=True)
        self.stack("up", "kafka")

    def stop(self) -> None:
        """SIGKILL every node: their data is wiped at the next start, and a graceful stop of three
        nodes that hand their leaderships to each other takes half a minute."""
        for node in list(self.frozen):
            self.thaw(node)
        for node in self.nodes:
            if self.nodes[node].pid() is not None:
                self.kill(node)
        self.stack("down", "kafka")

    def up(self) -> None:
        """Start every node that is not running and wait until the cluster answers."""
        self.stack("up", "kafka")

    def kill(self, node: int) -> int:
        pid = self.nodes[node].pid()
        if pid is None:
            raise RuntimeError(f"kafka-{node} of the fault suite is not running")
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while self.nodes[node].pid() is not None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"kafka-{node} (pid {pid}) survived SIGKILL")
            time.sleep(0.05)
        return pid

    def freeze(self, node: int) -> int:
        """SIGSTOP: the process stays, its sockets stay open, it answers nothing."""
        pid = self.nodes[node].pid()
        if pid is None:
            raise RuntimeError(f"kafka-{node} of the fault suite is not running")
        os.kill(pid, signal.SIGSTOP)
        self.frozen.add(node)
        return pid

    def thaw(self, node: int) -> None:
        pid = self.nodes[node].pid()
        if pid is not None:
            os.kill(pid, signal.SIGCONT)
        self.frozen.discard(node)

    def bootstrap_without(self, *nodes: int) -> str:
        return ",".join(f"127.0.0.1:{port}" for n, port in enumerate(self.kafka_ports, 1) if n not in nodes)


async def partitions(bootstrap: str, topic: str) -> list[dict[str, object]]:
    """The topic's partitions as the cluster's metadata has them (leader, replicas, isr)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5_000)
    await admin.start()
    try:
        (description,) = await admin.describe_topics([topic])
        return list(description["partitions"])
    finally:
        await admin.close()


async def busiest_leader(infra: ClusterInfra, topic: str) -> int:
    """The broker leading the most records of the topic's busiest partitions: the one whose death
    costs producers and consumers the most."""
    described = await partitions(infra.kafka, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=infra.kafka, request_timeout_ms=5_000)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, int(str(p["partition"]))) for p in described])
    finally:
        await consumer.stop()
    load: Counter[int] = Counter()
    for p in described:
        load[int(str(p["leader"]))] += ends[TopicPartition(topic, int(str(p["partition"])))]
    leader, _ = load.most_common(1)[0]
    return leader


async def isr_members(infra: ClusterInfra, topic: str, *, without: int | None = None) -> list[set[int]]:
    """Each partition's in-sync replicas, asked of the brokers other than `without` (a frozen one
    answers nothing)."""
    bootstrap = infra.bootstrap_without(without) if without else infra.kafka
    described = await partitions(bootstrap, topic)
    return [{int(str(member)) for member in p["isr"]} for p in described]  # type: ignore[attr-defined]


async def wait_for_isr(
    infra: ClusterInfra, topic: str, node: int, *, present: bool, within: float, without: int | None = None
) -> float | None:
    """Seconds until `node` is in (present) or out of every partition's ISR, or None after `within`."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        with contextlib.suppress(Exception):  # metadata may be unavailable while leaders move
            members = await isr_members(infra, topic, without=without)
            if all((node in isr) == present for isr in members):
                return time.monotonic() - started
        await asyncio.sleep(0.5)
    say(f"cluster: kafka-{node} still {'out of' if present else 'in'} an ISR of {topic} after {within}s")
    return None
