"""Load demo data into a running local platform and print how to reach it.

Today the platform's only data path end to end is terminal telemetry: this publishes a day of
activity of three demo terminals to `terminal.activity`, waits until the activity service has
stored it, and prints the service URLs plus a development access token for the demo partner.
Demo users with passwords arrive with the gateway's login.
"""

from __future__ import annotations

import asyncio
import sys
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaProducer

from contracts import envelope_for
from contracts.events.activity import DeviceInfo, GeoPoint, TerminalActivity
from servicekit.auth import TokenIssuer
from servicekit.principal import Principal

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack import KAFKA_PORT, SERVICES, dev_keys  # a sibling script, not a package

DEMO_PARTNER = "ptn-demo"
DEMO_INSTANCE = "ins-demo-wds"
# Fixed namespace: re-running the demo produces the same event ids, so nothing is stored twice.
DEMO_NAMESPACE = uuid.UUID("6f1c1c52-8d0e-4c59-9a53-3a1d2d0c7e01")
TERMINALS = [
    ("R58N11AAA", "1001", DeviceInfo(maker="Samsung", model="SM-A546B", os="Android", os_version="14")),
    ("R58N22BBB", "1002", DeviceInfo(maker="Samsung", model="SM-T505", os="Android", os_version="13")),
    ("ZB21CCC33", "1003", DeviceInfo(maker="Zebra", model="TC21", os="Android", os_version="11")),
]
ACTIONS = ["login", "clock_in", "gps_fix", "task_started", "task_completed", "clock_out", "logout"]


def demo_events(day: datetime) -> list[TerminalActivity]:
    events = []
    for index, (serial, pin, device) in enumerate(TERMINALS):
        start = day.replace(hour=8, minute=0, second=0, microsecond=0) + timedelta(minutes=7 * index)
        for step, action in enumerate(ACTIONS):
            at = start + timedelta(minutes=75 * step)
            events.append(
                TerminalActivity(
                    serial=serial,
                    pin=pin,
                    instance_id=DEMO_INSTANCE,
                    partner_id=DEMO_PARTNER,
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
    producer = AIOKafkaProducer(bootstrap_servers=f"127.0.0.1:{KAFKA_PORT}", acks="all", enable_idempotence=True)
    await producer.start()
    ids = []
    try:
        for data in events:
            event_id = uuid.uuid5(DEMO_NAMESPACE, f"{data.serial}:{data.occurred_at.isoformat()}:{data.action}")
            envelope = envelope_for(data, source="activity", event_id=event_id)
            await producer.send_and_wait("terminal.activity", envelope.to_json_bytes(), key=data.serial.encode())
            ids.append(str(event_id))
    finally:
        await producer.stop()
    return ids


def fetch(url: str, token: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310 (local URL)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def main() -> int:
    private_key, _ = dev_keys()
    issuer = TokenIssuer(private_key.read_text(), issuer="partnerapp-gateway", audience="partnerapp")
    token = issuer.issue(
        Principal("usr-demo-partner", "partner", DEMO_PARTNER, frozenset({DEMO_PARTNER})), ttl=timedelta(hours=8)
    )
    yesterday = datetime.now(UTC) - timedelta(days=1)
    ids = asyncio.run(publish(demo_events(yesterday)))
    activity = f"http://127.0.0.1:{SERVICES['activity']}"
    last = f"{activity}/v1/activity/records/{ids[-1]}"
    for _ in range(60):
        if fetch(last, token) == 200:
            break
        asyncio.run(asyncio.sleep(0.5))
    else:
        print(f"[demo] the activity service did not store the demo events (GET {last})", file=sys.stderr)
        return 1
    print(f"[demo] {len(ids)} telemetry events of {len(TERMINALS)} terminals stored for partner {DEMO_PARTNER}")
    print("[demo] services (OpenAPI docs at /docs, health at /healthz and /readyz):")
    for name, port in SERVICES.items():
        print(f"         {name:<10} http://127.0.0.1:{port}")
    print("[demo] a development access token for the demo partner (valid 8 h):")
    print(f"         export TOKEN={token}")
    print(f'         curl -H "Authorization: Bearer $TOKEN" {last}')
    return 0


if __name__ == "__main__":
    sys.exit(main())
