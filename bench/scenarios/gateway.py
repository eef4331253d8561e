"""4: the gateway's composed instance view and its instance list under concurrent clients, against
the same work done directly."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import uuid
from typing import Any

import httpx

from harness import CACHE, ROOT, BenchInfra, CpuMeter, Platform, Request, get, hammer, processes, say
from scenarios.common import activity, topics


async def gateway(infra: BenchInfra, args: argparse.Namespace, memory: dict[str, float]) -> dict[str, Any]:
    platform = Platform(infra, f"bench-{uuid.uuid4().hex[:6]}.")
    await topics(platform)
    credentials = CACHE / "bench-credentials.json"
    credentials.unlink(missing_ok=True)
    with processes() as started:
        services = {
            "instances": platform.service("instances", "gw"),
            "support": platform.service("support", "gw"),
            "reports": platform.service("reports", "gw"),
            "activity": activity(platform, "gw", "bench_activity_gw", "bench-activity-gw"),
        }
        urls = {f"{name}_url": s.url for name, s in services.items()}
        services["gateway"] = platform.service("gateway", "gw", token_private_key_file=str(platform.key_file), **urls)
        for service in services.values():
            started.append(service)
            service.start()
        for service in services.values():
            await service.wait_ready()
        say("gateway: demo data and users")
        env = {**os.environ, **platform.env("instances"), **platform.env("gateway")}
        demo = ["--json", "--partners", "2", "--companies", "5", "--instances", "2", "--licenses", "3"]
        summary = json.loads(await run_module("instances.entrypoints.demo_data", *demo, env=env))
        partner = summary["partners"][0]
        await run_module("gateway.entrypoints.seed_users", "--credentials", str(credentials), partner, env=env)
        email = f"admin@{partner}.example"
        password = json.loads(credentials.read_text())[email]
        async with httpx.AsyncClient(base_url=services["gateway"].url, timeout=30) as client:
            login = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
            login.raise_for_status()
            token = login.json()["access_token"]
            listing = await client.get("/api/v1/instances?limit=1", headers={"Authorization": f"Bearer {token}"})
            listing.raise_for_status()
            instance_id = listing.json()["items"][0]["id"]
        gateway_url = services["gateway"].url
        targets = {
            "instance_view": (
                get(f"{gateway_url}/api/v1/views/instances/{instance_id}"),
                composed_directly({name: s.url for name, s in services.items()}, instance_id),
            ),
            "instance_list": (
                get(f"{gateway_url}/api/v1/instances?limit=20"),
                get(f"{services['instances'].url}/v1/instances?limit=20"),
            ),
        }
        figures: dict[str, Any] = {"clients": args.clients, "seconds_each": args.gateway_seconds}
        for name, (through_gateway, direct) in targets.items():  # the same work, with and without the gateway
            say(f"gateway: {name} ({args.clients} clients, {args.gateway_seconds:.0f} s each way)")
            pair = figures[name] = {}
            for path, request in (("direct", direct), ("gateway", through_gateway)):
                meter = CpuMeter(services)
                pair[path] = await hammer(request, token, args.clients, args.gateway_seconds)
                pair[path]["cores_used"] = meter.cores()
            pair["throughput_ratio"] = round(pair["direct"]["requests_per_s"] / pair["gateway"]["requests_per_s"], 2)
            pair["p99_ratio"] = round(pair["gateway"]["p99_ms"] / pair["direct"]["p99_ms"], 2)
        for name, service in services.items():
            memory[name] = max(memory.get(name, 0), service.sample_memory())
    return figures


def composed_directly(urls: dict[str, str], instance_id: str) -> Request:
    """The gateway's instance view made by the client itself: the same calls to the same services
    (the instance; then its licenses, then the terminals of up to 10 of them, beside the company's
    thread), so the ratio to the gateway's view is the price of the gateway, not of the work."""

    async def view(client: httpx.AsyncClient) -> bool:
        found = await client.get(f"{urls['instances']}/v1/instances/{instance_id}")
        if found.status_code != 200:
            return False
        instance = found.json()

        async def licenses_and_terminals() -> bool:
            page = await client.get(f"{urls['instances']}/v1/instances/{instance_id}/licenses", params={"limit": 50})
            serials = [item["serial"] for item in page.json().get("items", []) if item.get("serial")][:10]
            answers = await asyncio.gather(
                *(client.get(f"{urls['activity']}/v1/activity/terminals/{serial}") for serial in serials)
            )
            return page.status_code == 200 and all(a.status_code in (200, 404) for a in answers)

        async def thread() -> bool:
            answer = await client.get(f"{urls['support']}/v1/threads/thr-{instance['company_id']}")
            return answer.status_code in (200, 404)

        return all(await asyncio.gather(licenses_and_terminals(), thread()))

    return view


async def run_module(module: str, *args: str, env: dict[str, str]) -> str:
    """`python -m module args` to its end (in a thread: the event loop keeps serving); its output."""
    command = [sys.executable, "-m", module, *args]
    done = await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{module} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return done.stdout
