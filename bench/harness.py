"""What `make bench` needs: its own Kafka and FerretDB, service processes, tokens, load generators,
CPU accounting.

The benchmarks never touch the infrastructure of `make up` or of the tests: like the fault suite
they start their own (`partnerapp_stack.private`) on other ports, with their own cache
directory (`.cache/bench/`), and only ever stop processes they started.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
from aiokafka import AIOKafkaConsumer
from pymongo import AsyncMongoClient, monitoring
from pymongo.errors import PyMongoError

from partnerapp_stack import postgres, private
from partnerapp_stack.private import PrivateStack, ServiceProcess, processes
from partnerapp_stack.process import Managed
from servicekit.auth import TokenIssuer, generate_key_pair
from servicekit.metrics import ConsumerLagMonitor
from servicekit.principal import Principal

ROOT = Path(__file__).resolve().parents[1]

__all__ = ["ServiceProcess", "processes"]  # the scenarios take them from here

CACHE = Path(os.environ.get("BENCH_CACHE_DIR", ROOT / ".cache" / "bench")).resolve()
KAFKA_PORT = int(os.environ.get("BENCH_KAFKA_PORT", "29092"))
KAFKA_CONTROLLER_PORT = int(os.environ.get("BENCH_KAFKA_CONTROLLER_PORT", "29093"))
MONGO_PORT = int(os.environ.get("BENCH_MONGO_PORT", "27019"))
POSTGRES_PORT = int(os.environ.get("BENCH_POSTGRES_PORT", "55439"))
TELEMETRY = "terminal.activity"
PROFILE = os.environ.get("BENCH_PROFILE", "") == "1"
PROFILES = ROOT / "bench" / "results" / "profiles"
ISSUER, AUDIENCE = "partnerapp-gateway", "partnerapp"


def say(message: str, tag: str = "bench") -> None:
    sys.stderr.write(f"[{tag} {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


# --------------------------------------------------------------------------- infrastructure


class BenchInfra(PrivateStack):
    """Kafka and FerretDB of the benchmarks' own, on the chosen FerretDB backend."""

    def __init__(self, store: str) -> None:
        super().__init__(
            CACHE,
            kafka_port=KAFKA_PORT,
            controller_port=KAFKA_CONTROLLER_PORT,
            mongo_port=MONGO_PORT,
            postgres_port=POSTGRES_PORT,
            store=store,
            port_hint="set BENCH_*_PORT",
        )

    @classmethod
    def of_cache(cls) -> BenchInfra:
        """The benchmarks' stack as its files say (nothing is started): where its PID files are."""
        return cls("postgresql")


# --------------------------------------------------------------------------- /proc: CPU, memory, files

TICKS = os.sysconf("SC_CLK_TCK")
POSTGRESQL = "postgresql"  # its figures cover the postmaster and its children (one backend per connection)


def _stat(pid: int) -> tuple[int, float, float] | None:
    """(parent pid, own CPU seconds, CPU seconds of reaped children) from /proc/<pid>/stat."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return int(fields[1]), (utime + stime) / TICKS, (cutime + cstime) / TICKS


def infra_processes(infra: PrivateStack) -> dict[str, int | None]:
    """The PIDs of a private stack's servers, from the PID files under its cache (each checked
    against its command line, so a reused PID is never taken): `kafka` (or `kafka-1`..`kafka-3`
    for a cluster), `ferretdb`, `postgresql` (the postmaster)."""
    cache = infra.cache
    kafka = (
        [Managed("kafka", cache / "kafka" / "kafka.pid", Path(), "kafka.Kafka")]
        if infra.brokers == 1
        else [
            Managed(f"kafka-{n}", cache / "kafka" / "cluster" / f"kafka-{n}.pid", Path(), "kafka.Kafka")
            for n in range(1, infra.brokers + 1)
        ]
    )
    servers = [
        *kafka,
        Managed("ferretdb", cache / "ferretdb" / "ferretdb.pid", Path(), "ferretdb"),
        Managed(POSTGRESQL, cache / "postgres" / "postgres.pid", Path(), f"-D {postgres.server_dir(cache) / 'data'}"),
    ]
    return {server.name: server.pid() for server in servers}


def children_of(root: int) -> list[int]:
    """The direct children of `root` (PostgreSQL's backends and workers are all the postmaster's)."""
    return [pid for pid in _pids() if (stat := _stat(pid)) is not None and stat[0] == root]


def status_kb(pid: int, field: str) -> int | None:
    """A `kB` line of /proc/<pid>/status (VmRSS, VmHWM, RssAnon...); None when the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def pss_kb(pid: int, field: str = "Pss") -> int | None:
    """The proportional set size (shared pages divided among their sharers) from smaps_rollup:
    what adds up over processes that share memory, as PostgreSQL's share its buffers. `Pss_Shmem`:
    the part of it in shared memory (PostgreSQL's buffer pool, a segment of fixed size)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def open_fds(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


class CpuMeter:
    """CPU seconds used by each part of the benchmark, read from /proc: where the cores go.

    PostgreSQL's figure includes its backends (one process per connection, live or reaped by the
    postmaster); the load generator's is its own only (the services and py-spy are its children).
    """

    def __init__(self, services: dict[str, ServiceProcess], infra: PrivateStack | None = None) -> None:
        self.roots: dict[str, int | None] = {
            **infra_processes(infra or BenchInfra.of_cache()),
            "load generator (this process)": os.getpid(),
        }
        for name, service in services.items():
            self.roots[name] = service.process.pid if service.process else None
        self._began = time.monotonic()
        self._start = self.read()

    def read(self) -> dict[str, float]:
        stats = {pid: stat for pid in _pids() if (stat := _stat(pid)) is not None}
        children: dict[int, list[int]] = {}
        for pid, (parent, _, _) in stats.items():
            children.setdefault(parent, []).append(pid)
        used = {}
        for name, root in self.roots.items():
            if root is None or root not in stats:
                continue
            seconds = stats[root][1]
            if name == POSTGRESQL:
                seconds += stats[root][2] + sum(stats[child][1] for child in children.get(root, []))
            used[name] = seconds
        return used

    def cores(self) -> dict[str, float]:
        """Cores used by each part since the meter was made (CPU seconds / wall seconds)."""
        wall = time.monotonic() - self._began
        now = self.read()
        return {name: round((now[name] - self._start.get(name, 0.0)) / wall, 2) for name in now if name in self._start}


def _pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


@dataclass
class Platform:
    """What the service processes of one benchmark run share: infrastructure, topics, keys."""

    infra: PrivateStack
    prefix: str
    private_key: str = ""
    public_key: str = ""
    key_file: Path = field(init=False)

    def __post_init__(self) -> None:
        self.key_file = self.infra.cache / "token-private.pem"
        self.private_key, self.public_key = generate_key_pair()
        self.key_file.parent.mkdir(parents=True, exist_ok=True)
        self.key_file.write_text(self.private_key)
        self.key_file.chmod(0o600)
        self.issuer = TokenIssuer(self.private_key, issuer=ISSUER, audience=AUDIENCE)

    def env(self, module: str, **settings: str) -> dict[str, str]:
        return {
            "PARTNERAPP_KAFKA_BOOTSTRAP_SERVERS": self.infra.kafka,
            "PARTNERAPP_MONGO_URL": self.infra.mongo_url,
            "PARTNERAPP_TOPIC_PREFIX": self.prefix,
            "PARTNERAPP_AUTH_PUBLIC_KEY": self.public_key,
            "PARTNERAPP_LOG_LEVEL": "WARNING",
            **{f"{module.upper()}_{k.upper()}": v for k, v in settings.items()},
        }

    def service(self, module: str, tag: str, **settings: str) -> ServiceProcess:
        profile = PROFILES / f"{module}-{tag}.txt" if PROFILE else None
        return ServiceProcess(
            module, self.env(module, **settings), log=self.infra.cache / "run" / f"{module}-{tag}.log", profile=profile
        )

    def token(self, partner_id: str) -> str:
        principal = Principal(f"usr-bench-{partner_id}", "partner", partner_id, frozenset({partner_id}))
        return self.issuer.issue(principal, ttl=timedelta(hours=2))


async def issue_ingest_key(platform: Platform, database: str, partner_id: str) -> str:
    """An instance's ingest key, known to the activity service using `database`."""
    _, key = await private.issue_ingest_key(
        platform.infra.kafka, platform.prefix, platform.infra.mongo_url, database, partner_id
    )
    return key


class LagWatch:
    """A consumer group's lag on the telemetry topic, measured again and again with one client."""

    def __init__(self, platform: Platform, group: str) -> None:
        topic = f"{platform.prefix}{TELEMETRY}"
        self._monitor = ConsumerLagMonitor(platform.infra.kafka, group, lambda: [topic])

    async def __aenter__(self) -> LagWatch:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._monitor.close()

    async def lag(self) -> int:
        return sum((await self._monitor.measure()).values())


async def count_records(mongo_url: str, database: str, kind: str | None = None) -> int:
    """Records stored by the activity service (its per-day/shard collections): all of them, or
    those of one kind (`telemetry`: what terminals sent, without the license and session records
    the demo data's events make)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    try:
        db = client[database]
        names = [n for n in await db.list_collection_names() if n.startswith("records_")]
        query = {"kind": kind} if kind else {}
        return sum([await db[name].count_documents(query) for name in names])
    finally:
        await client.close()


# --------------------------------------------------------------------------- load generators


@dataclass
class Terminals:
    """Field terminals posting telemetry to the ingest endpoint in batches, as devices do.

    `rate` None: as fast as the endpoint answers (each worker sends its next batch on the
    answer); otherwise paced to `rate` events/s in total. `keep_going`: a batch whose request
    failed (no answer: connection refused or reset, timeout) is counted in `failed` and the worker
    goes on, for a long run; otherwise the error ends the worker and `finish` raises it.
    """

    url: str
    key: str
    rate: float | None = None
    batch: int = 50
    workers: int = 8
    terminals: int = 2000
    keep_going: bool = False
    acked: int = 0
    refused: int = 0
    failed: int = 0
    first_error: str | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._worker(n)) for n in range(self.workers)]

    async def finish(self) -> None:
        self.stop.set()
        await asyncio.gather(*self._tasks)

    async def _worker(self, number: int) -> None:
        rng = random.Random(number)  # noqa: S311  (simulated data)
        loop = asyncio.get_running_loop()
        interval = self.batch * self.workers / self.rate if self.rate else 0.0
        next_at = loop.time()
        async with httpx2.AsyncClient(base_url=self.url, timeout=httpx2.Timeout(60, connect=5)) as client:
            while not self.stop.is_set():
                body = json.dumps({"events": self._batch(rng)}).encode()
                try:
                    response = await client.post(
                        "/v1/ingest/events",
                        content=body,
                        headers={"X-Ingest-Key": self.key, "Content-Type": "application/json"},
                    )
                except httpx2.TransportError as exc:
                    if not self.keep_going:
                        raise
                    self.failed += self.batch
                    self.first_error = self.first_error or repr(exc)
                    response = None
                if response is not None and response.status_code == 202:
                    self.acked += self.batch
                else:
                    self.refused += self.batch if response is not None else 0
                    await asyncio.sleep(0.2)
                if interval:
                    next_at += interval
                    delay = next_at - loop.time()
                    if delay > 0:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self.stop.wait(), delay)
                    else:
                        next_at = loop.time()

    def _batch(self, rng: random.Random) -> list[dict[str, Any]]:
        """One terminal's buffered events (a device sends its own, consecutive events)."""
        number = rng.randrange(self.terminals)
        now = datetime.now(UTC)
        return [
            {
                "event_id": str(uuid.uuid4()),
                "serial": f"BT{number:05d}",
                "pin": f"{1000 + number}",
                "action": rng.choice(["gps_fix", "task_started", "task_completed", "sync"]),
                "occurred_at": (now - timedelta(seconds=self.batch - n)).isoformat(),
                "battery_pct": rng.randrange(5, 100),
                "location": {"lat": 40.4 + rng.random() / 10, "lon": -3.7 + rng.random() / 10, "accuracy_m": 8.0},
            }
            for n in range(self.batch)
        ]


async def raw_pipe(platform: Platform, events: int, batch: int = 500) -> dict[str, Any]:
    """The floor: aiokafka `getmany` → `insert_many(ordered=False)` of the decoded envelopes into
    one collection, no validation, commit per batch; timed from its first batch to the last."""
    database = f"bench_raw_{uuid.uuid4().hex[:8]}"
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(platform.infra.mongo_url)
    consumer = AIOKafkaConsumer(
        f"{platform.prefix}{TELEMETRY}",
        bootstrap_servers=platform.infra.kafka,
        group_id=f"bench-raw-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=batch,
    )
    await consumer.start()
    consumed = 0
    started: float | None = None
    try:
        while consumed < events:
            batches = await consumer.getmany(timeout_ms=1000, max_records=batch)
            documents = []
            for records in batches.values():
                for record in records:
                    document = json.loads(record.value or b"{}")
                    document["_id"] = document.pop("id")
                    documents.append(document)
            if not documents:
                continue
            if started is None:
                started = time.perf_counter()
            await client[database]["records"].insert_many(documents, ordered=False)
            await consumer.commit()
            consumed += len(documents)
        seconds = time.perf_counter() - (started or time.perf_counter())
        stored = await client[database]["records"].count_documents({})
    finally:
        await consumer.stop()
        await client.drop_database(database)
        await client.close()
    return {
        "events": consumed,
        "seconds": round(seconds, 1),
        "events_per_s": round(consumed / seconds),
        "stored": stored,
    }


@dataclass
class Latencies:
    samples: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None

    def summary(self, seconds: float) -> dict[str, Any]:
        return {
            "requests": len(self.samples),
            "requests_per_s": round(len(self.samples) / seconds, 1),
            "p50_ms": round(percentile(self.samples, 0.50), 1),
            "p99_ms": round(percentile(self.samples, 0.99), 1),
            "errors": self.errors,
            **({"first_error": self.first_error} if self.first_error else {}),
        }


Request = Callable[[httpx2.AsyncClient], Awaitable[bool]]
"""One client request (or the client-side composition of several): True when it succeeded."""


def get(url: str) -> Request:
    async def one(client: httpx2.AsyncClient) -> bool:
        return (await client.get(url)).status_code == 200

    return one


async def hammer(request: Request, token: str, clients: int, seconds: float) -> dict[str, Any]:
    """`clients` concurrent clients, each sending its next request on the previous answer.

    Each client has an httpx2 client (connection pool) of its own, as separate users would: one
    pool shared by 50 clients spent the generator's CPU on the pool's own bookkeeping (measured on
    the gateway's `/healthz`: 67 req/s with one shared pool against 1 400 with raw connections)."""
    measured = Latencies()
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx2.Limits(max_connections=16, max_keepalive_connections=16)  # a composed view's fan-out
    async with contextlib.AsyncExitStack() as stack:
        pool = [
            await stack.enter_async_context(httpx2.AsyncClient(headers=headers, timeout=60, limits=limits))
            for _ in range(clients)
        ]
        await asyncio.gather(*(request(client) for client in pool))  # warm: connections, caches
        deadline = time.perf_counter() + seconds

        async def one_client(client: httpx2.AsyncClient) -> None:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                try:
                    ok = await request(client)
                except httpx2.HTTPError as exc:  # e.g. a keep-alive connection the server closed
                    ok = False
                    measured.first_error = measured.first_error or repr(exc)
                measured.samples.append((time.perf_counter() - began) * 1000)
                if not ok:
                    measured.errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(one_client(client) for client in pool))
        return {**measured.summary(time.perf_counter() - began), "generator": "httpx2"}


async def light_hammer(url: str, headers: dict[str, str], clients: int, seconds: float) -> dict[str, Any]:
    """`hammer` for one GET with a generator as light as it gets: raw asyncio streams, one
    keep-alive HTTP/1.1 connection per client, no client library. httpx costs ~0.7 ms of CPU a
    request even with a pool per client (measured on the gateway's `/healthz`: 550 req/s with
    httpx, 1 850 with this, on the same two cores), enough to be the limit at the goals' rates."""
    target = httpx2.URL(url)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    request = f"GET {target.raw_path.decode()} HTTP/1.1\r\nHost: {target.host}:{target.port}\r\n{head}\r\n".encode()
    measured = Latencies()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(request)
        status_line = await reader.readline()
        length, chunked = 0, False
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
        if chunked:  # the gateway's proxy streams its answers
            while size := int((await reader.readline()).split(b";")[0], 16):
                await reader.readexactly(size + 2)
            while await reader.readline() not in (b"\r\n", b""):  # trailers, then the blank line
                pass
        else:
            await reader.readexactly(length)
        if status_line.split(b" ", 2)[1:2] == [b"200"]:
            return True
        measured.first_error = measured.first_error or status_line.decode(errors="replace").strip()
        return False

    async def one_client(deadline: float) -> None:
        connection = await asyncio.open_connection(target.host, target.port)
        try:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                try:
                    ok = await answer(*connection)
                except (OSError, ValueError, asyncio.IncompleteReadError) as exc:  # the server closed it
                    ok = False
                    measured.first_error = measured.first_error or repr(exc)
                    connection[1].close()
                    connection = await asyncio.open_connection(target.host, target.port)
                measured.samples.append((time.perf_counter() - began) * 1000)
                if not ok:
                    measured.errors += 1
        finally:
            connection[1].close()

    began = time.perf_counter()
    await asyncio.gather(*(one_client(began + seconds) for _ in range(clients)))
    return {**measured.summary(time.perf_counter() - began), "generator": "raw asyncio"}


@dataclass(frozen=True)
class StoreFind:
    """One `find` as a service sends it to the store (captured with PyMongo's command monitoring)."""

    database: str
    collection: str
    filter: dict[str, Any]
    sort: list[tuple[str, Any]]
    limit: int
    projection: dict[str, Any] | None = None


class _FindRecorder(monitoring.CommandListener):
    def __init__(self) -> None:
        self.finds: list[StoreFind] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        command = event.command
        if event.command_name == "find":
            sort = list(dict(command.get("sort", {})).items())
            self.finds.append(
                StoreFind(
                    event.database_name,
                    command["find"],
                    dict(command.get("filter", {})),
                    sort,
                    command.get("limit", 0),
                    dict(command["projection"]) if "projection" in command else None,
                )
            )

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        return None

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        return None


async def captured_finds(
    mongo_url: str, action: Callable[[AsyncMongoClient[Any]], Awaitable[object]]
) -> list[StoreFind]:
    """The `find` commands `action` sends through a client of its own: a service adapter's query,
    to be sent again raw (the store floor), always the one the adapter sends today."""
    recorder = _FindRecorder()
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongo_url, tz_aware=True, event_listeners=[recorder])
    try:
        await action(client)
    finally:
        await client.close()
    return recorder.finds


async def store_hammer(mongo_url: str, find: StoreFind, clients: int, seconds: float) -> dict[str, Any]:
    """`hammer` for one raw PyMongo `find` (its documents fetched and decoded, nothing else)."""
    measured = Latencies()
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongo_url, tz_aware=True, maxPoolSize=clients)
    collection = client[find.database][find.collection]

    async def one() -> int:
        cursor = collection.find(find.filter, find.projection).limit(find.limit)
        if find.sort:
            cursor = cursor.sort(find.sort)
        return len(await cursor.to_list())

    try:
        items = max(await asyncio.gather(*(one() for _ in range(clients))))  # warm: a connection per client
        deadline = time.perf_counter() + seconds

        async def one_client() -> None:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                try:
                    await one()
                except PyMongoError as exc:
                    measured.errors += 1
                    measured.first_error = measured.first_error or repr(exc)
                measured.samples.append((time.perf_counter() - began) * 1000)

        began = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        return {**measured.summary(time.perf_counter() - began), "documents_per_find": items}
    finally:
        await client.close()


STORE_COMMANDS = re.compile(r'^partnerapp_store_commands_total\{command="([^"]+)"\} ([0-9.e+]+)$', re.MULTILINE)
STORE_COMMANDS_IN_REQUESTS = re.compile(
    r'^partnerapp_store_commands_in_requests_total\{command="([^"]+)"\} ([0-9.e+]+)$', re.MULTILINE
)


async def store_commands(
    client: httpx2.AsyncClient, service_url: str, *, in_requests: bool = False
) -> dict[str, float]:
    """The service's store commands so far, by name (its `/metrics`): all of them, or only those
    sent while answering HTTP requests (background jobs left out)."""
    answer = await client.get(f"{service_url}/metrics")
    answer.raise_for_status()
    pattern = STORE_COMMANDS_IN_REQUESTS if in_requests else STORE_COMMANDS
    return {name: float(count) for name, count in pattern.findall(answer.text)}
