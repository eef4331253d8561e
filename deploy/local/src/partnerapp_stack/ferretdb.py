"""FerretDB: built with Go from the pinned `ferretdb/` module, on SQLite or on PostgreSQL."""

from __future__ import annotations

import shutil
from pathlib import Path

from partnerapp_stack import postgres
from partnerapp_stack.config import (
    CACHE,
    FERRETDB_POSTGRES_POOL,
    LOCAL,
    MONGO_PORT,
    POSTGRES_PORT,
    STORE_BACKEND,
    STORE_BACKEND_CHOSEN,
)
from partnerapp_stack.process import Managed, StepFailed, fingerprint, port_open, run_tool, say, wait_until

FERRET_DIR = CACHE / "ferretdb"
SOURCES = LOCAL / "ferretdb"  # a Go module pinning FerretDB
FERRET = Managed("ferretdb", FERRET_DIR / "ferretdb.pid", FERRET_DIR / "ferretdb.log", "ferretdb")


def binary_path() -> Path:
    """Where the FerretDB of the pinned sources is (or will be) built to."""
    return FERRET_DIR / "bin" / f"ferretdb-{fingerprint(SOURCES / 'go.mod', SOURCES / 'go.sum', SOURCES / 'main.go')}"


def build() -> Path:
    """The FerretDB binary, built with Go the first time."""
    binary = binary_path()
    if binary.exists():
        return binary
    if shutil.which("go") is None:
        raise StepFailed("ferretdb: build", "Go is required on PATH")
    binary.parent.mkdir(parents=True, exist_ok=True)
    run_tool(
        "ferretdb: build v1.24.2 with Go",
        ["go", "build", "-trimpath", "-o", str(binary), "."],
        cwd=SOURCES,
        log=FERRET_DIR / "build.log",
    )
    return binary


def up() -> None:
    running = FERRET.pid()
    backend = STORE_BACKEND
    if running is not None and (running_on := running_backend(running)) != STORE_BACKEND:
        if STORE_BACKEND_CHOSEN:
            raise StepFailed(
                "ferretdb: backend",
                f"the FerretDB started here (pid {running}) runs on {running_on}, not {STORE_BACKEND}; "
                "stop it first (python -m partnerapp_stack down ferretdb)",
            )
        # Not asked for by name: keep what an earlier `up` (of another default) left running.
        say(f"ferretdb: running on {running_on} (started earlier); `down ferretdb` then `up` switches to {backend}")
        backend = running_on
    if backend == "postgresql":
        postgres.up()
    if running is None and port_open(MONGO_PORT):
        say(f"ferretdb: something already listens on {MONGO_PORT}; using it as is")
    elif running is None:
        binary = build()
        FERRET.start([str(binary), "-listen-addr", f"127.0.0.1:{MONGO_PORT}", *_backend_args()], cwd=FERRET_DIR)
        say(f"ferretdb: started (pid {FERRET.pid()}, {STORE_BACKEND} backend)")
    wait_until("ferretdb: ping", _mongo_ping, timeout=60, process=FERRET if FERRET.pid() else None)
    say(f"ferretdb: ready on 127.0.0.1:{MONGO_PORT}")


def _backend_args() -> list[str]:
    if STORE_BACKEND == "postgresql":
        size = FERRETDB_POSTGRES_POOL
        pool = (
            f"pool_min_conns={size}&pool_max_conns={size}"
            "&pool_max_conn_lifetime=2m&pool_max_conn_lifetime_jitter=1m&pool_health_check_period=30s"
        )
        url = f"postgres://postgres@127.0.0.1:{POSTGRES_PORT}/{postgres.POSTGRES_DB}?{pool}"
        return ["-handler", "postgresql", "-postgresql-url", url]
    data_dir = FERRET_DIR / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    return ["-handler", "sqlite", "-sqlite-url", f"file:{data_dir}/"]


def running_backend(pid: int) -> str:
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
