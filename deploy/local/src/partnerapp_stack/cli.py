"""Run partnerapp locally without Docker: real Kafka, real FerretDB, the five services (activity
as two processes, its ingest and consumer roles).

    python -m partnerapp_stack up     [kafka|ferretdb|infra|services|all ...]
    python -m partnerapp_stack down   [...]
    python -m partnerapp_stack status [...]
    python -m partnerapp_stack keys       (create the development token keys, if missing)

Everything is cached under `.cache/` (git-ignored): the broker jars that Maven resolves from the
pinned `deploy/local/kafka/pom.xml`, the FerretDB binary built from `deploy/local/ferretdb/`
(pinned in its go.mod), their data directories, logs, PID files and the development token keys.
`PARTNERAPP_KAFKA_BROKERS=3` runs Kafka as production does, a cluster of three KRaft nodes (each a
controller and a broker; node n on port PARTNERAPP_KAFKA_PORT + 2(n-1), its data, log and PID file
under `.cache/kafka/cluster/`), whose topics keep 3 copies and acknowledge a record once 2 have it;
`up kafka` then starts whichever node is not running. The first `up` downloads and builds; later
ones take seconds. `up` returns only once each part is really ready (Kafka: topics created from the
contracts' catalogue and a produce/consume round trip in a consumer group; FerretDB: a ping;
services: `/readyz`), and a failure names the step and prints the log's tail. Only processes
started here (by PID file) are ever stopped.

FerretDB stores its data in PostgreSQL by default (the server binaries of Debian's `postgresql`
package, which tools/bootstrap.sh installs when missing; data directory, socket, log and PID file
under `.cache/postgres/`, port `PARTNERAPP_POSTGRES_PORT`, default 55432): that backend pushes
equality filters down to SQL, where the SQLite one decodes and filters every document in Go, and
concurrent writes do not fail with SQLITE_BUSY. `up ferretdb` starts PostgreSQL first (initdb
once, database `ferretdb` created if missing) and `down ferretdb` stops it after FerretDB. As
root the server runs as the `postgres` user; if that user cannot enter the cache, its data and
socket go under its home instead (`~postgres/partnerapp/<hash of the cache path>/`).
`PARTNERAPP_STORE_BACKEND=sqlite` keeps FerretDB on SQLite files under `.cache/ferretdb/data/`
instead (no server needed). A FerretDB an earlier `up` left running on the other backend is kept
unless the variable names one.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from partnerapp_stack import ferretdb, kafka, postgres, services
from partnerapp_stack.config import (
    KAFKA_BROKER_COUNTS,
    KAFKA_BROKERS,
    MONGO_PORT,
    POSTGRES_PORT,
    PROCESSES,
    ROOT,
    STORE_BACKEND,
    STORE_BACKENDS,
)
from partnerapp_stack.process import Managed, StepFailed, port_open, say

COMPONENTS = ("kafka", "ferretdb", "services")
GROUPS = {"infra": ("kafka", "ferretdb"), "all": COMPONENTS}
NODE_NAMES = {node.process.name: node.number for node in kafka.NODES if len(kafka.NODES) > 1}
"""`up kafka-2`: one node of the cluster only (the fault suite brings one back of two it stopped)."""


def expand(names: Sequence[str], default: Sequence[str]) -> list[str]:
    chosen: list[str] = []
    for name in names or default:
        for part in GROUPS.get(name, (name,)):
            if part not in COMPONENTS and part not in NODE_NAMES:
                raise SystemExit(f"unknown component {part!r}; choose from {', '.join(COMPONENTS + tuple(GROUPS))}")
            if part not in chosen:
                chosen.append(part)
    return chosen


def up(components: list[str]) -> None:
    for name, number in NODE_NAMES.items():
        if name in components and "kafka" not in components:
            kafka.up(only=number)
    for component in COMPONENTS:  # dependency order
        if component in components:
            {"kafka": kafka.up, "ferretdb": ferretdb.up, "services": services.up}[component]()


def down(components: list[str]) -> None:
    if "services" in components:
        if services.SIMULATOR.stop():
            say("simulator: stopped")
        for service in PROCESSES:
            if services.service_process(service).stop():
                say(f"{service.name}: stopped")
    # PostgreSQL goes with FerretDB, after it, whichever backend is chosen now: stopping one that
    # is not running is a no-op.
    stopping = (
        ("ferretdb", ferretdb.FERRET),
        ("ferretdb", postgres.POSTGRES),
        *(("kafka", node) for node in kafka.EVERY_PROCESS),
    )
    for component, managed in stopping:
        if component in components and managed.stop(timeout=30):
            say(f"{managed.name}: stopped")


def status(components: list[str]) -> int:
    rows: list[tuple[str, str, str]] = []
    if "kafka" in components:
        rows.extend((node.process.name, _pid_text(node.process), _port_text(node.port)) for node in kafka.NODES)
    if "ferretdb" in components:
        ferret = ferretdb.FERRET.pid()
        backend_used = ferretdb.running_backend(ferret) if ferret else STORE_BACKEND
        if backend_used == "postgresql" or postgres.POSTGRES.pid():
            rows.append(("postgres", _pid_text(postgres.POSTGRES), _port_text(POSTGRES_PORT)))
        backend = f", {ferretdb.running_backend(ferret)} backend" if ferret else ""
        rows.append(("ferretdb", _pid_text(ferretdb.FERRET), _port_text(MONGO_PORT) + backend))
    if "services" in components:
        for service in PROCESSES:
            port = service.port
            ready = "ready" if port_open(port) and services.ready(port) else "not ready"
            rows.append((service.name, _pid_text(services.service_process(service)), f"{_port_text(port)}, {ready}"))
    for row in rows:
        print(f"{row[0]:<17} {row[1]:<18} {row[2]}")
    return 0 if all("not " not in row[2] and "closed" not in row[2] for row in rows) else 1


def _pid_text(managed: Managed) -> str:
    pid = managed.pid()
    return f"running (pid {pid})" if pid else "not started here"


def _port_text(port: int) -> str:
    return f"127.0.0.1:{port} {'open' if port_open(port) else 'closed'}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m partnerapp_stack", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=("up", "down", "status", "keys"))
    parser.add_argument(
        "components", nargs="*", help="kafka (or kafka-N, one node of a cluster), ferretdb, services, infra or all"
    )
    args = parser.parse_args(argv)
    components = expand(args.components, GROUPS["all"])
    if STORE_BACKEND not in STORE_BACKENDS:
        raise SystemExit(f"PARTNERAPP_STORE_BACKEND={STORE_BACKEND!r}; choose from {', '.join(STORE_BACKENDS)}")
    if KAFKA_BROKERS not in KAFKA_BROKER_COUNTS:
        raise SystemExit(
            f"PARTNERAPP_KAFKA_BROKERS={KAFKA_BROKERS}; choose from {', '.join(map(str, KAFKA_BROKER_COUNTS))}"
        )
    try:
        if args.command == "keys":
            for kind in ("dev", "impersonation"):
                private, public = services.dev_keys(kind)
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
