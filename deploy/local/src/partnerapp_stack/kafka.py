"""Kafka: the broker jars Maven resolves from the pinned `kafka/pom.xml`, one KRaft node (or a
cluster of three, `PARTNERAPP_KAFKA_BROKERS=3`), and the topics of the contracts' catalogue."""

from __future__ import annotations

import asyncio
import base64
import functools
import shutil
import string
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from partnerapp_stack.config import (
    CACHE,
    KAFKA_BOOTSTRAP,
    KAFKA_BROKERS,
    KAFKA_CONTROLLER_PORT,
    KAFKA_HEAP_MB,
    KAFKA_NODE_PORTS,
    KAFKA_PORT,
    LOCAL,
)
from partnerapp_stack.process import Managed, StepFailed, fingerprint, port_open, run_tool, say, wait_until

HEALTHCHECK_TOPIC = "_partnerapp.healthcheck"

KAFKA_DIR = CACHE / "kafka"
CLUSTER_DIR = KAFKA_DIR / "cluster"  # the three nodes' data, configuration, logs and PID files
SOURCES = LOCAL / "kafka"  # the pinned pom.xml, the broker and logging configuration
POM = SOURCES / "pom.xml"
KAFKA = Managed("kafka", KAFKA_DIR / "kafka.pid", KAFKA_DIR / "kafka.log", "kafka.Kafka")
CLUSTER_SIZE = 3


def cluster_process(number: int) -> Managed:
    return Managed(
        f"kafka-{number}", CLUSTER_DIR / f"kafka-{number}.pid", CLUSTER_DIR / f"kafka-{number}.log", "kafka.Kafka"
    )


@dataclass(frozen=True)
class Node:
    """One KRaft node (controller and broker in one process)."""

    number: int  # its node.id
    port: int
    controller_port: int
    process: Managed
    data_dir: Path
    config: Path


def nodes() -> tuple[Node, ...]:
    """The nodes `PARTNERAPP_KAFKA_BROKERS` asks for (the single node keeps its paths of before)."""
    if KAFKA_BROKERS == 1:
        return (Node(1, KAFKA_PORT, KAFKA_CONTROLLER_PORT, KAFKA, KAFKA_DIR / "data", KAFKA_DIR / "server.properties"),)
    return tuple(
        Node(
            number,
            port,
            controller_port,
            cluster_process(number),
            CLUSTER_DIR / f"node-{number}",
            CLUSTER_DIR / f"server-{number}.properties",
        )
        for number, (port, controller_port) in enumerate(KAFKA_NODE_PORTS, start=1)
    )


NODES = nodes()
EVERY_PROCESS = (KAFKA, *(cluster_process(number) for number in range(1, CLUSTER_SIZE + 1)))
"""What `down` stops, whichever size is asked for now (stopping one that is not running is a no-op)."""


def libs_dir() -> Path:
    """Where the broker jars of the pinned pom.xml are (or will be) resolved to."""
    return KAFKA_DIR / f"libs-{fingerprint(POM)}"


def resolve_libs() -> Path:
    """The broker jars, resolved with Maven the first time."""
    libs = libs_dir()
    if (libs / ".complete").exists():
        return libs
    if shutil.which("mvn") is None or shutil.which("java") is None:
        raise StepFailed("kafka: resolve jars", "Maven (mvn) and Java 17 are required on PATH")
    staging = libs.with_name(libs.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    run_tool(
        "kafka: resolve broker jars with Maven",
        [
            "mvn",
            "-B",
            "-q",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={staging}",
        ],
        cwd=SOURCES,
        log=KAFKA_DIR / "maven.log",
    )
    (staging / ".complete").write_text("ok\n")
    shutil.rmtree(libs, ignore_errors=True)
    staging.rename(libs)
    return libs


def broker_config(node: Node) -> Path:
    """The node's server.properties: a single node keeps one copy of everything; a cluster keeps
    three, and a record is acknowledged once two of them have it (as production's Strimzi cluster)."""
    template = string.Template((SOURCES / "server.properties.template").read_text())
    replication = min(len(NODES), CLUSTER_SIZE)
    node.config.parent.mkdir(parents=True, exist_ok=True)
    node.config.write_text(
        template.substitute(
            node_id=node.number,
            port=node.port,
            controller_port=node.controller_port,
            voters=",".join(f"{other.number}@127.0.0.1:{other.controller_port}" for other in NODES),
            data_dir=node.data_dir,
            replication=replication,
            min_isr=min(replication, 2),
        )
    )
    return node.config


def java_command(libs: Path, main: str, *args: str, heap: tuple[str, ...] = ("-Xmx256m",)) -> list[str]:
    return [
        "java", *heap, "-XX:+UseG1GC", "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={SOURCES / 'log4j2.properties'}",
        "-cp", f"{libs}/*", main, *args,
    ]  # fmt: skip


# A broker's heap: fixed and touched at start. Grown by G1 on demand from -Xms, it showed as resident
# memory still creeping after the soak's warm-up (+5.4 % in 25 minutes) though nothing leaked.
BROKER_HEAP = (f"-Xms{KAFKA_HEAP_MB}m", f"-Xmx{KAFKA_HEAP_MB}m", "-XX:+AlwaysPreTouch")


def _format(jars: Path, node: Node, identity: str) -> None:
    run_tool(
        f"{node.process.name}: format storage (once)",
        # `=` form: a generated id may start with "-" and must not parse as an option
        java_command(
            jars, "kafka.tools.StorageTool", "format", f"--cluster-id={identity}", f"--config={broker_config(node)}"
        ),
        cwd=KAFKA_DIR,
        log=node.process.log_file.with_name(f"format-{node.number}.log"),
    )


def cluster_id() -> str:
    """A new id for a single node; one id, kept beside the nodes, for every node of a cluster."""
    fresh = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if len(NODES) == 1:
        return fresh
    kept = CLUSTER_DIR / "cluster-id"
    if not kept.exists():
        CLUSTER_DIR.mkdir(parents=True, exist_ok=True)
        kept.write_text(fresh)
    return kept.read_text().strip()


def up(only: int | None = None) -> None:
    """Start every node that is not running (all of them, or one that was killed; or just node
    `only`), then wait until each listens, the catalogue's topics exist and a record makes the
    round trip."""
    missing: list[Node] = []
    for node in NODES:
        if only is not None and node.number != only:
            continue
        if node.process.pid() is None and port_open(node.port):
            say(f"{node.process.name}: something already listens on {node.port}; using it as is")
        elif node.process.pid() is None:
            missing.append(node)
    if missing:
        jars = resolve_libs()
        identity = cluster_id()
        unformatted = [node for node in missing if not (node.data_dir / "meta.properties").exists()]
        with ThreadPoolExecutor() as pool:  # each format is a JVM of its own: side by side
            for future in [pool.submit(_format, jars, node, identity) for node in unformatted]:
                future.result()
        for node in missing:
            broker = java_command(jars, "kafka.Kafka", str(broker_config(node)), heap=BROKER_HEAP)
            node.process.start(broker, cwd=KAFKA_DIR)
            say(f"{node.process.name}: started (pid {node.process.pid()}), waiting for 127.0.0.1:{node.port}")
    # A cluster's broker listens only once its controllers have a quorum: start them all, then wait.
    for node in missing:
        wait_until(
            f"{node.process.name}: broker listening",
            functools.partial(port_open, node.port),
            timeout=120,
            process=node.process,
        )
    try:
        created = asyncio.run(asyncio.wait_for(_prepare_and_check(), 120))
    except Exception as exc:
        raise StepFailed(
            "kafka: topics and round trip", f"{type(exc).__name__}: {exc}", NODES[0].process.log_file
        ) from exc
    say(f"kafka: ready on {KAFKA_BOOTSTRAP} ({created})")


async def _prepare_and_check() -> str:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    from contracts import all_topic_partitions
    from servicekit.topics import ensure_topics

    bootstrap = KAFKA_BOOTSTRAP
    for attempt in range(60):  # the controller may still be electing itself
        try:
            created, grown = await ensure_topics(bootstrap, {**all_topic_partitions(), HEALTHCHECK_TOPIC: 1})
            break
        except Exception:
            if attempt == 59:
                raise
            await asyncio.sleep(1)

    token = uuid.uuid4().hex.encode()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(HEALTHCHECK_TOPIC, token)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        HEALTHCHECK_TOPIC,
        bootstrap_servers=bootstrap,
        group_id="partnerapp-stack-check",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=1000)
            if any(record.value == token for records in batches.values() for record in records):
                await consumer.commit()
                break
    finally:
        await consumer.stop()
    return f"{created} topics created, {grown} grown, produce/consume/commit round trip ok"
