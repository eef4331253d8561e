"""Issue #21: message search over a loaded volume and the upload throughput of 10 MB files,
through the support service's HTTP API, each beside the same work sent raw to the store.

The volume is loaded straight into the store (threads, messages and their search-index entries,
built with the service's own tokeniser and entry layout, `insert_many` in chunks), not through the
API; the load's duration is reported. Words follow a Zipf-like distribution over a synthetic
vocabulary, with one rare word ("sincronización", ~0.1 % of messages) and one common word
("terminal", ~10 %) planted, so the figures show a selective and an unselective lookup.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
from gridfs import AsyncGridFSBucket
from pymongo import AsyncMongoClient
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, NameObject

from harness import BenchInfra, Latencies, Platform, percentile, processes, say
from scenarios.common import topics
from servicekit.principal import Principal
from support.adapters.search import ALL_PARTNERS, SHARDS, entry_id, shard_name
from support.domain import search as words

PARTNERS = 20
THREADS_PER_PARTNER = 50
RARE, COMMON = "sincronización", "terminal"
QUERIES = {
    "rare word": "sincronizacion",
    "common word": "terminales",
    "rare + common": "sincronizacion terminal",
    "staff (every partner), rare word": "sincronizacion",
}
UPLOAD_BYTES = 10 * 1024 * 1024 - 4096


def vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    letters = "abcdefghijlmnoprstuvzáéíóúñ"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(3, 10))) for _ in range(size)]


def pdf_of(size: int) -> bytes:
    writer = PdfWriter()
    page = writer.add_blank_page(200, 200)
    stream = DecodedStreamObject()
    stream.set_data(b"% " + b"A" * (size - 2000) + b"\n")
    page[NameObject("/Contents")] = writer._add_object(stream)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


LOAD_INSERTS_AT_ONCE = 4


async def load(infra: BenchInfra, database: str, messages: int, rng: random.Random) -> dict[str, Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
    db = client[database]
    vocab = vocabulary(rng)
    weights = [1 / (rank + 1) for rank in range(len(vocab))]
    now = datetime.now(UTC).replace(microsecond=0)
    threads = [
        {
            "_id": f"thr-cmp-{p}-{t}",
            "partner_id": f"ptn-bench-{p}",
            "company_id": f"cmp-{p}-{t}",
            "company_name": f"Empresa {p}-{t}",
            "name_sort": f"empresa {p}-{t}",
            "created_at": now,
            "last_message_at": now,
            "seq": 0,
            "read_partner": 0,
            "read_support": 0,
            "unread_partner": 0,
            "unread_support": 0,
        }
        for p in range(PARTNERS)
        for t in range(THREADS_PER_PARTNER)
    ]
    at_once = asyncio.Semaphore(LOAD_INSERTS_AT_ONCE)

    async def insert(collection: Any, batch: list[dict[str, Any]]) -> None:
        async with at_once:
            await collection.insert_many(batch, ordered=False)

    began = time.perf_counter()
    entries_total = 0
    try:
        await db["threads"].insert_many(threads)
        for n in range(SHARDS):
            await db[f"message_words_{n:02d}"].create_index([("k", 1), ("at", -1)], name="token_recent")
        loaded = 0
        while loaded < messages:
            docs: list[dict[str, Any]] = []
            entries: list[dict[str, Any]] = []
            for n in range(loaded, min(loaded + 2000, messages)):
                thread = threads[rng.randrange(len(threads))]
                body_words = rng.choices(vocab, weights, k=rng.randint(6, 16))
                if rng.random() < 0.001:
                    body_words.insert(rng.randrange(len(body_words) + 1), RARE)
                if rng.random() < 0.1:
                    body_words.insert(rng.randrange(len(body_words) + 1), COMMON)
                body = " ".join(body_words).capitalize() + "."
                at = now - timedelta(seconds=rng.uniform(0, 3 * 365 * 86400))
                message_id = f"msg-{n:08d}"
                docs.append(
                    {
                        "_id": message_id,
                        "thread_id": thread["_id"],
                        "partner_id": thread["partner_id"],
                        "company_id": thread["company_id"],
                        "seq": n + 1,
                        "author_id": "usr-bench",
                        "author_side": "partner" if n % 2 else "support",
                        "body": body,
                        "created_at": at,
                        "indexed": True,
                    }
                )
                for token in words.tokens(body):
                    entries.extend(
                        {
                            "_id": entry_id(scope, token, message_id),
                            "k": f"{scope}|{token}",
                            "p": thread["partner_id"],
                            "m": message_id,
                            "th": thread["_id"],
                            "c": thread["company_id"],
                            "at": at,
                        }
                        for scope in (str(thread["partner_id"]), ALL_PARTNERS)
                    )
            by_shard: dict[str, list[dict[str, Any]]] = {"messages": docs}
            for entry in entries:
                by_shard.setdefault(shard_name(entry["k"]), []).append(entry)
            # Several collections at once: the store spends its time per insert, on both cores.
            await asyncio.gather(*(insert(db[shard], batch) for shard, batch in by_shard.items()))
            loaded += len(docs)
            entries_total += len(entries)
            if loaded % 20_000 == 0:
                say(f"support-search: {loaded} messages, {entries_total} index entries loaded")
    finally:
        await client.close()
    seconds = time.perf_counter() - began
    return {
        "messages": messages,
        "index_entries": entries_total,
        "seconds": round(seconds, 1),
        "messages_per_s": round(messages / seconds, 1),
        "entries_per_s": round(entries_total / seconds, 1),
    }


async def search_latencies(
    http: httpx2.AsyncClient, db: Any, token_of: Any, samples: int, rng: random.Random
) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for label, q in QUERIES.items():
        service, raw, items = Latencies(), Latencies(), []
        lead = max(words.query_tokens(q), key=len)
        staff = label.startswith("staff")
        for _ in range(samples):
            partner = ALL_PARTNERS if staff else f"ptn-bench-{rng.randrange(PARTNERS)}"
            began = time.perf_counter()
            answer = await http.get(
                "/v1/support/search",
                params={"q": q, "limit": 20},
                headers={"Authorization": f"Bearer {token_of(partner)}"},
            )
            service.samples.append((time.perf_counter() - began) * 1000)
            if answer.status_code != 200:
                service.errors += 1
                service.first_error = service.first_error or answer.text[:200]
                continue
            items.append(len(answer.json()["items"]))
            began = time.perf_counter()
            key = f"{partner}|{lead}"
            cursor = db[shard_name(key)].find({"k": key}).sort([("at", -1), ("_id", -1)]).limit(200)
            _ = [d async for d in cursor]
            raw.samples.append((time.perf_counter() - began) * 1000)
        figures[label] = {
            "q": q,
            "samples": samples,
            "service": service.summary(1.0) | {"requests_per_s": None},
            "raw_index_find": raw.summary(1.0) | {"requests_per_s": None},
            "mean_items": round(sum(items) / len(items), 1) if items else 0,
        }
    return figures


async def uploads(http: httpx2.AsyncClient, db: Any, token: str, count: int, concurrency: int) -> dict[str, Any]:
    document = pdf_of(UPLOAD_BYTES)
    headers = {"Authorization": f"Bearer {token}"}
    thread = "thr-cmp-0-0"
    times: list[float] = []
    failures: list[str] = []

    async def one() -> None:
        began = time.perf_counter()
        answer = await http.post(
            f"/v1/threads/{thread}/attachments",
            files={"file": ("manual.pdf", document, "application/pdf")},
            headers=headers,
        )
        times.append(time.perf_counter() - began)
        if answer.status_code != 201:
            failures.append(f"{answer.status_code} {answer.text[:120]}")

    result: dict[str, Any] = {"file_bytes": len(document)}
    for clients in (1, concurrency):
        times.clear()
        began = time.perf_counter()
        pending = list(range(count))
        while pending:
            batch, pending = pending[:clients], pending[clients:]
            await asyncio.gather(*(one() for _ in batch))
        wall = time.perf_counter() - began
        result[f"{clients}_client(s)"] = {
            "files": count,
            "mb_per_s": round(count * len(document) / wall / 1e6, 1),
            "p50_s": round(percentile(times, 0.5), 2),
            "p99_s": round(percentile(times, 0.99), 2),
        }
    bucket = AsyncGridFSBucket(db, bucket_name="bench_raw_files")
    began = time.perf_counter()
    for _ in range(count):
        await bucket.upload_from_stream("raw.pdf", document)
    wall = time.perf_counter() - began
    result["raw_gridfs_upload"] = {"files": count, "mb_per_s": round(count * len(document) / wall / 1e6, 1)}
    if failures:
        result["failures"] = failures[:3]
    return result


async def support_search(infra: BenchInfra, args: argparse.Namespace, memory: dict[str, float]) -> dict[str, Any]:
    platform = Platform(infra, f"bench-{uuid.uuid4().hex[:6]}.")
    await topics(platform)
    database = f"bench_support_search_{uuid.uuid4().hex[:6]}"
    rng = random.Random(21)  # noqa: S311  (simulated data)
    say(f"support-search: loading {args.support_messages} messages straight into the store")
    figures: dict[str, Any] = {"load": await load(infra, database, args.support_messages, rng)}
    say(f"support-search: loaded in {figures['load']['seconds']} s")
    tokens: dict[str, str] = {}

    def token_of(partner: str) -> str:
        """A partner user's token; for `*`, a staff member's associated with every partner."""
        if partner not in tokens:
            if partner == ALL_PARTNERS:
                partners = frozenset(f"ptn-bench-{p}" for p in range(PARTNERS))
                staff = Principal("usr-bench-staff", "staff", "ptn-bench-0", partners)
                tokens[partner] = platform.issuer.issue(staff, ttl=timedelta(hours=2))
            else:
                tokens[partner] = platform.token(partner)
        return tokens[partner]

    with processes() as started:
        service = platform.service(
            "support", "search", mongo_database=database, consumer_group=f"bench-support-{uuid.uuid4().hex[:6]}"
        )
        started.append(service)
        service.start()
        await service.wait_ready()
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url, tz_aware=True)
        try:
            async with httpx2.AsyncClient(base_url=service.url, timeout=120) as http:
                say(f"support-search: {args.support_search_samples} searches per query kind")
                figures["search"] = await search_latencies(
                    http, client[database], token_of, args.support_search_samples, rng
                )
                say(f"support-search: {args.support_uploads} uploads of 10 MB, 1 client then 4")
                figures["uploads"] = await uploads(
                    http, client[database], token_of("ptn-bench-0"), args.support_uploads, 4
                )
        finally:
            await client.drop_database(database)
            await client.close()
        service.sample_memory()
    memory["support"] = max(memory.get("support", 0), service.peak_rss_mb)
    return figures
