"""What the fault suite needs: infrastructure of its own, service processes it may SIGKILL, a
terminal-like telemetry sender that remembers every acknowledged event id, and the counts.

The suite never touches the shared Kafka (9092/9093) and FerretDB (27017) the other tests use:
it starts its own with `partnerapp_stack` on other ports, with its own cache directory
(`.cache/faults/`), and only ever kills processes whose PID files that directory holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition
from pymongo import AsyncMongoClient

from partnerapp_stack import private
from partnerapp_stack.config import STORE_BACKEND
from partnerapp_stack.private import PrivateStack, ServiceProcess, free_port, log_tail, processes
from partnerapp_stack.process import Managed
from servicekit.metrics import consumer_lag as measure_lag

ROOT = Path(__file__).resolve().parents[2]

__all__ = ["ServiceProcess", "free_port", "log_tail", "processes"]  # used by the tests through this module

FULL = os.environ.get("FAULTS_FULL", "") == "1"
CACHE = Path(os.environ.get("FAULTS_CACHE_DIR", ROOT / ".cache" / "faults")).resolve()
KAFKA_PORT = int(os.environ.get("FAULTS_KAFKA_PORT", "19092"))
KAFKA_CONTROLLER_PORT = int(os.environ.get("FAULTS_KAFKA_CONTROLLER_PORT", "19093"))
MONGO_PORT = int(os.environ.get("FAULTS_MONGO_PORT", "27018"))
POSTGRES_PORT = int(os.environ.get("FAULTS_POSTGRES_PORT", "55438"))  # not with PARTNERAPP_STORE_BACKEND=sqlite
TELEMETRY = "terminal.activity"


@dataclass(frozen=True)
class Sizes:
    """How hard each fault is exercised: the issue's counts with FAULTS_FULL=1, a short run by default."""

    broker_kills: int
    consumer_kills: int
    ferretdb_outages: int
    outbox_crashes: int
    outbox_writes_per_crash: int
    rate: float  # telemetry events per second the sender aims at
    steady_seconds: float  # ingest between two faults
    ferretdb_down_seconds: float
    webhook_kills: int = 3
    webhook_events: int = 60
    # on the 3-broker cluster (test_cluster.py)
    leader_kills: int = 1
    frozen_seconds: float = 12  # more than replica.lag.time.max.ms (10 s): the frozen broker leaves the ISR
    cluster_outbox_kills: int = 1
    cluster_webhook_kills: int = 1
    # Two brokers down: ingest's produce waits this long for the cluster, then answers 503 (the
    # setting PARTNERAPP_KAFKA_REQUEST_TIMEOUT_MS; 15 s by default), and they stay down for longer.
    two_down_request_timeout_ms: int = 5_000
    two_down_seconds: float = 8


SIZES = (
    Sizes(
        broker_kills=5,
        consumer_kills=20,
        ferretdb_outages=3,
        outbox_crashes=5,
        outbox_writes_per_crash=10,
        rate=400,
        steady_seconds=8,
        ferretdb_down_seconds=10,
        webhook_kills=10,
        webhook_events=300,
        leader_kills=5,
        frozen_seconds=30,
        cluster_outbox_kills=3,
        cluster_webhook_kills=3,
        two_down_request_timeout_ms=15_000,
        two_down_seconds=30,
    )
    if FULL
    else Sizes(
        broker_kills=1,
        consumer_kills=3,
        ferretdb_outages=1,
        outbox_crashes=1,
        outbox_writes_per_crash=5,
        rate=300,
        steady_seconds=4,
        ferretdb_down_seconds=8,
    )
)


def say(message: str) -> None:
    sys.stderr.write(f"[faults {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------- infrastructure


class FaultInfra(PrivateStack):
    """Kafka and FerretDB of the suite's own, which it may kill and start again."""

    def __init__(self) -> None:
        super().__init__(
            CACHE,
            kafka_port=KAFKA_PORT,
            controller_port=KAFKA_CONTROLLER_PORT,
            mongo_port=MONGO_PORT,
            postgres_port=POSTGRES_PORT,
            store=STORE_BACKEND,  # the local stack's: PostgreSQL unless PARTNERAPP_STORE_BACKEND=sqlite
            port_hint="set FAULTS_*_PORT",
        )
        # The same PID files the stack writes under the suite's cache directory (with its command
        # line check, so a reused PID is never taken for ours).
        self.processes = {
            "kafka": Managed("kafka", CACHE / "kafka" / "kafka.pid", CACHE / "kafka" / "kafka.log", "kafka.Kafka"),
            "ferretdb": Managed(
                "ferretdb", CACHE / "ferretdb" / "ferretdb.pid", CACHE / "ferretdb" / "ferretdb.log", "ferretdb"
            ),
        }

    def up(self, component: str) -> None:
        self.stack("up", component)

    def pid(self, component: str) -> int | None:
        return self.processes[component].pid()

    def kill(self, component: str) -> int:
        """SIGKILL the component (by its PID file) and wait until it is gone."""
        pid = self.pid(component)
        if pid is None:
            raise RuntimeError(f"{component} of the fault suite is not running")
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while self.pid(component) is not None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{component} (pid {pid}) survived SIGKILL")
            time.sleep(0.05)
        return pid


# --------------------------------------------------------------------------- service processes


def service_process(module: str, env: dict[str, str], *, port: int, tag: str) -> ServiceProcess:
    """A service process of the suite, logging under its cache directory."""
    return ServiceProcess(module, env, port=port, log=CACHE / "run" / f"{module}-{tag}.log")


def activity_process(
    infra: PrivateStack, prefix: str, public_key: str, tag: str, **settings: str
) -> tuple[ServiceProcess, str]:
    """An activity service of its own: database, consumer group and port; returns it and its database."""
    database = f"faults_activity_{tag}"
    port = free_port()
    env = {
        "PARTNERAPP_KAFKA_BOOTSTRAP_SERVERS": infra.kafka,
        "PARTNERAPP_MONGO_URL": infra.mongo_url,
        "PARTNERAPP_TOPIC_PREFIX": prefix,
        "PARTNERAPP_AUTH_PUBLIC_KEY": public_key,
        "ACTIVITY_MONGO_DATABASE": database,
        "ACTIVITY_CONSUMER_GROUP": f"faults-activity-{tag}",
        "ACTIVITY_HTTP_PORT": str(port),
        "ACTIVITY_INSTANCES_URL": "http://127.0.0.1:9",
        **settings,
    }
    return service_process("activity", env, port=port, tag=tag), database


# --------------------------------------------------------------------------- ingest keys


async def issue_ingest_key(infra: PrivateStack, prefix: str, database: str, partner_id: str) -> tuple[str, str]:
    """An instance and its ingest key, known to the activity service using `database`."""
    return await private.issue_ingest_key(infra.kafka, prefix, infra.mongo_url, database, partner_id)


# --------------------------------------------------------------------------- the sender


@dataclass
class Sender:
    """Terminals sending telemetry through the real ingest endpoint.

    Every event id answered with 202 is remembered; a batch that is not acknowledged (an error
    status, a refused connection, a timeout) is sent again with the same event ids, as a
    terminal does, until it is acknowledged.
    """

    url: str
    key: str
    rate: float
    batch: int = 50
    workers: int = 4
    terminals: int = 60
    sent: int = 0
    acked: set[str] = field(default_factory=set)
    outcomes: Counter[str] = field(default_factory=Counter)
    samples: dict[str, str] = field(default_factory=dict)
    """One response per non-202 status: content type and body."""
    answers: list[tuple[float, float, str]] = field(default_factory=list)
    """(sent at, answered at, status or error name) of every request, on the monotonic clock."""
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    give_up: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._worker(n)) for n in range(self.workers)]

    async def finish(self, within: float = 180) -> None:
        """Stop making new batches; wait until every batch made so far is acknowledged."""
        self.stop.set()
        done, pending = await asyncio.wait(self._tasks, timeout=within)
        if pending:
            self.give_up.set()
            await asyncio.wait(pending, timeout=60)
        for task in done:
            task.result()

    def recovered_after(self, fault_at: float) -> float | None:
        """Seconds from a fault to the first acknowledgement of a request sent after it."""
        acks = [answered for sent, answered, status in self.answers if status == "202" and sent >= fault_at]
        return min(acks) - fault_at if acks else None

    @property
    def non_acknowledged_statuses(self) -> dict[str, int]:
        return {k: v for k, v in self.outcomes.items() if k != "202"}

    async def _worker(self, number: int) -> None:
        rng = random.Random(number)  # noqa: S311  (simulated data)
        interval = self.batch * self.workers / self.rate
        async with httpx2.AsyncClient(base_url=self.url, timeout=httpx2.Timeout(60, connect=5)) as client:
            next_at = asyncio.get_running_loop().time()
            while not self.stop.is_set():
                events = [self._event(rng) for _ in range(self.batch)]
                self.sent += len(events)
                await self._deliver(client, events)
                next_at += interval
                delay = next_at - asyncio.get_running_loop().time()
                if delay > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.stop.wait(), delay)
                else:
                    next_at = asyncio.get_running_loop().time()

    async def _deliver(self, client: httpx2.AsyncClient, events: list[dict[str, Any]]) -> None:
        backoff = 0.2
        while not self.give_up.is_set():
            sent_at = time.monotonic()
            try:
                response = await client.post(
                    "/v1/ingest/events", json={"events": events}, headers={"X-Ingest-Key": self.key}
                )
            except httpx2.HTTPError as exc:
                self.outcomes[type(exc).__name__] += 1
                self.answers.append((sent_at, time.monotonic(), type(exc).__name__))
            else:
                self.outcomes[str(response.status_code)] += 1
                self.answers.append((sent_at, time.monotonic(), str(response.status_code)))
                if response.status_code == 202:
                    self.acked.update(e["event_id"] for e in events)
                    return
                self.samples.setdefault(
                    str(response.status_code), f"{response.headers.get('content-type')} {response.text[:300]}"
                )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    def _event(self, rng: random.Random) -> dict[str, Any]:
        serial = f"FLT{rng.randrange(self.terminals):04d}"
        return {
            "event_id": str(uuid.uuid4()),
            "serial": serial,
            "pin": f"{1000 + int(serial[3:])}",
            "action": rng.choice(["gps_fix", "task_started", "task_completed", "sync"]),
            "occurred_at": datetime.now(UTC).isoformat(),
            "battery_pct": rng.randrange(5, 100),
        }


# --------------------------------------------------------------------------- counting


@dataclass(frozen=True)
class Stored:
    stored: int
    """acknowledged event ids found in the store"""
    duplicated: int
    """documents beyond one per event id"""
    unacknowledged: int
    """stored events whose batch was never answered 202 (Kafka had them; the answer was lost)"""


async def count_stored(mongo_url: str, database: str, acked: set[str]) -> Stored:
    """Telemetry lives in day/shard collections `records_YYYYMMDD_SS`; each record keeps the
    terminal's event id in `terminal_event_id` (`_id` derives from it and the instance)."""
    ids: Counter[str] = Counter()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, serverSelectionTimeoutMS=10_000)
    try:
        db = client[database]
        for name in await db.list_collection_names():
            if name.startswith("records_"):
                async for document in db[name].find({}, {"_id": 1, "terminal_event_id": 1}):
                    ids[str(document.get("terminal_event_id") or document["_id"])] += 1
    finally:
        await client.close()
    return Stored(
        stored=len(acked & ids.keys()),
        duplicated=sum(n - 1 for n in ids.values()),
        unacknowledged=len(ids.keys() - acked),
    )


async def group_position(bootstrap: str, group: str, topic: str) -> tuple[int, int]:
    """The group's committed offsets and the end offsets, each summed over the topic's partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    offsets = AIOKafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        await offsets.start()
        try:
            (description,) = await admin.describe_topics([topic])
            partitions = [TopicPartition(topic, p["partition"]) for p in description["partitions"]]
            committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
            ends = await offsets.end_offsets(partitions)
        finally:
            await offsets.stop()
    finally:
        await admin.close()
    done = sum(committed[tp].offset for tp in partitions if tp in committed and committed[tp].offset >= 0)
    return done, sum(ends[tp] for tp in partitions)


async def consumer_lag(bootstrap: str, group: str, topic: str) -> int:
    """End offsets minus the group's committed offsets over the topic's partitions."""
    return sum((await measure_lag(bootstrap, group, [topic])).values())


async def drained(
    infra: PrivateStack, prefix: str, group: str, database: str, acked: set[str], *, within: float = 300
) -> tuple[Stored, int]:
    """Wait until the group's lag is 0 and every acknowledged event is stored (or the timeout);
    return the last counts and lag."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        lag = -1
        with contextlib.suppress(Exception):  # the broker may still be electing after a restart
            lag = await consumer_lag(infra.kafka, group, prefix + TELEMETRY)
        counts = await count_stored(infra.mongo_url, database, acked)
        if (lag == 0 and counts.stored == len(acked)) or asyncio.get_running_loop().time() > deadline:
            return counts, lag
        await asyncio.sleep(1.0)


async def drop_database(mongo_url: str, database: str) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, serverSelectionTimeoutMS=5000)
    try:
        await client.drop_database(database)
    finally:
        await client.close()


# --------------------------------------------------------------------------- results

# The full run's table is committed (the README shows it); the short run's goes to the git-ignored cache.
_RESULTS_DIR = Path(__file__).resolve().parent if FULL else Path(__file__).resolve().parents[2] / ".cache" / "faults"
RESULTS_JSON = _RESULTS_DIR / ("results.json" if FULL else "results-short.json")
RESULTS_MD = _RESULTS_DIR / ("results.md" if FULL else "results-short.md")
COLUMNS = ("injected", "sent", "acknowledged", "stored", "lost", "duplicated")
ORDER = [
    "broker", "consumer", "ferretdb", "outbox", "poison", "webhooks",
    "cluster-leader", "cluster-frozen", "cluster-outbox", "cluster-webhooks", "cluster-two-down",
]  # fmt: skip


@dataclass
class Row:
    key: str
    fault: str
    injected: int
    sent: int
    acknowledged: int
    stored: int
    duplicated: int
    lag_zero: bool | None
    seconds: float
    notes: str = ""
    recovered: float | None = None
    """the slowest recovery of the row's faults: seconds until the service acknowledged again"""

    @property
    def lost(self) -> int:
        return self.acknowledged - self.stored


class Results:
    """The rows of this run, merged into results.json/results.md (rows of the other mode are dropped)."""

    def __init__(self) -> None:
        self.mode = "full" if FULL else "short"
        self.rows: dict[str, Row] = {}

    def add(self, row: Row) -> None:
        self.rows[row.key] = row

    def write(self) -> None:
        if not self.rows:
            return
        previous: dict[str, Any] = {}
        with contextlib.suppress(FileNotFoundError, ValueError):
            previous = json.loads(RESULTS_JSON.read_text())
        rows: dict[str, dict[str, Any]] = previous.get("rows", {}) if previous.get("mode") == self.mode else {}
        for key, row in self.rows.items():
            rows[key] = {**vars(row), "lost": row.lost}
        ordered = dict(sorted(rows.items(), key=lambda kv: ORDER.index(kv[0]) if kv[0] in ORDER else 99))
        document = {
            "mode": self.mode,
            "written_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "cores": os.cpu_count(),
            "rows": ordered,
        }
        RESULTS_JSON.parent.mkdir(parents=True, exist_ok=True)
        RESULTS_JSON.write_text(json.dumps(document, indent=2) + "\n")
        RESULTS_MD.write_text(markdown(document))


def markdown(document: dict[str, Any]) -> str:
    mode = "`FAULTS_FULL=1 make test-faults`" if document["mode"] == "full" else "the short run in `make test`"
    lines = [
        f"Fault suite ({mode}), {document['written_at']}, {document['cores']} cores:",
        "",
        "| fault | injected | sent | acknowledged | stored | lost | duplicated | lag back to 0 "
        "| recovered in (s) | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    notes = []
    for row in document["rows"].values():
        lag = {True: "yes", False: "no", None: "n/a"}[row["lag_zero"]]
        cells = " | ".join(str(row[c]) for c in COLUMNS)
        recovered = "n/a" if row.get("recovered") is None else f"{row['recovered']:.1f}"
        lines.append(f"| {row['fault']} | {cells} | {lag} | {recovered} | {row['seconds']:.0f} |")
        if row.get("notes"):
            notes.append(f"- {row['fault']}: {row['notes']}")
    return "\n".join([*lines, "", *notes, ""])
