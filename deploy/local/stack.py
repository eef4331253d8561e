"""Run partnerapp locally without Docker: real Kafka, real FerretDB, the five services.

    python deploy/local/stack.py up     [kafka|ferretdb|infra|services|all ...]
    python deploy/local/stack.py down   [...]
    python deploy/local/stack.py status [...]
    python deploy/local/stack.py keys       (create the development token keys, if missing)

Everything is cached under `.cache/` (git-ignored): the broker jars that Maven resolves from the
pinned `kafka/pom.xml`, the FerretDB binary built from `ferretdb/` (pinned in its go.mod), their
data directories, logs, PID files and the development token keys. The first `up` downloads and
builds; later ones take seconds. `up` returns only once each part is really ready (Kafka: topics
created from the contracts' catalogue and a produce/consume round trip in a consumer group;
FerretDB: a ping; services: `/readyz`), and a failure names the step and prints the log's tail.
Only processes this script started (by PID file) are ever stopped.

FerretDB stores its data in SQLite by default. `PARTNERAPP_STORE_BACKEND=postgresql` runs it on
PostgreSQL instead (the server binaries of Debian's `postgresql` package; data directory, socket,
log and PID file under `.cache/postgres/`, port `PARTNERAPP_POSTGRES_PORT`, default 55432): that
backend pushes equality filters down to SQL, where the SQLite one decodes and filters every
document in Go, so benchmarks use it. `up ferretdb` then starts PostgreSQL first (initdb once,
database `ferretdb` created if missing) and `down ferretdb` stops it after FerretDB.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import hashlib
import os
import pwd
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("PARTNERAPP_CACHE_DIR", ROOT / ".cache")).resolve()
WEB_DIST = ROOT / "web" / "dist"  # the built web app, served by the gateway when present

KAFKA_PORT = int(os.environ.get("PARTNERAPP_KAFKA_PORT", "9092"))
KAFKA_CONTROLLER_PORT = int(os.environ.get("PARTNERAPP_KAFKA_CONTROLLER_PORT", "9093"))
MONGO_PORT = int(os.environ.get("PARTNERAPP_MONGO_PORT", "27017"))
STORE_BACKENDS = ("sqlite", "postgresql")
STORE_BACKEND = os.environ.get("PARTNERAPP_STORE_BACKEND", "sqlite")  # checked in main()
POSTGRES_PORT = int(os.environ.get("PARTNERAPP_POSTGRES_PORT", "55432"))
HEALTHCHECK_TOPIC = "_partnerapp.healthcheck"

SERVICES = {"gateway": 8000, "instances": 8001, "support": 8002, "reports": 8003, "activity": 8004}
KEYS_DIR = CACHE / "keys"
RUN_DIR = CACHE / "run"


class StepFailed(RuntimeError):
    def __init__(self, step: str, detail: str, log: Path | None = None) -> None:
        tail = ""
        if log and log.exists():
            lines = log.read_text(errors="replace").splitlines()[-40:]
            tail = (
                f"\n--- last lines of {log.relative_to(ROOT) if log.is_relative_to(ROOT) else log} ---\n"
                + "\n".join(lines)
            )
        super().__init__(f"step '{step}' failed: {detail}{tail}")


def say(message: str) -> None:
    print(f"[stack] {message}", flush=True)


# --------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class Managed:
    """A server process this script starts and stops through its PID file."""

    name: str
    pid_file: Path
    log_file: Path
    marker: str  # a string its command line must contain, so a reused PID is never touched
    stop_signal: signal.Signals = signal.SIGTERM

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except FileNotFoundError:
            return None
        # An empty command line is a process between fork and exec (the java launcher re-execs
        # itself): still ours. A different one means the PID was reused: not ours.
        if cmdline and self.marker not in cmdline:
            return None
        state = process_state(pid)  # a zombie left by our own exit is not alive
        return None if state in (None, "Z") else pid

    def start(
        self,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,  # run as this system user (needs root)
    ) -> int:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            log.write(f"\n===== start {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(argv)}\n".encode())
            log.flush()
            process = subprocess.Popen(
                list(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=cwd,
                env={**os.environ, **(env or {})},
                start_new_session=True,  # outlives this script; stopped by `down`
                user=user,
                group=pwd.getpwnam(user).pw_gid if user else None,
                extra_groups=[] if user else None,
            )
        self.pid_file.write_text(str(process.pid))
        return process.pid

    def stop(self, *, timeout: float = 20.0) -> bool:
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, self.stop_signal)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.pid() is not None:
            time.sleep(0.2)
        if self.pid() is not None:
            os.kill(pid, signal.SIGKILL)
            while self.pid() is not None:
                time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
        return True


def process_state(pid: int) -> str | None:
    """The state letter of a process (`Z`: a zombie), None when there is no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (FileNotFoundError, IndexError):
        return None


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_until(step: str, check: Callable[[], bool], *, timeout: float, process: Managed | None = None) -> None:
    deadline = time.monotonic() + timeout
    last_error = "not ready"
    while time.monotonic() < deadline:
        if process is not None and process.pid() is None:
            raise StepFailed(step, f"{process.name} exited during start-up", process.log_file)
        try:
            if check():
                return
        except Exception as exc:  # keep polling until the deadline; report the last reason
            last_error = f"{type(exc).__name__}: {exc}"
        time.sleep(0.5)
    raise StepFailed(step, f"not ready after {timeout:.0f}s ({last_error})", process.log_file if process else None)


def run_tool(
    step: str,
    argv: Sequence[str],
    *,
    cwd: Path,
    log: Path,
    env: dict[str, str] | None = None,
    user: str | None = None,  # run as this system user (needs root)
) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    say(f"{step}: {' '.join(argv[:3])} ... (output in {log.relative_to(CACHE.parent)})")
    with log.open("wb") as out:
        result = subprocess.run(
            list(argv),
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            check=False,
            user=user,
            group=pwd.getpwnam(user).pw_gid if user else None,
            extra_groups=[] if user else None,
        )
    if result.returncode != 0:
        raise StepFailed(step, f"exit code {result.returncode}", log)


def fingerprint(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


# --------------------------------------------------------------------------- Kafka

KAFKA_DIR = CACHE / "kafka"
KAFKA = Managed("kafka", KAFKA_DIR / "kafka.pid", KAFKA_DIR / "kafka.log", "kafka.Kafka")


def kafka_libs() -> Path:
    pom = HERE / "kafka" / "pom.xml"
    libs = KAFKA_DIR / f"libs-{fingerprint(pom)}"
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
            str(pom),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={staging}",
        ],
        cwd=HERE / "kafka",
        log=KAFKA_DIR / "maven.log",
    )
    (staging / ".complete").write_text("ok\n")
    shutil.rmtree(libs, ignore_errors=True)
    staging.rename(libs)
    return libs


def kafka_config(data_dir: Path) -> Path:
    template = string.Template((HERE / "kafka" / "server.properties.template").read_text())
    config = KAFKA_DIR / "server.properties"
    config.write_text(template.substitute(port=KAFKA_PORT, controller_port=KAFKA_CONTROLLER_PORT, data_dir=data_dir))
    return config


def java_command(libs: Path, main: str, *args: str) -> list[str]:
    return [
        "java", "-Xms256m", "-Xmx1g", "-XX:+UseG1GC", "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={HERE / 'kafka' / 'log4j2.properties'}",
        "-cp", f"{libs}/*", main, *args,
    ]  # fmt: skip


def kafka_up() -> None:
    if KAFKA.pid() is None and port_open(KAFKA_PORT):
        say(f"kafka: something already listens on {KAFKA_PORT}; using it as is")
    elif KAFKA.pid() is None:
        libs = kafka_libs()
        data_dir = KAFKA_DIR / "data"
        config = kafka_config(data_dir)
        if not (data_dir / "meta.properties").exists():
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            run_tool(
                "kafka: format storage (once)",
                java_command(
                    # `=` form: a generated id may start with "-" and must not parse as an option
                    libs,
                    "kafka.tools.StorageTool",
                    "format",
                    f"--cluster-id={cluster_id}",
                    f"--config={config}",
                ),
                cwd=KAFKA_DIR,
                log=KAFKA_DIR / "format.log",
            )
        KAFKA.start(java_command(libs, "kafka.Kafka", str(config)), cwd=KAFKA_DIR)
        say(f"kafka: started (pid {KAFKA.pid()}), waiting for 127.0.0.1:{KAFKA_PORT}")
        wait_until("kafka: broker listening", lambda: port_open(KAFKA_PORT), timeout=90, process=KAFKA)
    try:
        created = asyncio.run(asyncio.wait_for(_kafka_prepare_and_check(), 120))
    except Exception as exc:
        raise StepFailed("kafka: topics and round trip", f"{type(exc).__name__}: {exc}", KAFKA.log_file) from exc
    say(f"kafka: ready on 127.0.0.1:{KAFKA_PORT} ({created})")


async def _kafka_prepare_and_check() -> str:
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


# --------------------------------------------------------------------------- PostgreSQL (FerretDB's optional backend)

POSTGRES_DIR = CACHE / "postgres"
POSTGRES_DATA = POSTGRES_DIR / "data"
POSTGRES_SOCKETS = POSTGRES_DIR / "run"  # its unix socket, so it never touches /var/run/postgresql
POSTGRES_DB = "ferretdb"
POSTGRES = Managed(
    "postgres",
    POSTGRES_DIR / "postgres.pid",
    POSTGRES_DIR / "postgres.log",
    f"-D {POSTGRES_DATA}",
    stop_signal=signal.SIGINT,  # "fast" shutdown: does not wait for clients to disconnect
)


def postgres_bindir() -> Path:
    """The directory of `initdb` and `postgres`: `pg_config --bindir`, else the newest
    `/usr/lib/postgresql/*/bin` (preferring the version the data directory was made with)."""
    candidates: list[Path] = []
    made_with = POSTGRES_DATA / "PG_VERSION"
    if made_with.exists():
        candidates.append(Path("/usr/lib/postgresql") / made_with.read_text().strip() / "bin")
    if shutil.which("pg_config"):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False).stdout.strip()
        if found:
            candidates.append(Path(found))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "postgres").exists():
            return candidate
    raise StepFailed(
        "postgres: find server binaries",
        "initdb and postgres not found (pg_config --bindir, /usr/lib/postgresql/*/bin); "
        "install Debian's `postgresql` package (apt-get install postgresql)",
    )


def _version_key(bindir: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in bindir.parent.name.split(".") if part.isdigit())


def postgres_user() -> str | None:
    """initdb and postgres refuse to run as root: as root they run as the `postgres` system user."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise StepFailed(
            "postgres: system user",
            "as root, PostgreSQL runs as the `postgres` user, which does not exist; "
            "install Debian's `postgresql` package (it creates the user)",
        ) from None
    return "postgres"


def _owned_by(path: Path, user: str | None, *, mode: int) -> None:
    """Create `path` (if missing) for `user`: PostgreSQL must own its data and socket directories."""
    path.mkdir(parents=True, exist_ok=True)
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)
        unreachable = [parent for parent in path.parents if not _traversable(parent, entry.pw_uid, entry.pw_gid)]
        if unreachable:
            raise StepFailed(
                "postgres: directories",
                f"the {user} user cannot enter {unreachable[0]}; "
                "point PARTNERAPP_CACHE_DIR at a directory it can reach (e.g. under /tmp)",
            )
    path.chmod(mode)


def _traversable(directory: Path, uid: int, gid: int) -> bool:
    info = directory.stat()
    if info.st_uid == uid:
        return bool(info.st_mode & 0o100)
    if info.st_gid == gid:
        return bool(info.st_mode & 0o010)
    return bool(info.st_mode & 0o001)


def postgres_init(bindir: Path, user: str | None) -> None:
    if (POSTGRES_DATA / "PG_VERSION").exists():
        return
    staging = POSTGRES_DATA.with_name(POSTGRES_DATA.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    _owned_by(staging, user, mode=0o700)
    # Trust authentication, no password: acceptable only because this is a local development and
    # benchmark server that listens on 127.0.0.1 and on a socket inside the cache directory.
    argv = [
        str(bindir / "initdb"), "-D", str(staging), "-A", "trust", "-U", "postgres",
        "-E", "UTF8", "--locale=C", "--no-instructions",
    ]  # fmt: skip
    run_tool("postgres: initdb (once)", argv, cwd=POSTGRES_DIR, log=POSTGRES_DIR / "initdb.log", user=user)
    staging.rename(POSTGRES_DATA)


def postgres_up() -> None:
    if POSTGRES.pid() is None and port_open(POSTGRES_PORT):
        say(f"postgres: something already listens on {POSTGRES_PORT}; using it as is")
    elif POSTGRES.pid() is None:
        bindir, user = postgres_bindir(), postgres_user()
        POSTGRES_DIR.mkdir(parents=True, exist_ok=True)
        postgres_init(bindir, user)
        _previous_postmaster_reaped()
        _owned_by(POSTGRES_SOCKETS, user, mode=0o700)
        argv = [
            str(bindir / "postgres"), "-D", str(POSTGRES_DATA), "-p", str(POSTGRES_PORT),
            "-k", str(POSTGRES_SOCKETS), "-c", "listen_addresses=127.0.0.1",
        ]  # fmt: skip
        POSTGRES.start(argv, cwd=POSTGRES_DIR, user=user)
        say(f"postgres: started (pid {POSTGRES.pid()}), waiting for 127.0.0.1:{POSTGRES_PORT}")
    wait_until(
        "postgres: accepting connections",
        lambda: _psql("SELECT 1") == "1",
        timeout=60,
        process=POSTGRES if POSTGRES.pid() else None,
    )
    try:
        created = _psql(f"SELECT 1 FROM pg_database WHERE datname = '{POSTGRES_DB}'") != "1"  # noqa: S608 (a constant)
        if created:
            _psql(f'CREATE DATABASE "{POSTGRES_DB}"')
    except RuntimeError as exc:
        raise StepFailed(f"postgres: create database {POSTGRES_DB}", str(exc), POSTGRES.log_file) from exc
    say(f"postgres: ready on 127.0.0.1:{POSTGRES_PORT} (database {POSTGRES_DB}{' created' if created else ''})")


def _previous_postmaster_reaped() -> None:
    """After a SIGKILL, `postmaster.pid` still names the old server, and PostgreSQL refuses to start
    while that PID exists, even as a zombie its new parent (PID 1) has not reaped yet: wait for it."""
    try:
        old = int((POSTGRES_DATA / "postmaster.pid").read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return
    wait_until("postgres: previous server reaped", lambda: process_state(old) != "Z", timeout=30)


def _psql(sql: str) -> str:
    argv = [
        shutil.which("psql") or str(postgres_bindir() / "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
        "-h", "127.0.0.1", "-p", str(POSTGRES_PORT), "-U", "postgres", "-d", "postgres", "-c", sql,
    ]  # fmt: skip
    result = subprocess.run(
        argv, capture_output=True, text=True, env={**os.environ, "PGCONNECT_TIMEOUT": "5"}, timeout=30, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip() or f"psql exit code {result.returncode}")
    return result.stdout.strip()


# --------------------------------------------------------------------------- FerretDB

FERRET_DIR = CACHE / "ferretdb"
FERRET = Managed("ferretdb", FERRET_DIR / "ferretdb.pid", FERRET_DIR / "ferretdb.log", "ferretdb")


def ferretdb_binary() -> Path:
    source = HERE / "ferretdb"
    binary = FERRET_DIR / "bin" / f"ferretdb-{fingerprint(source / 'go.mod', source / 'go.sum', source / 'main.go')}"
    if binary.exists():
        return binary
    if shutil.which("go") is None:
        raise StepFailed("ferretdb: build", "Go is required on PATH")
    binary.parent.mkdir(parents=True, exist_ok=True)
    run_tool(
        "ferretdb: build v1.24.2 with Go",
        ["go", "build", "-trimpath", "-o", str(binary), "."],
        cwd=source,
        log=FERRET_DIR / "build.log",
    )
    return binary


def ferretdb_up() -> None:
    running = FERRET.pid()
    if running is not None and (backend := _ferretdb_backend(running)) != STORE_BACKEND:
        raise StepFailed(
            "ferretdb: backend",
            f"the FerretDB started here (pid {running}) runs on {backend}, not {STORE_BACKEND}; "
            "stop it first (stack.py down ferretdb)",
        )
    if STORE_BACKEND == "postgresql":
        postgres_up()
    if running is None and port_open(MONGO_PORT):
        say(f"ferretdb: something already listens on {MONGO_PORT}; using it as is")
    elif running is None:
        binary = ferretdb_binary()
        FERRET.start(
            [str(binary), "-listen-addr", f"127.0.0.1:{MONGO_PORT}", *_ferretdb_backend_args()], cwd=FERRET_DIR
        )
        say(f"ferretdb: started (pid {FERRET.pid()}, {STORE_BACKEND} backend)")
    wait_until("ferretdb: ping", _mongo_ping, timeout=60, process=FERRET if FERRET.pid() else None)
    say(f"ferretdb: ready on 127.0.0.1:{MONGO_PORT}")


def _ferretdb_backend_args() -> list[str]:
    if STORE_BACKEND == "postgresql":
        url = f"postgres://postgres@127.0.0.1:{POSTGRES_PORT}/{POSTGRES_DB}"
        return ["-handler", "postgresql", "-postgresql-url", url]
    data_dir = FERRET_DIR / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    return ["-handler", "sqlite", "-sqlite-url", f"file:{data_dir}/"]


def _ferretdb_backend(pid: int) -> str:
    """The backend a running FerretDB was started with (`-handler`; sqlite when absent)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except FileNotFoundError:
        return "sqlite"
    return args[args.index("-handler") + 1] if "-handler" in args[:-1] else "sqlite"


def _mongo_ping() -> bool:
    from pymongo import MongoClient

    client: MongoClient[dict[str, object]]
    with MongoClient(f"mongodb://127.0.0.1:{MONGO_PORT}/", serverSelectionTimeoutMS=1000) as client:
        return bool(client.admin.command("ping").get("ok"))


# --------------------------------------------------------------------------- services


def dev_keys(name: str = "dev") -> tuple[Path, Path]:
    """A development key pair (`dev`: access tokens; `impersonation`: panel tokens), generated on
    first use and never committed."""
    private, public = KEYS_DIR / f"{name}-private.pem", KEYS_DIR / f"{name}-public.pem"
    if not (private.exists() and public.exists()):
        from servicekit.auth import generate_key_pair

        KEYS_DIR.mkdir(parents=True, exist_ok=True)
        private_pem, public_pem = generate_key_pair()
        private.write_text(private_pem)
        private.chmod(0o600)
        public.write_text(public_pem)
    return private, public


SIMULATOR = Managed("simulator", RUN_DIR / "simulator.pid", RUN_DIR / "simulator.log", "activity.entrypoints.simulator")


def service_process(name: str) -> Managed:
    return Managed(name, RUN_DIR / f"{name}.pid", RUN_DIR / f"{name}.log", f"-m {name}")


def service_env(name: str) -> dict[str, str]:
    _, public = dev_keys()
    env = {
        "PARTNERAPP_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{KAFKA_PORT}",
        "PARTNERAPP_MONGO_URL": f"mongodb://127.0.0.1:{MONGO_PORT}/",
        "PARTNERAPP_AUTH_PUBLIC_KEY_FILE": str(public),
        f"{name.upper()}_HTTP_PORT": str(SERVICES[name]),
    }
    if name == "instances":
        env["INSTANCES_IMPERSONATION_KEY_FILE"] = str(dev_keys("impersonation")[0])
    if name == "gateway":
        env["GATEWAY_TOKEN_PRIVATE_KEY_FILE"] = str(dev_keys()[0])
        if (WEB_DIST / "index.html").exists():
            env["GATEWAY_WEB_DIR"] = str(WEB_DIST)
    return env


def services_up() -> None:
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    for name in SERVICES:
        process = service_process(name)
        if process.pid() is None:
            process.start([sys.executable, "-m", name], env=service_env(name), cwd=ROOT)
            say(f"{name}: started (pid {process.pid()})")
    for name, port in SERVICES.items():
        wait_until(f"{name}: /readyz", functools.partial(_ready, port), timeout=90, process=service_process(name))
        say(f"{name}: ready on http://127.0.0.1:{port} (docs at /docs)")


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            return bool(response.status == 200)
    except urllib.error.HTTPError:
        return False


# --------------------------------------------------------------------------- CLI

COMPONENTS = ("kafka", "ferretdb", "services")
GROUPS = {"infra": ("kafka", "ferretdb"), "all": COMPONENTS}


def expand(names: Sequence[str], default: Sequence[str]) -> list[str]:
    chosen: list[str] = []
    for name in names or default:
        for part in GROUPS.get(name, (name,)):
            if part not in COMPONENTS:
                raise SystemExit(f"unknown component {part!r}; choose from {', '.join(COMPONENTS + tuple(GROUPS))}")
            if part not in chosen:
                chosen.append(part)
    return chosen


def up(components: list[str]) -> None:
    for component in COMPONENTS:  # dependency order
        if component in components:
            {"kafka": kafka_up, "ferretdb": ferretdb_up, "services": services_up}[component]()


def down(components: list[str]) -> None:
    if "services" in components:
        if SIMULATOR.stop():
            say("simulator: stopped")
        for name in SERVICES:
            if service_process(name).stop():
                say(f"{name}: stopped")
    # PostgreSQL goes with FerretDB, after it, whichever backend is chosen now: stopping one that
    # is not running is a no-op.
    for component, managed in (("ferretdb", FERRET), ("ferretdb", POSTGRES), ("kafka", KAFKA)):
        if component in components and managed.stop(timeout=30):
            say(f"{managed.name}: stopped")


def status(components: list[str]) -> int:
    rows: list[tuple[str, str, str]] = []
    if "kafka" in components:
        rows.append(("kafka", _pid_text(KAFKA), _port_text(KAFKA_PORT)))
    if "ferretdb" in components:
        if STORE_BACKEND == "postgresql" or POSTGRES.pid():
            rows.append(("postgres", _pid_text(POSTGRES), _port_text(POSTGRES_PORT)))
        ferret = FERRET.pid()
        backend = f", {_ferretdb_backend(ferret)} backend" if ferret else ""
        rows.append(("ferretdb", _pid_text(FERRET), _port_text(MONGO_PORT) + backend))
    if "services" in components:
        for name, port in SERVICES.items():
            ready = "ready" if port_open(port) and _ready(port) else "not ready"
            rows.append((name, _pid_text(service_process(name)), f"{_port_text(port)}, {ready}"))
    for row in rows:
        print(f"{row[0]:<10} {row[1]:<18} {row[2]}")
    return 0 if all("not " not in row[2] and "closed" not in row[2] for row in rows) else 1


def _pid_text(managed: Managed) -> str:
    pid = managed.pid()
    return f"running (pid {pid})" if pid else "not started here"


def _port_text(port: int) -> str:
    return f"127.0.0.1:{port} {'open' if port_open(port) else 'closed'}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("up", "down", "status", "keys"))
    parser.add_argument("components", nargs="*", help="kafka, ferretdb, services, infra (= kafka ferretdb) or all")
    args = parser.parse_args(argv)
    components = expand(args.components, GROUPS["all"])
    if STORE_BACKEND not in STORE_BACKENDS:
        raise SystemExit(f"PARTNERAPP_STORE_BACKEND={STORE_BACKEND!r}; choose from {', '.join(STORE_BACKENDS)}")
    try:
        if args.command == "keys":
            for kind in ("dev", "impersonation"):
                private, public = dev_keys(kind)
                say(f"{kind} keys: {public.relative_to(ROOT)} (public), {private.relative_to(ROOT)} (private)")
        elif args.command == "up":
            up(components)
        elif args.command == "down":
            down(components)
        else:
            return status(components)
    except StepFailed as exc:
        print(f"[stack] {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
