"""Terminal simulator: K terminals of one instance sending realistic activity through the ingest
endpoint, at a configurable rate; each reacts to a cleared session by fetching its
configuration and logging in again.

    python -m activity.entrypoints.simulator --key pik_… --terminals 50 --rate 20 --duration 60

`--backfill-days N` spreads the events over the last N days instead of "now" (to load volume for
searches); `--total` stops after that many events. Prints what was sent and the rate achieved.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2

from contracts.serials import canonical_serial

MAKERS = [("Samsung", "SM-A546B"), ("Samsung", "SM-T505"), ("Zebra", "TC21"), ("Honeywell", "CT40")]
WORK = ["gps_fix", "task_started", "task_completed", "sync", "gps_fix", "break_start", "break_end", "error"]


@dataclass
class SimTerminal:
    serial: str
    pin: str
    maker: str
    model: str
    battery: int = 100
    state: str = "logged_out"  # logged_out → logged_in → working → logged_out
    seen_epoch: int = 0
    lat: float = 40.4168
    lon: float = -3.7038
    queue: list[str] = field(default_factory=list)

    def next_action(self, rng: random.Random) -> str:
        if self.queue:
            return self.queue.pop(0)
        if self.state == "logged_out":
            self.state = "logged_in"
            return "login"
        if self.state == "logged_in":
            self.state = "working"
            return "clock_in"
        if rng.random() < 0.03:
            self.state = "logged_out"
            self.queue.append("logout")
            return "clock_out"
        return rng.choice(WORK)

    def log_in_again(self, epoch: int) -> None:
        """A cleared session: the terminal fetched the new configuration and logs in again."""
        self.seen_epoch = epoch
        self.state = "logged_in"
        self.queue = ["session_expired", "config_fetched", "login"]

    def details(self, action: str) -> dict[str, Any]:
        """What the terminal reports with an action: the session epoch it saw, with the config fetch
        and the login after a cleared session (so the platform sees the clear delivered and applied)."""
        return {"session_epoch": self.seen_epoch} if action in ("config_fetched", "login") else {}


@dataclass
class Totals:
    sent: int = 0
    accepted: int = 0
    refused: int = 0
    relogins: int = 0
    latencies: list[float] = field(default_factory=list)


def make_event(terminal: SimTerminal, action: str, at: datetime, rng: random.Random) -> dict[str, Any]:
    terminal.battery = max(5, terminal.battery - rng.choice([0, 0, 1]))
    terminal.lat += rng.uniform(-0.0005, 0.0005)
    terminal.lon += rng.uniform(-0.0005, 0.0005)
    return {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "serial": terminal.serial,
        "pin": terminal.pin,
        "action": action,
        "occurred_at": at.isoformat(),
        "battery_pct": terminal.battery,
        "device": {
            "maker": terminal.maker,
            "model": terminal.model,
            "os": "Android",
            "os_version": "14",
            "app_version": "5.12.0",
        },
        "location": {"lat": round(terminal.lat, 6), "lon": round(terminal.lon, 6), "accuracy_m": 8.0},
        "details": terminal.details(action),
    }


async def check_session(
    client: httpx2.AsyncClient, config_url: str, key: str, terminal: SimTerminal, *, first: bool
) -> bool:
    """Fetch the terminal's configuration as a terminal does; True when its session was cleared
    (a higher epoch than it saw: it queues the re-login). The first answer is its starting epoch."""
    try:
        response = await client.get(config_url, params={"serial": terminal.serial}, headers={"X-Ingest-Key": key})
    except httpx2.HTTPError:
        return False
    if response.status_code != 200:
        return False
    epoch = int(response.json()["session_epoch"])
    if first:
        terminal.seen_epoch = epoch
        return False
    if epoch > terminal.seen_epoch:
        terminal.log_in_again(epoch)
        return True
    return False


async def watch_sessions(
    client: httpx2.AsyncClient,
    config_url: str,
    key: str,
    terminals: list[SimTerminal],
    totals: Totals,
    stop: asyncio.Event,
) -> None:
    """Poll the instances service's device endpoint; a higher epoch means: log in again.
    The first answer is the epoch each terminal starts from."""
    first = True
    while not stop.is_set():
        for terminal in terminals:
            if await check_session(client, config_url, key, terminal, first=first):
                totals.relogins += 1
        first = False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 5)


async def run(args: argparse.Namespace) -> Totals:
    rng = random.Random(args.seed)  # noqa: S311  (simulated data)
    terminals = [
        SimTerminal(canonical_serial(f"{args.serial_prefix}{n:05d}"), f"{1000 + n % 9000}", *rng.choice(MAKERS))
        for n in range(args.terminals)
    ]
    totals = Totals()
    stop = asyncio.Event()
    limits = httpx2.Limits(max_connections=args.concurrency)
    async with httpx2.AsyncClient(base_url=args.url, timeout=30, limits=limits) as client:
        watcher = (
            asyncio.create_task(watch_sessions(client, args.config_url, args.key, terminals, totals, stop))
            if args.config_url
            else None
        )
        started = time.perf_counter()
        deadline = started + args.duration
        backfill_start = datetime.now(UTC) - timedelta(days=args.backfill_days) if args.backfill_days else None
        in_flight: set[asyncio.Task[None]] = set()
        interval = args.batch / args.rate if args.rate else 0.0

        async def send(batch: list[dict[str, Any]]) -> None:
            began = time.perf_counter()
            response = await client.post(
                "/v1/ingest/events", json={"events": batch}, headers={"X-Ingest-Key": args.key}
            )
            totals.latencies.append(time.perf_counter() - began)
            if response.status_code == 202:
                totals.accepted += len(batch)
            else:
                totals.refused += len(batch)
                if totals.refused == len(batch):
                    print(f"[simulator] refused: {response.status_code} {response.text[:300]}", file=sys.stderr)  # noqa: T201

        while time.perf_counter() < deadline and (not args.total or totals.sent < args.total):
            size = min(args.batch, args.total - totals.sent) if args.total else args.batch
            batch = []
            for _ in range(size):
                terminal = rng.choice(terminals)
                if backfill_start is not None:
                    at = backfill_start + timedelta(seconds=rng.uniform(0, args.backfill_days * 86400))
                else:
                    at = datetime.now(UTC)
                batch.append(make_event(terminal, terminal.next_action(rng), at, rng))
            totals.sent += len(batch)
            task = asyncio.create_task(send(batch))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            while len(in_flight) >= args.concurrency:
                await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            if interval:
                await asyncio.sleep(max(0.0, started + totals.sent / args.rate - time.perf_counter()))
        if in_flight:
            await asyncio.wait(in_flight)
        elapsed = time.perf_counter() - started
        stop.set()
        if watcher:
            await watcher
    rate = totals.accepted / elapsed if elapsed else 0.0
    lat = sorted(totals.latencies)
    p50 = lat[len(lat) // 2] * 1000 if lat else 0.0
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else 0.0
    print(  # noqa: T201
        f"[simulator] {totals.accepted} accepted, {totals.refused} refused in {elapsed:.1f}s: {rate:.0f} events/s;"
        f" batch POST p50 {p50:.0f} ms, p99 {p99:.0f} ms; {totals.relogins} re-logins after cleared sessions"
    )
    return totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8004", help="the activity service (or the gateway)")
    parser.add_argument(
        "--key",
        default=os.environ.get("SIMULATOR_INGEST_KEY"),
        help="the instance's ingest key (or SIMULATOR_INGEST_KEY)",
    )
    parser.add_argument(
        "--config-url",
        default="",
        help="instances' device endpoint, e.g. http://127.0.0.1:8001/v1/device/configuration",
    )
    parser.add_argument("--terminals", type=int, default=20)
    parser.add_argument("--rate", type=float, default=10.0, help="events per second in total (0: as fast as possible)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds")
    parser.add_argument("--total", type=int, default=0, help="stop after this many events")
    parser.add_argument("--batch", type=int, default=50, help="events per POST (at most 500)")
    parser.add_argument("--concurrency", type=int, default=4, help="POSTs in flight")
    parser.add_argument("--backfill-days", type=float, default=0.0, help="spread events over the last N days")
    parser.add_argument("--serial-prefix", default="SIM")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if not args.key:
        parser.error("an ingest key is needed: --key or SIMULATOR_INGEST_KEY")
    totals = asyncio.run(run(args))
    return 0 if totals.refused == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
