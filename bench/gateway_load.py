"""The gateway's cost: its endpoints under concurrent clients beside the backing service called directly.

Needs the local platform with demo data (`make up`). Logs in as the demo partner's user (its
password is in `.cache/demo-credentials.json`), then for `--seconds` each, with `--clients`
concurrent clients:

- instance list: `GET /api/v1/instances?limit=20` (gateway, forwarded) vs `GET /v1/instances?limit=20`
  (the instances service directly, same token);
- instance detail: `GET /api/v1/views/instances/{id}` (gateway, composed from four services) vs
  `GET /v1/instances/{id}` (instances directly) — the composed view does more work by design, so
  its ratio is the price of composition, not only of the hop.

Prints one JSON line: requests/s, p50/p99 (ms) and errors per target, the ratios gateway/direct,
and each service process's peak RSS (VmHWM) after the run.

    uv run python bench/gateway_load.py --clients 50 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("PARTNERAPP_CACHE_DIR", ROOT / ".cache"))
GATEWAY = "http://127.0.0.1:8000"
INSTANCES = "http://127.0.0.1:8001"
DEMO_USER = "admin@ptn-demo.example"
SERVICES = ("gateway", "instances", "support", "reports", "activity")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def hammer(url: str, token: str, clients: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30, limits=limits) as client:

        async def one_client() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                response = await client.get(url)
                latencies.append((time.perf_counter() - began) * 1000)
                if response.status_code != 200:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return {
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.5), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "requests": len(latencies),
        "errors": errors,
    }


def peak_rss_mb() -> dict[str, float | None]:
    peaks: dict[str, float | None] = {}
    for name in SERVICES:
        pid_file = CACHE / "run" / f"{name}.pid"
        try:
            status = Path(f"/proc/{int(pid_file.read_text().split()[0])}/status").read_text()
        except (OSError, ValueError, IndexError):
            peaks[name] = None
            continue
        line = next((row for row in status.splitlines() if row.startswith("VmHWM:")), None)
        peaks[name] = round(int(line.split()[1]) / 1024, 1) if line else None
    return peaks


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    password = json.loads((CACHE / "demo-credentials.json").read_text())[DEMO_USER]
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=30) as client:
        login = await client.post("/api/v1/auth/login", json={"email": DEMO_USER, "password": password})
        login.raise_for_status()
        token = login.json()["access_token"]
        instances = await client.get(
            "/api/v1/instances", params={"limit": 1}, headers={"Authorization": f"Bearer {token}"}
        )
        instance_id = instances.json()["items"][0]["id"]
    targets = {
        "list_gateway": f"{GATEWAY}/api/v1/instances?limit=20",
        "list_direct": f"{INSTANCES}/v1/instances?limit=20",
        "detail_gateway_composed": f"{GATEWAY}/api/v1/views/instances/{instance_id}",
        "detail_gateway_forwarded": f"{GATEWAY}/api/v1/instances/{instance_id}",
        "detail_direct": f"{INSTANCES}/v1/instances/{instance_id}",
    }
    figures: dict[str, Any] = {"clients": args.clients, "seconds": args.seconds, "cores": os.cpu_count()}
    for name, url in targets.items():
        figures[name] = await hammer(url, token, args.clients, args.seconds)
    for gateway, direct in (
        ("list_gateway", "list_direct"),
        ("detail_gateway_forwarded", "detail_direct"),
        ("detail_gateway_composed", "detail_direct"),
    ):
        figures[f"{gateway}_vs_direct"] = {
            "p50": round(figures[gateway]["p50_ms"] / figures[direct]["p50_ms"], 2),
            "p99": round(figures[gateway]["p99_ms"] / figures[direct]["p99_ms"], 2),
            "throughput": round(figures[direct]["requests_per_s"] / figures[gateway]["requests_per_s"], 2),
        }
    figures["peak_rss_mb"] = peak_rss_mb()
    sys.stdout.write(json.dumps(figures) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
