"""Kafka: the broker jars Maven resolves from the pinned `kafka/pom.xml`, one KRaft node, and the
topics of the contracts' catalogue."""

from __future__ import annotations

import asyncio
import base64
import shutil
import string
import uuid
from pathlib import Path

from partnerapp_stack.config import CACHE, KAFKA_CONTROLLER_PORT, KAFKA_PORT, LOCAL
from partnerapp_stack.process import Managed, StepFailed, fingerprint, port_open, run_tool, say, wait_until

HEALTHCHECK_TOPIC = "_partnerapp.healthcheck"

KAFKA_DIR = CACHE / "kafka"
SOURCES = LOCAL / "kafka"  # the pinned pom.xml, the broker and logging configuration
POM = SOURCES / "pom.xml"
KAFKA = Managed("kafka", KAFKA_DIR / "kafka.pid", KAFKA_DIR / "kafka.log", "kafka.Kafka")


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


def broker_config(data_dir: Path) -> Path:
    template = string.Template((SOURCES / "server.properties.template").read_text())
    config = KAFKA_DIR / "server.properties"
    config.write_text(template.substitute(port=KAFKA_PORT, controller_port=KAFKA_CONTROLLER_PORT, data_dir=data_dir))
    return config


def java_command(libs: Path, main: str, *args: str) -> list[str]:
    return [
        "java", "-Xms256m", "-Xmx1g", "-XX:+UseG1GC", "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={SOURCES / 'log4j2.properties'}",
        "-cp", f"{libs}/*", main, *args,
    ]  # fmt: skip


def up() -> None:
    if KAFKA.pid() is None and port_open(KAFKA_PORT):
        say(f"kafka: something already listens on {KAFKA_PORT}; using it as is")
    elif KAFKA.pid() is None:
        jars = resolve_libs()
        data_dir = KAFKA_DIR / "data"
        config = broker_config(data_dir)
        if not (data_dir / "meta.properties").exists():
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            run_tool(
                "kafka: format storage (once)",
                java_command(
                    # `=` form: a generated id may start with "-" and must not parse as an option
                    jars,
                    "kafka.tools.StorageTool",
                    "format",
                    f"--cluster-id={cluster_id}",
                    f"--config={config}",
                ),
                cwd=KAFKA_DIR,
                log=KAFKA_DIR / "format.log",
            )
        KAFKA.start(java_command(jars, "kafka.Kafka", str(config)), cwd=KAFKA_DIR)
        say(f"kafka: started (pid {KAFKA.pid()}), waiting for 127.0.0.1:{KAFKA_PORT}")
        wait_until("kafka: broker listening", lambda: port_open(KAFKA_PORT), timeout=90, process=KAFKA)
    try:
        created = asyncio.run(asyncio.wait_for(_prepare_and_check(), 120))
    except Exception as exc:
        raise StepFailed("kafka: topics and round trip", f"{type(exc).__name__}: {exc}", KAFKA.log_file) from exc
    say(f"kafka: ready on 127.0.0.1:{KAFKA_PORT} ({created})")


async def _prepare_and_check() -> str:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    from contracts import all_topic_partitions
    from servicekit.topics import ensure_topics

    bootstrap = f"127.0.0.1:{KAFKA_PORT}"
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
