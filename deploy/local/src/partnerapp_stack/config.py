"""Where the local stack keeps its files and which ports it uses (environment variables, read once)."""

from __future__ import annotations

import os
from pathlib import Path

LOCAL = Path(__file__).resolve().parents[2]  # deploy/local: the pinned Kafka and FerretDB sources
ROOT = LOCAL.parents[1]
CACHE = Path(os.environ.get("PARTNERAPP_CACHE_DIR", ROOT / ".cache")).resolve()
WEB_DIST = ROOT / "web" / "dist"  # the built web app, served by the gateway when present

KAFKA_PORT = int(os.environ.get("PARTNERAPP_KAFKA_PORT", "9092"))
KAFKA_CONTROLLER_PORT = int(os.environ.get("PARTNERAPP_KAFKA_CONTROLLER_PORT", "9093"))
MONGO_PORT = int(os.environ.get("PARTNERAPP_MONGO_PORT", "27017"))
STORE_BACKENDS = ("sqlite", "postgresql")
# PostgreSQL by default: FerretDB pushes equality filters down to it, and concurrent writes do not
# fail with SQLITE_BUSY (measured with bench/store_backends.py); SQLite is the fallback.
STORE_BACKEND = os.environ.get("PARTNERAPP_STORE_BACKEND", "postgresql")  # checked by the CLI
STORE_BACKEND_CHOSEN = "PARTNERAPP_STORE_BACKEND" in os.environ
POSTGRES_PORT = int(os.environ.get("PARTNERAPP_POSTGRES_PORT", "55432"))

SERVICES = {"gateway": 8000, "instances": 8001, "support": 8002, "reports": 8003, "activity": 8004}
KEYS_DIR = CACHE / "keys"
RUN_DIR = CACHE / "run"
