"""Where the local stack keeps its files and which ports it uses (environment variables, read once)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

LOCAL = Path(__file__).resolve().parents[2]  # deploy/local: the pinned Kafka and FerretDB sources
ROOT = LOCAL.parents[1]
CACHE = Path(os.environ.get("PARTNERAPP_CACHE_DIR", ROOT / ".cache")).resolve()
WEB_DIST = ROOT / "web" / "dist"  # the built web app, served by the gateway when present

KAFKA_PORT = int(os.environ.get("PARTNERAPP_KAFKA_PORT", "9092"))
KAFKA_CONTROLLER_PORT = int(os.environ.get("PARTNERAPP_KAFKA_CONTROLLER_PORT", "9093"))
# 1 (the default): one KRaft node. 3: a cluster as production runs it (Strimzi: 3 brokers, topics
# with replication factor 3 and min.insync.replicas 2), each node a controller and a broker on
# ports of its own: node n listens on KAFKA_PORT + 2(n-1), its controller on KAFKA_CONTROLLER_PORT + 2(n-1).
KAFKA_BROKERS = int(os.environ.get("PARTNERAPP_KAFKA_BROKERS", "1"))
KAFKA_BROKER_COUNTS = (1, 3)  # checked by the CLI
KAFKA_NODE_PORTS = tuple((KAFKA_PORT + 2 * n, KAFKA_CONTROLLER_PORT + 2 * n) for n in range(KAFKA_BROKERS))
KAFKA_BOOTSTRAP = ",".join(f"127.0.0.1:{port}" for port, _ in KAFKA_NODE_PORTS)
"""What clients are given: every node, so a client starts while any one of them is up."""
# Each broker's JVM heap in MB, fixed (-Xms = -Xmx) and touched at start, so the broker's resident
# memory is level from its start; three nodes take three of them.
KAFKA_HEAP_MB = int(os.environ.get("PARTNERAPP_KAFKA_HEAP_MB", "512"))
MONGO_PORT = int(os.environ.get("PARTNERAPP_MONGO_PORT", "27017"))
STORE_BACKENDS = ("sqlite", "postgresql")
# PostgreSQL by default: far faster (FerretDB pushes equality filters down to it; measured with
# bench/store_backends.py) and no SQLITE_BUSY under concurrent writes. The two 500s FerretDB 1.24
# answers on it are handled in the service kit (servicekit.nul refuses U+0000 at the edge, and
# servicekit.mongo raises a unique index violated by an update as DuplicateKeyError). SQLite (no
# server to install) stays as the fallback: PARTNERAPP_STORE_BACKEND=sqlite.
STORE_BACKEND = os.environ.get("PARTNERAPP_STORE_BACKEND", "postgresql")  # checked by the CLI
STORE_BACKEND_CHOSEN = "PARTNERAPP_STORE_BACKEND" in os.environ
POSTGRES_PORT = int(os.environ.get("PARTNERAPP_POSTGRES_PORT", "55432"))
# FerretDB's connections to PostgreSQL: its own default, 50. Not fewer: FerretDB keeps one for each
# cursor a client has left open and for each update statement of a command until the command ends,
# and waits for a free one without a timeout, so with 16 a bulk of updates wedged the whole store
# (servicekit.mongo.UPDATES_PER_COMMAND; the FerretDB quirks tests). A fixed pool, each connection
# replaced after 2-3 minutes: a pool that grew with the load made PostgreSQL's memory climb with the
# count of its backends (+54 % in the soak's first quarter hour), and a backend's private memory
# grows with its age (~3 MB fresh, ~10 MB after a minute of work, ~11 MB at five; its memory
# contexts hold 2-5 MB of that).
FERRETDB_POSTGRES_POOL = int(os.environ.get("PARTNERAPP_FERRETDB_POSTGRES_POOL", "50"))

SERVICES = {"gateway": 8000, "instances": 8001, "support": 8002, "reports": 8003, "activity": 8004}
"""Each service's HTTP port: what the gateway, the demo and you call."""


@dataclass(frozen=True)
class ServiceProcess:
    """One process of the stack: `python -m <service>` on `port`, with `env` added."""

    name: str  # its PID and log files, and its row in `status`
    service: str
    port: int
    env: Mapping[str, str] = field(default_factory=dict)


# Activity runs as two processes, its two roles: ingest (the API, on the service's port) and the
# consumer (Kafka into the store; only health and metrics on its port).
ACTIVITY_CONSUMER_PORT = 8014
PROCESSES: tuple[ServiceProcess, ...] = (
    *(ServiceProcess(name, name, port) for name, port in SERVICES.items() if name != "activity"),
    ServiceProcess("activity", "activity", SERVICES["activity"], {"ACTIVITY_ROLE": "ingest"}),
    ServiceProcess("activity-consumer", "activity", ACTIVITY_CONSUMER_PORT, {"ACTIVITY_ROLE": "consumer"}),
)
KEYS_DIR = CACHE / "keys"
RUN_DIR = CACHE / "run"
