"""Load demo data into a running local platform and print how to reach it (`python -m partnerapp_stack.demo`).

1. The instances service's demo generator: partners, companies, instances of the four types
   across statuses and dates, licenses with terminals (idempotent; sizes via DEMO_* variables).
   Its events wait in the service's outbox and the running service publishes them.
2. A day of telemetry of the demo partner's terminals, published to `terminal.activity`; waits
   until the activity service has stored it.
3. Demo users of the gateway, one per partner plus a staff user; their generated passwords are
   kept in `.cache/demo-credentials.json` and printed.
4. Prints the service URLs and a development access token for the demo partner.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer

from contracts import KAFKA_HEADERS, envelope_for
from contracts.events.activity import DeviceInfo, GeoPoint, TerminalActivity
from partnerapp_stack.config import CACHE, KAFKA_BOOTSTRAP, MONGO_PORT, PROCESSES, SERVICES
from partnerapp_stack.services import SIMULATOR, dev_keys
from servicekit.auth import TokenIssuer
from servicekit.principal import Principal

TERMINALS_FILE = CACHE / "demo-terminals.json"
CREDENTIALS_FILE = CACHE / "demo-credentials.json"

DEMO_PARTNER = "ptn-demo"
SIZES = {
    "--partners": os.environ.get("DEMO_PARTNERS", "3"),
    "--companies": os.environ.get("DEMO_COMPANIES", "4"),
    "--instances": os.environ.get("DEMO_INSTANCES", "2"),
    "--licenses": os.environ.get("DEMO_LICENSES", "4"),
}
# Fixed namespace: re-running the demo produces the same event ids, so nothing is stored twice.
DEMO_NAMESPACE = uuid.UUID("6f1c1c52-8d0e-4c59-9a53-3a1d2d0c7e01")
MAX_TERMINALS = 12
ACTIONS = ["login", "clock_in", "gps_fix", "task_started", "task_completed", "clock_out", "logout"]


def instances_demo() -> tuple[list[str], list[dict[str, Any]]]:
    """Run the instances service's generator; returns its partners and terminals."""
    argv = [sys.executable, "-m", "instances.entrypoints.demo_data", "--json"]
    for flag, value in SIZES.items():
        argv += [flag, value]
    env = {**os.environ, "PARTNERAPP_MONGO_URL": f"mongodb://127.0.0.1:{MONGO_PORT}/"}
    result = subprocess.run(argv, capture_output=True, text=True, env=env, check=True)
    summary = json.loads(result.stdout)
    print(
        f"[demo] instances: {summary['companies']} companies, {summary['instances']} instances,"
        f" {summary['licenses']} licenses for {', '.join(summary['partners']) or 'nobody new'}"
        + (f" (already present for {', '.join(summary['skipped_partners'])})" if summary["skipped_partners"] else "")
    )
    terminals: list[dict[str, Any]] = summary["terminals"]
    return summary["partners"] + summary["skipped_partners"], terminals


def gateway_users(partners: list[str]) -> None:
    """Demo users of the gateway (one per partner, one staff user); prints their credentials."""
    argv = [sys.executable, "-m", "gateway.entrypoints.seed_users", "--credentials", str(CREDENTIALS_FILE), *partners]
    env = {**os.environ, "PARTNERAPP_MONGO_URL": f"mongodb://127.0.0.1:{MONGO_PORT}/"}
    result = subprocess.run(argv, capture_output=True, text=True, env=env, check=True)
    print(f"[demo] users (log in at http://127.0.0.1:{SERVICES['gateway']}/api/v1/auth/login; kept in .cache):")
    for line in result.stdout.splitlines():
        print(f"         {line}")


def demo_events(day: datetime, terminals: list[dict[str, Any]]) -> list[TerminalActivity]:
    events = []
    for index, terminal in enumerate(terminals):
        serial, pin = terminal["serial"], terminal["pin"]
        device = DeviceInfo(maker=terminal["maker"], model=terminal["model"], os="Android", os_version="14")
        start = day.replace(hour=8, minute=0, second=0, microsecond=0) + timedelta(minutes=7 * index)
        for step, action in enumerate(ACTIONS):
            at = start + timedelta(minutes=75 * step)
            events.append(
                TerminalActivity(
                    serial=serial,
                    pin=pin,
                    instance_id=terminal["instance_id"],
                    partner_id=terminal["partner_id"],
                    action=action,
                    occurred_at=at,
                    received_at=at + timedelta(seconds=2),
                    device=device.model_copy(update={"app_version": "5.12.0"}),
                    battery_pct=max(5, 95 - 11 * step - 3 * index),
                    location=GeoPoint(lat=40.4168 + 0.01 * index, lon=-3.7038 - 0.004 * step, accuracy_m=8.0),
                )
            )
    return events


async def publish(events: list[TerminalActivity]) -> list[str]:
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA_BOOTSTRAP, acks="all", enable_idempotence=True)
    await producer.start()
    ids = []
    try:
        for data in events:
            event_id = uuid.uuid5(DEMO_NAMESPACE, f"{data.serial}:{data.occurred_at.isoformat()}:{data.action}")
            envelope = envelope_for(data, source="activity", event_id=event_id)
            await producer.send_and_wait(
                "terminal.activity", envelope.to_json_bytes(), key=data.serial.encode(), headers=list(KAFKA_HEADERS)
            )
            ids.append(str(event_id))
    finally:
        await producer.stop()
    return ids


def start_simulator(instance_id: str, token: str) -> None:
    """Keeps five terminals of a demo instance busy at a low rate while the platform runs."""
    if SIMULATOR.pid() is not None:
        print(f"[demo] simulator already running (pid {SIMULATOR.pid()})")
        return
    instances = f"http://127.0.0.1:{SERVICES['instances']}"
    request = urllib.request.Request(  # noqa: S310  (local URL)
        f"{instances}/v1/instances/{instance_id}/ingest-key",
        method="POST",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        key = json.loads(response.read())["ingest_key"]
    time.sleep(2)  # the key reaches the activity service through Kafka
    SIMULATOR.start(
        [sys.executable, "-m", "activity.entrypoints.simulator", "--terminals", "5", "--rate", "1",
         "--duration", str(7 * 86400), "--batch", "5", "--serial-prefix", "DEMO",
         "--config-url", f"{instances}/v1/device/configuration"],
        env={"SIMULATOR_INGEST_KEY": key},
    )  # fmt: skip
    print(f"[demo] terminal simulator running: 5 terminals, 1 event/s (pid {SIMULATOR.pid()}; `make down` stops it)")


def fetch_items(url: str, token: str) -> list[dict[str, Any]]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310 (local URL)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            items: list[dict[str, Any]] = json.loads(response.read())["items"]
            return items
    except urllib.error.HTTPError:
        return []


def main() -> int:
    private_key, _ = dev_keys()
    issuer = TokenIssuer(private_key.read_text(), issuer="partnerapp-gateway", audience="partnerapp")
    token = issuer.issue(
        Principal("usr-demo-partner", "partner", DEMO_PARTNER, frozenset({DEMO_PARTNER})), ttl=timedelta(hours=8)
    )
    partners, all_terminals = instances_demo()
    gateway_users(partners)
    terminals = [t for t in all_terminals if t["partner_id"] == DEMO_PARTNER][:MAX_TERMINALS]
    if not terminals:  # generated by an earlier run: telemetry for the terminals it made then
        terminals = json.loads(TERMINALS_FILE.read_text()) if TERMINALS_FILE.exists() else []
    TERMINALS_FILE.write_text(json.dumps(terminals))
    if not terminals:
        print("[demo] no demo terminals known; skipping telemetry", file=sys.stderr)
        return 1
    yesterday = datetime.now(UTC) - timedelta(days=1)
    ids = asyncio.run(publish(demo_events(yesterday, terminals)))
    activity = f"http://127.0.0.1:{SERVICES['activity']}"
    day_start = yesterday.replace(hour=0, minute=0, second=0, microsecond=0)
    query = {"serial": terminals[-1]["serial"], "from": day_start.isoformat(), "to": datetime.now(UTC).isoformat()}
    last = f"{activity}/v1/activity/records?{urllib.parse.urlencode(query)}"
    for _ in range(60):
        if len(fetch_items(last, token)) >= len(ACTIONS):
            break
        time.sleep(0.5)
    else:
        print(f"[demo] the activity service did not store the demo events (GET {last})", file=sys.stderr)
        return 1
    print(f"[demo] {len(ids)} telemetry events of {len(terminals)} terminals stored for partner {DEMO_PARTNER}")
    start_simulator(terminals[0]["instance_id"], token)
    print(f"[demo] public API: http://127.0.0.1:{SERVICES['gateway']}/api/v1/docs")
    print("[demo] services (OpenAPI docs at /docs, health at /healthz and /readyz):")
    for service in PROCESSES:
        print(f"         {service.name:<17} http://127.0.0.1:{service.port}")
    print("[demo] a development access token for calling the services directly (valid 8 h; the gateway wants a login):")
    print(f"         export TOKEN={token}")
    print(f'         curl -H "Authorization: Bearer $TOKEN" "{last}"')
    return 0


if __name__ == "__main__":
    sys.exit(main())
