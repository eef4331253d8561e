"""FerretDB on SQLite against FerretDB on PostgreSQL, for `make up` and `make test` (issue #17).

For each backend in `--stores` the probe starts a private Kafka and FerretDB (the stack's CLI on
free ports, under `--cache`, reusing the broker jars and the FerretDB binary of the main cache) and
measures:
1. the infrastructure's start: from empty data directories (`make up`/`make test` on a fresh
   machine) and again with the data kept (every later start);
2. the store operations the services make: `--documents` instance-like documents (~2.7 KB) of 50
   partners, written one by one and in batches; a partner's first page (equality filter, sort,
   limit 60), one client and `--clients` at once; `_id` look-ups; counts by partner; concurrent
   updates of distinct documents and of one document, and concurrent inserts (failed operations
   and lost increments counted);
3. `--tests` (pytest paths) run against that stack, timed.

Prints one JSON object per backend, then a Markdown table of both.

    uv run python bench/store_backends.py --stores sqlite postgresql
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
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

from partnerapp_stack.private import PrivateStack, free_port

ROOT = Path(__file__).resolve().parents[1]
PARTNERS = 50


def say(message: str) -> None:
    sys.stderr.write(f"[store-backends {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def instance_document(number: int) -> dict[str, Any]:
    """About 2.7 KB of BSON, shaped like an instance: identity, a few licenses, a short history."""
    return {
        "_id": f"ins-{number:06d}",
        "partner_id": f"prt-{number % PARTNERS:03d}",
        "company_id": f"cmp-{number % 400:04d}",
        "name": f"Instance {number:06d}",
        "status": ("active", "suspended", "provisioning")[number % 3],
        "counter": 0,
        "licenses": [
            {"product": f"product-{k}", "seats": 10 + k, "valid_until": "2027-12-31", "note": "x" * 120}
            for k in range(6)
        ],
        "history": [
            {"at": f"2026-11-{day:02d}T10:00:00Z", "what": "changed", "detail": "y" * 140} for day in range(1, 9)
        ],
    }


async def timed(calls: int, call: Callable[[int], Awaitable[object]]) -> list[float]:
    """Milliseconds of each of `calls` sequential calls."""
    durations = []
    for number in range(calls):
        began = time.perf_counter()
        await call(number)
        durations.append((time.perf_counter() - began) * 1000)
    return durations


async def concurrently(clients: int, each: int, call: Callable[[int, int], Awaitable[object]]) -> dict[str, float]:
    """`clients` tasks making `each` calls: operations per second, failures and their first kinds."""
    failures: list[str] = []

    async def client(number: int) -> None:
        for round_ in range(each):
            try:
                await call(number, round_)
            except Exception as exc:  # a failed store operation is a measurement, not a crash
                failures.append(f"{type(exc).__name__}: {str(exc)[:120]}")

    began = time.perf_counter()
    await asyncio.gather(*(client(number) for number in range(clients)))
    seconds = time.perf_counter() - began
    result: dict[str, Any] = {"ops_per_s": round(clients * each / seconds, 1), "failed": len(failures)}
    if failures:
        result["first_failures"] = sorted(set(failures))[:3]
    return result


async def store_operations(mongo_url: str, documents: int, clients: int, repeat: int) -> dict[str, Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, serverSelectionTimeoutMS=10000)
    collection = client[f"probe_{uuid.uuid4().hex[:8]}"]["instances"]
    results: dict[str, Any] = {}
    try:
        await collection.create_index([("partner_id", 1), ("name", 1)])
        singles = min(1000, documents)
        began = time.perf_counter()
        for number in range(singles):
            await collection.insert_one(instance_document(number))
        results["insert_one_per_s"] = round(singles / (time.perf_counter() - began), 1)
        began = time.perf_counter()
        for start in range(singles, documents, 500):
            await collection.insert_many([instance_document(n) for n in range(start, min(documents, start + 500))])
        results["insert_many_docs_per_s"] = round((documents - singles) / (time.perf_counter() - began), 1)

        async def first_page(number: int) -> None:
            cursor = collection.find({"partner_id": f"prt-{number % PARTNERS:03d}"}).sort("name", 1).limit(60)
            if len(await cursor.to_list()) != min(60, documents // PARTNERS):
                raise RuntimeError("a first page came back short")

        say(f"written: {results}")
        page = await timed(repeat, first_page)
        results["page_ms_p50"], results["page_ms_p99"] = (
            round(percentile(page, 0.5), 1),
            round(percentile(page, 0.99), 1),
        )
        loaded = await concurrently(clients, 2, lambda c, r: first_page(c * 2 + r))
        results[f"page_{clients}_clients_per_s"] = loaded["ops_per_s"]

        say(f"pages read: {results}")
        by_id = await timed(4 * repeat, lambda n: collection.find_one({"_id": f"ins-{(n * 37) % documents:06d}"}))
        results["find_by_id_ms_p50"] = round(percentile(by_id, 0.5), 2)
        counts = await timed(repeat, lambda n: collection.count_documents({"partner_id": f"prt-{n % PARTNERS:03d}"}))
        results["count_by_partner_ms_p50"] = round(percentile(counts, 0.5), 1)

        say(f"looked up: {results}")
        distinct = await concurrently(
            clients,
            10,
            lambda c, r: collection.update_one(
                {"_id": f"ins-{(c * 10 + r) % documents:06d}"}, {"$inc": {"counter": 1}, "$set": {"status": "active"}}
            ),
        )
        results["update_distinct"] = distinct
        same = await concurrently(
            clients, 10, lambda c, r: collection.update_one({"_id": "ins-000000"}, {"$inc": {"counter": 1}})
        )
        stored = await collection.find_one({"_id": "ins-000000"})
        same["lost_increments"] = clients * 10 - same["failed"] - int((stored or {}).get("counter", 0)) + 1
        results["update_one_document"] = same
        results["insert_concurrent"] = await concurrently(
            clients, 10, lambda c, r: collection.insert_one(instance_document(documents + c * 10 + r))
        )
    finally:
        await client.drop_database(collection.database.name)
        await client.close()
    return results


def run_tests(stack: PrivateStack, paths: list[str]) -> dict[str, Any]:
    env = {
        **os.environ,
        "PARTNERAPP_MONGO_URL": stack.mongo_url,
        "PARTNERAPP_KAFKA_BOOTSTRAP_SERVERS": stack.kafka,
    }
    began = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *paths],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    summary = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
    return {"seconds": round(time.perf_counter() - began, 1), "exit": result.returncode, "summary": summary}


def measure(store: str, cache: Path, documents: int, clients: int, repeat: int, tests: list[str]) -> dict[str, Any]:
    stack = PrivateStack(
        cache / store,
        kafka_port=free_port(),
        controller_port=free_port(),
        mongo_port=free_port(),
        postgres_port=free_port(),
        store=store,
    )
    results: dict[str, Any] = {"store": store}
    began = time.perf_counter()
    stack.start()  # empty data directories
    results["infra_up_fresh_s"] = round(time.perf_counter() - began, 1)
    try:
        stack.stop()
        began = time.perf_counter()
        stack.stack("up", "infra")  # the data kept
        results["infra_up_again_s"] = round(time.perf_counter() - began, 1)
        say(f"{store}: started {results}")
        results.update(asyncio.run(store_operations(stack.mongo_url, documents, clients, repeat)))
        if tests:
            say(f"{store}: store operations {results}; running {' '.join(tests)}")
            results["tests"] = run_tests(stack, tests)
    finally:
        stack.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stores", nargs="+", choices=["postgresql", "sqlite"], default=["postgresql", "sqlite"])
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "store-backends")
    parser.add_argument("--documents", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=20, help="sequential calls per read measured")
    parser.add_argument("--tests", nargs="*", default=["services/instances/tests/integration"])
    args = parser.parse_args()
    measured = []
    for store in args.stores:
        measured.append(measure(store, args.cache.resolve(), args.documents, args.clients, args.repeat, args.tests))
        sys.stdout.write(json.dumps(measured[-1]) + "\n")
        sys.stdout.flush()
    lines = ["", "| figure | " + " | ".join(m["store"] for m in measured) + " |", "|---|" + "---|" * len(measured)]
    lines += [f"| {key} | " + " | ".join(json.dumps(m.get(key)) for m in measured) + " |" for key in measured[0]]
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
