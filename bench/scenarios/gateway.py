"""4: the gateway under concurrent clients, each figure beside its floor from the same run.

- the composed instance view, the instance list and the support thread list, through the gateway
  and against the same work done directly (the view's calls made by the client itself);
- the floors: the framework's (the gateway's `/healthz`, with httpx and with a lighter load
  generator, to show which one is the limit) and the store's (the list's and the thread list's
  `find`, as the services' adapters send it for a first page, sent raw with PyMongo);
- store commands per request, per route (every service's `partnerapp_store_commands_total`);
- the highest client count that keeps the list's p99 within 200 ms (a short step search);
- the mixed load: readers of the list while terminals post telemetry through the gateway.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx2
from pymongo import AsyncMongoClient

from harness import (
    ROOT,
    BenchInfra,
    CpuMeter,
    Platform,
    Request,
    ServiceProcess,
    StoreFind,
    Terminals,
    captured_finds,
    get,
    hammer,
    issue_ingest_key,
    light_hammer,
    processes,
    say,
    store_commands,
    store_hammer,
)
from instances.adapters.mongo import MongoInstanceRepository
from instances.service_layer.ports import InstanceQuery
from scenarios.common import activity, topics
from servicekit.mongo import DocumentLocks
from support.adapters.mongo import MongoThreadRepository
from support.service_layer.ports import ThreadQuery

PARTS = ("view", "list", "threads", "floors", "store-commands", "step-search", "mixed")
"""What `--only` can pick of this scenario (`gateway` picks them all); run in this order, the mixed
load last: its telemetry keeps the activity consumer busy after it."""

STEPS = (5, 10, 20, 35, 50)
STEP_P99_MS = 200
MIXED_TERMINALS = 5
MESSAGES_PER_THREAD = 10
COUNTED_REQUESTS = 20
INSTANCES_DATABASE, SUPPORT_DATABASE = "partnerapp_instances", "partnerapp_support"  # the services' defaults


async def gateway(infra: BenchInfra, args: argparse.Namespace, memory: dict[str, float]) -> dict[str, Any]:
    parts = set(args.gateway_parts)
    platform = Platform(infra, f"bench-{uuid.uuid4().hex[:6]}.")
    await topics(platform)
    with processes() as started:
        services = behind_gateway(
            platform, "gw", {"activity": activity(platform, "gw", "bench_activity_gw", "bench-activity-gw")}
        )
        await start_all(services, started)
        seed = await seeded(platform, services, parts)
        run = Run(infra, platform, services, seed.token, seed.partner, seed.instance_id, args)
        figures = await measured(run, parts)
        for name, service in services.items():
            memory[name] = max(memory.get(name, 0), service.sample_memory())
    return figures


def behind_gateway(platform: Platform, tag: str, activity: dict[str, ServiceProcess]) -> dict[str, ServiceProcess]:
    """The platform's services and the gateway in front of them; `activity` is that service's
    processes (one in both roles, or `activity` for ingest beside `activity-consumer`): the gateway
    calls `activity`."""
    services = {
        "instances": platform.service("instances", tag),
        "support": platform.service("support", tag),
        "reports": platform.service("reports", tag),
        **activity,
    }
    urls = {f"{name}_url": services[name].url for name in ("instances", "support", "reports", "activity")}
    services["gateway"] = platform.service("gateway", tag, token_private_key_file=str(platform.key_file), **urls)
    return services


async def start_all(services: dict[str, ServiceProcess], started: list[ServiceProcess]) -> None:
    """Start every process (each added to `started`, so it is stopped whatever happens), then wait
    until each is ready."""
    for service in services.values():
        started.append(service)
        service.start()
    for service in services.values():
        await service.wait_ready()


@dataclass(frozen=True)
class Seeded:
    """The demo data's partner, one of its instances, and its admin's login answer (the access
    token lives `expires_in` seconds; `refresh_token` gets the next pair once)."""

    partner: str
    instance_id: str
    login: dict[str, Any]

    @property
    def token(self) -> str:
        return str(self.login["access_token"])


async def seeded(platform: Platform, services: dict[str, ServiceProcess], parts: set[str]) -> Seeded:
    """Demo data, the partner's admin logged in (threads with messages when a part reads them)."""
    credentials = platform.infra.cache / "bench-credentials.json"
    credentials.unlink(missing_ok=True)
    say("gateway: demo data and users")
    env = {**os.environ, **platform.env("instances"), **platform.env("gateway")}
    demo = ["--json", "--partners", "2", "--companies", "5", "--instances", "2", "--licenses", "3"]
    summary = json.loads(await run_module("instances.entrypoints.demo_data", *demo, env=env))
    partner = summary["partners"][0]
    await run_module("gateway.entrypoints.seed_users", "--credentials", str(credentials), partner, env=env)
    email = f"admin@{partner}.example"
    password = json.loads(credentials.read_text())[email]
    gateway_url = services["gateway"].url
    async with httpx2.AsyncClient(base_url=gateway_url, timeout=30) as client:
        answer = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
        answer.raise_for_status()
        login = answer.json()
        client.headers["Authorization"] = f"Bearer {login['access_token']}"
        listing = await client.get("/api/v1/instances?limit=1")
        listing.raise_for_status()
        instance_id = listing.json()["items"][0]["id"]
        if parts & {"threads", "store-commands"}:
            say(f"gateway: the partner's threads, {MESSAGES_PER_THREAD} messages each")
            await threads_with_messages(client, expected=5)
    return Seeded(partner, instance_id, login)


@dataclass(frozen=True)
class Run:
    """What the parts of this scenario share."""

    infra: BenchInfra
    platform: Platform
    services: dict[str, ServiceProcess]
    token: str
    partner: str
    instance_id: str
    args: argparse.Namespace


async def measured(run: Run, parts: set[str]) -> dict[str, Any]:
    services, args, token, instance_id = run.services, run.args, run.token, run.instance_id
    gateway_url = services["gateway"].url
    list_url = f"{gateway_url}/api/v1/instances?limit=20"
    degraded: dict[str, int] = {"answers": 0, "degraded": 0}
    targets: dict[str, tuple[Target, Target]] = {}
    if "view" in parts:
        targets["instance_view"] = (
            view_counting_degraded(f"{gateway_url}/api/v1/views/instances/{instance_id}", degraded),
            composed_directly({name: s.url for name, s in services.items()}, instance_id),
        )
    if "list" in parts:
        targets["instance_list"] = (list_url, f"{services['instances'].url}/v1/instances?limit=20")
    if "threads" in parts:
        targets["thread_list"] = (
            f"{gateway_url}/api/v1/threads?limit=20",
            f"{services['support'].url}/v1/threads?limit=20",
        )
    figures: dict[str, Any] = {"clients": args.clients, "seconds_each": args.gateway_seconds}
    for name, (through_gateway, direct) in targets.items():  # the same work, with and without the gateway
        say(f"gateway: {name} ({args.clients} clients, {args.gateway_seconds:.0f} s each way)")
        await guarded(figures, name, compared(services, token, through_gateway, direct, args))
    if "instance_view" in figures:
        figures["instance_view"]["gateway"]["degraded"] = degraded["degraded"]
        figures["instance_view"]["gateway"]["degraded_pct"] = round(
            100 * degraded["degraded"] / max(degraded["answers"], 1), 1
        )
    await beside_floors_and_capacity(run, parts, figures)
    return figures


async def beside_floors_and_capacity(run: Run, parts: set[str], figures: dict[str, Any]) -> None:
    """The parts measured beside the compared targets: floors, store commands, step search, mixed load."""
    infra, platform, services, args = run.infra, run.platform, run.services, run.args
    token, partner, instance_id = run.token, run.partner, run.instance_id
    gateway_url = services["gateway"].url
    list_url = f"{gateway_url}/api/v1/instances?limit=20"
    if "floors" in parts:
        await guarded(figures, "floors", floors(infra, services, token, partner, args))
    if "store-commands" in parts:
        say(f"gateway: store commands per request ({COUNTED_REQUESTS} requests a route, one at a time)")
        routes = {
            "healthz (gateway)": f"{gateway_url}/healthz",
            "instance_list (gateway)": list_url,
            "instance_list, page of 2 (gateway)": f"{gateway_url}/api/v1/instances?limit=2",
            "instance_list (direct)": f"{services['instances'].url}/v1/instances?limit=20",
            "thread_list (gateway)": f"{gateway_url}/api/v1/threads?limit=20",
            "thread_list, page of 2 (gateway)": f"{gateway_url}/api/v1/threads?limit=2",
            "thread_list (direct)": f"{services['support'].url}/v1/threads?limit=20",
            "instance_view (gateway)": f"{gateway_url}/api/v1/views/instances/{instance_id}",
        }
        await guarded(figures, "store_commands", commands_per_request(services, token, routes))
    if "step-search" in parts and args.step_seconds > 0:
        await guarded(figures, "step_search", step_search(list_url, token, args))
    if "mixed" in parts:
        await guarded(figures, "mixed", mixed_load(platform, services, token, partner, list_url, args))


Target = str | Request
"""A URL to GET (with the light generator), or a request to make with httpx (a composition)."""


def load(target: Target, token: str, clients: int, seconds: float) -> Awaitable[dict[str, Any]]:
    if isinstance(target, str):
        return light_hammer(target, {"Authorization": f"Bearer {token}"}, clients, seconds)
    return hammer(target, token, clients, seconds)


async def guarded(figures: dict[str, Any], key: str, work: Awaitable[dict[str, Any]]) -> None:
    """`figures[key]` from `work`; a failure is named in `figures["failed"]` and the other parts still run."""
    try:
        figures[key] = await work
    except Exception as exc:
        say(f"gateway: {key} failed: {exc!r}")
        figures.setdefault("failed", {})[key] = repr(exc)


async def compared(
    services: dict[str, ServiceProcess], token: str, through_gateway: Target, direct: Target, args: argparse.Namespace
) -> dict[str, Any]:
    pair = {
        path: await metered(services, load(target, token, args.clients, args.gateway_seconds))
        for path, target in (("direct", direct), ("gateway", through_gateway))
    }
    pair["throughput_ratio"] = round(pair["direct"]["requests_per_s"] / pair["gateway"]["requests_per_s"], 2)
    pair["p99_ratio"] = round(pair["gateway"]["p99_ms"] / pair["direct"]["p99_ms"], 2)
    return pair


async def metered(services: dict[str, ServiceProcess], load: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    """The load's figures with the cores each part used meanwhile."""
    meter = CpuMeter(services)
    figures = await load
    figures["cores_used"] = meter.cores()
    return figures


async def threads_with_messages(client: httpx2.AsyncClient, expected: int) -> None:
    """Wait for support to have made the partner's threads (from the companies' events), then post
    messages in each, so the thread list has counts to show."""
    deadline = time.monotonic() + 60
    while len(items := (await client.get("/api/v1/threads?limit=50")).json().get("items", [])) < expected:
        if time.monotonic() > deadline:
            raise RuntimeError(f"support made {len(items)} of the partner's {expected} threads within 60 s")
        await asyncio.sleep(0.5)
    for thread in items:
        for n in range(MESSAGES_PER_THREAD):
            posted = await client.post(f"/api/v1/threads/{thread['id']}/messages", json={"body": f"bench message {n}"})
            posted.raise_for_status()


def view_counting_degraded(url: str, tally: dict[str, int]) -> Request:
    async def view(client: httpx2.AsyncClient) -> bool:
        answer = await client.get(url)
        if answer.status_code != 200:
            return False
        tally["answers"] += 1
        tally["degraded"] += bool(answer.json().get("degraded"))
        return True

    return view


async def floors(
    infra: BenchInfra, services: dict[str, ServiceProcess], token: str, partner: str, args: argparse.Namespace
) -> dict[str, Any]:
    clients, seconds = args.clients, args.gateway_seconds
    healthz = f"{services['gateway'].url}/healthz"
    say(f"floors: the gateway's /healthz ({clients} clients, {seconds:.0f} s with httpx2, then with raw asyncio)")
    figures: dict[str, Any] = {
        "healthz_httpx": await metered(services, hammer(get(healthz), token, clients, seconds)),
        "healthz_light": await metered(services, light_hammer(healthz, {}, clients, seconds)),
    }

    async def instance_list(client: AsyncMongoClient[Any]) -> object:
        return await MongoInstanceRepository(client[INSTANCES_DATABASE], DocumentLocks()).search(
            partner, InstanceQuery()
        )

    async def thread_list(client: AsyncMongoClient[Any]) -> object:
        return await MongoThreadRepository(client[SUPPORT_DATABASE], DocumentLocks()).search(ThreadQuery((partner,)))

    adapters: dict[str, Callable[[AsyncMongoClient[Any]], Awaitable[object]]] = {
        "store_instance_list": instance_list,
        "store_thread_list": thread_list,
    }
    for name, query in adapters.items():
        find = (await captured_finds(infra.mongo_url, query))[0]
        say(f"floors: {name}, the adapter's find sent raw ({clients} clients, {seconds:.0f} s)")
        figures[name] = await metered(services, store_hammer(infra.mongo_url, find, clients, seconds))
        figures[name]["find"] = describe(find)
    return figures


def describe(find: StoreFind) -> str:
    projection = f", {json.dumps(find.projection)}" if find.projection else ""
    query = json.dumps(find.filter, default=str)
    return f"{find.collection}.find({query}{projection}).sort({find.sort}).limit({find.limit})"


async def commands_per_request(
    services: dict[str, ServiceProcess], token: str, routes: dict[str, str]
) -> dict[str, Any]:
    """Each route asked `COUNTED_REQUESTS` times, one at a time; the store commands every service
    sent meanwhile while answering HTTP requests, per request (by command name). The services'
    background work (the gateway's access-log poll, outbox scans, inbox pruning) is left out of
    those (each service counts it apart): its rate while idle is given beside."""
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:

        async def totals(*, in_requests: bool) -> dict[str, dict[str, float]]:
            return {name: await store_commands(client, s.url, in_requests=in_requests) for name, s in services.items()}

        before, began = await totals(in_requests=False), time.monotonic()
        await asyncio.sleep(2)
        idle = difference(before, await totals(in_requests=False), time.monotonic() - began)
        figures: dict[str, Any] = {"requests_each": COUNTED_REQUESTS, "idle_per_s": idle, "routes": {}}
        for route, url in routes.items():
            await client.get(url)  # warm
            before = await totals(in_requests=True)
            for _ in range(COUNTED_REQUESTS):
                (await client.get(url)).raise_for_status()
            figures["routes"][route] = difference(before, await totals(in_requests=True), COUNTED_REQUESTS)
    return figures


def difference(
    before: dict[str, dict[str, float]], after: dict[str, dict[str, float]], per: float
) -> dict[str, dict[str, float]]:
    """Per service and command: (after - before) / per, leaving out what did not move."""
    moved: dict[str, dict[str, float]] = {}
    for service, counts in after.items():
        for command, count in counts.items():
            delta = (count - before.get(service, {}).get(command, 0.0)) / per
            if delta >= 0.05:
                moved.setdefault(service, {})[command] = round(delta, 1)
    return moved


async def step_search(list_url: str, token: str, args: argparse.Namespace) -> dict[str, Any]:
    """The list through the gateway at growing client counts, until its p99 passes 200 ms."""
    steps: list[dict[str, Any]] = []
    highest = None
    for clients in STEPS:
        say(f"step search: the list at {clients} clients ({args.step_seconds:.0f} s)")
        figures = await load(list_url, token, clients, args.step_seconds)
        steps.append({"clients": clients, **figures})
        if figures["p99_ms"] > STEP_P99_MS or figures["errors"]:
            break
        highest = clients
    return {"p99_limit_ms": STEP_P99_MS, "seconds_each": args.step_seconds, "steps": steps, "highest_clients": highest}


async def mixed_load(
    platform: Platform,
    services: dict[str, ServiceProcess],
    token: str,
    partner: str,
    list_url: str,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Readers of the list through the gateway, alone and then while terminals post telemetry
    through the gateway as fast as it answers."""
    readers, seconds = args.clients - MIXED_TERMINALS, args.gateway_seconds
    say(f"mixed: {readers} readers of the list alone ({seconds:.0f} s)")
    alone = await metered(services, load(list_url, token, readers, seconds))
    key = await issue_ingest_key(platform, "bench_activity_gw", partner)
    say(f"mixed: {readers} readers while {MIXED_TERMINALS} terminals post telemetry ({seconds:.0f} s)")
    terminals = Terminals(f"{services['gateway'].url}/api", key, workers=MIXED_TERMINALS)
    terminals.start()
    try:
        with_ingest = await metered(services, load(list_url, token, readers, seconds))
    finally:
        await terminals.finish()
    return {
        "readers": readers,
        "terminals": MIXED_TERMINALS,
        "readers_alone": alone,
        "readers_with_ingest": with_ingest,
        "events_acknowledged": terminals.acked,
        "batches_refused": terminals.refused // terminals.batch,
        "errors": with_ingest["errors"] + terminals.refused // terminals.batch,
        "p99_ratio": round(with_ingest["p99_ms"] / alone["p99_ms"], 2),
    }


def composed_directly(urls: dict[str, str], instance_id: str) -> Request:
    """The gateway's instance view made by the client itself: the same calls to the same services
    (the instance with its licenses; then, together, the company's thread and the terminals of up
    to 10 of them in one call), so the ratio to the gateway's view is the price of the gateway, not
    of the work."""

    async def view(client: httpx2.AsyncClient) -> bool:
        found = await client.get(
            f"{urls['instances']}/v1/instances/{instance_id}/overview", params={"license_limit": 50}
        )
        if found.status_code != 200:
            return False
        overview = found.json()
        instance, page = overview["instance"], overview["licenses"]
        serials = list(dict.fromkeys(item["serial"] for item in page.get("items", []) if item.get("serial")))[:10]

        async def terminals() -> bool:
            if not serials:
                return True
            answer = await client.get(
                f"{urls['activity']}/v1/activity/terminals", params={"serial": serials, "limit": len(serials)}
            )
            return answer.status_code == 200

        async def thread() -> bool:
            answer = await client.get(f"{urls['support']}/v1/threads/thr-{instance['company_id']}")
            return answer.status_code in (200, 404)

        return all(await asyncio.gather(terminals(), thread()))

    return view


async def run_module(module: str, *args: str, env: dict[str, str]) -> str:
    """`python -m module args` to its end (in a thread: the event loop keeps serving); its output."""
    command = [sys.executable, "-m", module, *args]
    done = await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{module} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return done.stdout
