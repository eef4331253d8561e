"""A Kafka and a FerretDB of one's own, and services as real processes: what the fault suite
(`tests/faults`) and the benchmarks (`bench/`) both need.

Each starts the servers through the stack's CLI on other ports with another cache directory, so it never
touches the infrastructure of `make up` or of the other tests; reuses the broker jars and the
FerretDB binary the main cache already holds; and only ever stops processes it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
from pymongo import AsyncMongoClient

from contracts import envelope_for
from contracts.events.common import Actor
from contracts.events.instances import IngestKeyRotated
from partnerapp_stack import ferretdb, kafka, postgres
from partnerapp_stack.config import ROOT, STORE_BACKEND
from partnerapp_stack.process import port_open
from servicekit.testing import KafkaProbe


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


class PrivateStack:
    """Kafka (one node, or a cluster of `brokers` = 3) and FerretDB (on the chosen backend) under
    `cache`, through the stack's CLI."""

    def __init__(
        self,
        cache: Path,
        *,
        kafka_port: int,
        controller_port: int,
        mongo_port: int,
        postgres_port: int,
        store: str = STORE_BACKEND,
        brokers: int = 1,
        port_hint: str = "",
    ) -> None:
        self.cache = cache
        self.store = store
        self.brokers = brokers
        # node n: kafka_port + 2(n-1), its controller controller_port + 2(n-1) (partnerapp_stack.config)
        self.kafka_ports = [kafka_port + 2 * n for n in range(brokers)]
        self.ports = (*self.kafka_ports, *(controller_port + 2 * n for n in range(brokers)), mongo_port, postgres_port)
        self.port_hint = port_hint
        self.kafka = ",".join(f"127.0.0.1:{port}" for port in self.kafka_ports)
        self.mongo_url = f"mongodb://127.0.0.1:{mongo_port}/"
        self.env = {
            **os.environ,
            "PARTNERAPP_CACHE_DIR": str(cache),
            "PARTNERAPP_KAFKA_PORT": str(kafka_port),
            "PARTNERAPP_KAFKA_CONTROLLER_PORT": str(controller_port),
            "PARTNERAPP_KAFKA_BROKERS": str(brokers),
            "PARTNERAPP_MONGO_PORT": str(mongo_port),
            "PARTNERAPP_POSTGRES_PORT": str(postgres_port),
            "PARTNERAPP_STORE_BACKEND": store,
        }

    def stack(self, *args: str, timeout: float = 900) -> None:
        log = self.cache / "stack.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            result = subprocess.run(
                [sys.executable, "-m", "partnerapp_stack", *args],
                env=self.env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        if result.returncode != 0:
            raise RuntimeError(f"partnerapp_stack {' '.join(args)} failed (exit {result.returncode}):\n{log_tail(log)}")

    def start(self) -> None:
        """A fresh cluster and store: stop what a crashed earlier run left, wipe the data, start."""
        self.stack("down", "infra")
        for port in self.ports:
            if port_open(port):
                raise RuntimeError(f"port {port} is taken by a process we did not start; {self.port_hint}")
        for data in (
            self.cache / "kafka" / "data",
            self.cache / "kafka" / "cluster",
            self.cache / "ferretdb" / "data",
            postgres.server_dir(self.cache) / "data",
        ):
            shutil.rmtree(data, ignore_errors=True)
        self._link_built_artifacts()
        self.stack("up", "infra")

    def stop(self) -> None:
        self.stack("down", "infra")

    def _link_built_artifacts(self) -> None:
        """Link the broker jars and the FerretDB binary the main cache already holds, instead of
        resolving and building them again (the stack builds whatever is missing)."""
        libs = kafka.libs_dir()
        target = self.cache / "kafka" / libs.name
        if (libs / ".complete").exists() and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(libs, target_is_directory=True)
        binary = ferretdb.binary_path()
        linked = self.cache / "ferretdb" / "bin" / binary.name
        if binary.exists() and not linked.exists():
            linked.parent.mkdir(parents=True, exist_ok=True)
            linked.symlink_to(binary)


class ServiceProcess:
    """`python -m <service>` as a real process of its own: SIGKILL is real, its memory its own.

    `profile`: a file for py-spy to sample the process into (raw collapsed stacks) until it stops.
    """

    def __init__(
        self, module: str, env: dict[str, str], *, log: Path, port: int | None = None, profile: Path | None = None
    ) -> None:
        self.module = module
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**env, f"{module.upper()}_HTTP_PORT": str(self.port)}
        self.log = log
        self.profile = profile
        self.process: subprocess.Popen[bytes] | None = None
        self.profiler: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.peak_rss_mb = 0.0

    def start(self, **extra_env: str) -> None:
        if self.alive():
            raise RuntimeError(f"{self.module} is running already")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("PARTNERAPP_", "OTEL_"))}
        with self.log.open("ab") as out:
            out.write(f"\n===== start {time.strftime('%H:%M:%S')} {extra_env}\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.module],
                env={**inherited, **self.env, **extra_env},
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.starts += 1
        if self.profile is not None:  # sampled from outside: the process runs unchanged
            self.profile.parent.mkdir(parents=True, exist_ok=True)
            self.profiler = subprocess.Popen(
                [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(self.process.pid),
                 "--format", "raw", "--rate", "100", "--idle", "--nonblocking", "--output", str(self.profile)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    async def wait_ready(self, within: float = 120) -> None:
        deadline = time.monotonic() + within
        async with httpx2.AsyncClient(timeout=5) as client:
            while time.monotonic() < deadline:
                if not self.alive():
                    raise RuntimeError(f"{self.module} exited during start-up:\n{log_tail(self.log)}")
                with contextlib.suppress(httpx2.HTTPError):
                    if (await client.get(f"{self.url}/readyz")).status_code == 200:
                        return
                await asyncio.sleep(0.2)
        raise RuntimeError(f"{self.module} not ready after {within}s:\n{log_tail(self.log)}")

    def sample_memory(self) -> float:
        """The process's peak resident set so far (VmHWM), in MB."""
        if self.process is not None and self.alive():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        self.peak_rss_mb = max(self.peak_rss_mb, int(line.split()[1]) / 1024)
        return self.peak_rss_mb

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, nothing is flushed or committed."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        self.sample_memory()
        if self.profiler is not None and self.profiler.poll() is None:
            self.profiler.send_signal(signal.SIGINT)  # py-spy writes its samples and exits
            self.profiler.wait(timeout=60)
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@contextlib.contextmanager
def processes() -> Iterator[list[ServiceProcess]]:
    """Every process started inside is stopped on the way out, whatever happened."""
    started: list[ServiceProcess] = []
    try:
        yield started
    finally:
        for process in started:
            process.stop()


async def issue_ingest_key(kafka: str, prefix: str, mongo_url: str, database: str, partner_id: str) -> tuple[str, str]:
    """An instance and its ingest key, made known to the activity service using `database` through
    `instance.ingest_key_rotated` (as the instances service announces it)."""
    instance_id = f"ins-{uuid.uuid4().hex[:10]}"
    key = f"pik_{instance_id}.{uuid.uuid4().hex}{uuid.uuid4().hex}"
    event = envelope_for(
        IngestKeyRotated(
            instance_id=instance_id,
            partner_id=partner_id,
            key_sha256=hashlib.sha256(key.encode()).hexdigest(),
            rotated_by=Actor(user_id="usr-harness", role="partner"),
        ),
        source="instances",
    )
    await KafkaProbe(kafka, prefix).send("instance.ingest_key_rotated", event.to_json_bytes(), key=instance_id.encode())
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, serverSelectionTimeoutMS=5000)
    try:
        deadline = time.monotonic() + 60
        while await client[database]["ingest_keys"].find_one({"_id": instance_id}) is None:
            if time.monotonic() > deadline:
                raise RuntimeError("the ingest key never reached the activity service")
            await asyncio.sleep(0.2)
    finally:
        await client.close()
    return instance_id, key
