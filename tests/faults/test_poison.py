"""Poison and malformed messages on every consumed topic: each is dead-lettered with the reason,
and the valid event behind it on the same partition is still applied (the partition keeps flowing).

For every topic some service consumes: a non-JSON record, JSON that is no envelope, an envelope
of another topic's type, and a valid envelope with an invalid payload, then a valid event, all
with one key (one partition). Every consuming service (activity, support, reports, gateway) runs
in-process on the shared infrastructure, like the integration tests, on topics of this test's own.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from pydantic import SecretStr
from pymongo import MongoClient

from activity.bootstrap import build_app as build_activity
from activity.config import Settings as ActivitySettings
from contracts import CATALOGUE, DEADLETTER_TOPIC, KAFKA_HEADERS, all_topic_partitions
from gateway.bootstrap import build_app as build_gateway
from gateway.config import Settings as GatewaySettings
from reports.bootstrap import build_app as build_reports
from reports.config import Settings as ReportsSettings
from servicekit.settings import PlatformSettings
from servicekit.testing import KafkaProbe, eventually, started
from servicekit.topics import delete_topics, ensure_topics
from support.bootstrap import build_app as build_support
from support.config import Settings as SupportSettings

from .harness import FULL, Results, Row, say

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.timeout(400 if FULL else 240)]

KAFKA = "127.0.0.1:9092"
MONGO = "mongodb://127.0.0.1:27017/"
FIXTURES = Path(__file__).resolve().parents[2] / "contracts" / "fixtures" / "v1"
UNREACHABLE = "http://127.0.0.1:9"
KINDS = ("not JSON", "JSON, not an envelope", "envelope of another topic", "invalid payload")
REASONS = {
    "not JSON": "MalformedEvent: not an event envelope",
    "JSON, not an envelope": "MalformedEvent: not an event envelope",
    "envelope of another topic": "MalformedEvent: envelope type",
    "invalid payload": "MalformedEvent: invalid",
}


def fixture(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    document["id"] = str(uuid.uuid4())
    document["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return document


def records_for(name: str) -> list[tuple[str, bytes]]:
    """The four bad records and the valid event, in this order."""
    other = next(spec.name for spec in CATALOGUE if spec.name != name)
    invalid = fixture(name)
    invalid["data"] = {"unexpected": True}
    return [
        ("not JSON", b"\x00\xffnot json at all {"),
        ("JSON, not an envelope", json.dumps({"hello": "world", "type": name}).encode()),
        ("envelope of another topic", json.dumps(fixture(other)).encode()),
        ("invalid payload", json.dumps(invalid).encode()),
        ("valid", json.dumps(fixture(name)).encode()),
    ]


@contextlib.asynccontextmanager
async def consuming_services(prefix: str, tag: str, private_key: str) -> AsyncIterator[dict[str, FastAPI]]:
    platform = PlatformSettings(kafka_bootstrap_servers=KAFKA, mongo_url=MONGO, topic_prefix=prefix)  # type: ignore[arg-type]
    names = {name: f"test_poison_{tag}_{name}" for name in ("activity", "support", "reports", "gateway")}
    groups = {name: f"poison-{tag}-{name}" for name in names}

    def common(name: str) -> dict[str, Any]:
        return {"mongo_database": names[name], "consumer_group": groups[name], "platform": platform}

    apps = {
        "activity": build_activity(ActivitySettings(instances_url=UNREACHABLE, **common("activity"))),
        "support": build_support(SupportSettings(**common("support"))),
        "reports": build_reports(ReportsSettings(**common("reports"))),
        "gateway": build_gateway(
            GatewaySettings(
                token_private_key=SecretStr(private_key),
                instances_url=UNREACHABLE,  # type: ignore[arg-type]
                support_url=UNREACHABLE,  # type: ignore[arg-type]
                reports_url=UNREACHABLE,  # type: ignore[arg-type]
                activity_url=UNREACHABLE,  # type: ignore[arg-type]
                **common("gateway"),
            )
        ),
    }
    try:
        async with contextlib.AsyncExitStack() as stack:
            for app in apps.values():
                await stack.enter_async_context(started(app))
            yield apps
    finally:
        with MongoClient(MONGO, serverSelectionTimeoutMS=5000) as client:
            for database in names.values():
                client.drop_database(database)


async def test_poison_on_every_consumed_topic_is_dead_lettered_and_the_partition_flows(
    key_pair: tuple[str, str], results: Results
) -> None:
    started = time.monotonic()
    tag = uuid.uuid4().hex[:8]
    prefix = f"poison-{tag}."
    try:
        await ensure_topics(KAFKA, all_topic_partitions(), prefix=prefix)
    except Exception as exc:
        pytest.fail(f"Kafka is not reachable at {KAFKA} ({exc!r}); run `make infra-up` first", pytrace=False)
    try:
        async with consuming_services(prefix, tag, key_pair[0]) as apps:
            consumed = {name: set(app.state.runtime.consumer.topics) for name, app in apps.items()}
            topics = sorted(set().union(*consumed.values()))
            # where each record went: (topic, kind) -> (partition, offset)
            placed: dict[tuple[str, str], tuple[int, int]] = {}
            producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", enable_idempotence=True)
            await producer.start()
            try:
                for name in topics:
                    key = f"poison-{name}".encode()
                    for kind, value in records_for(name):
                        meta = await producer.send_and_wait(prefix + name, value, key=key, headers=list(KAFKA_HEADERS))
                        placed[(name, kind)] = (meta.partition, meta.offset)
            finally:
                await producer.stop()

            expected = {  # (group, topic, offset) of every bad record, per consuming service
                (app.state.runtime.settings.consumer_group, prefix + name, placed[(name, kind)][1]): kind
                for service, app in apps.items()
                for name in consumed[service]
                for kind in KINDS
            }

            def dead_letters(records: list[Any]) -> dict[tuple[str, str, int], dict[str, str]]:
                found = {}
                for record in records:
                    headers = {k: v.decode() for k, v in record.headers}
                    place = (
                        headers["dlq-consumer-group"],
                        headers["dlq-original-topic"],
                        int(headers["dlq-original-offset"]),
                    )
                    found[place] = headers
                return found

            probe = KafkaProbe(KAFKA, prefix)
            records = await probe.read_all(
                DEADLETTER_TOPIC, until=lambda rs: expected.keys() <= dead_letters(rs).keys(), timeout=120
            )
            found = dead_letters(records)
            copies = Counter(
                (h["dlq-consumer-group"], h["dlq-original-topic"], int(h["dlq-original-offset"]))
                for h in ({k: v.decode() for k, v in r.headers} for r in records)
            )

            def handled_everywhere() -> bool:
                return all(
                    app.state.runtime.consumer.stats.by_topic.get(name, 0) >= 1
                    for service, app in apps.items()
                    for name in consumed[service]
                )

            async def flowed() -> bool:
                return handled_everywhere()

            await eventually(flowed, timeout=60)
            handled = {
                (service, name): app.state.runtime.consumer.stats.by_topic.get(name, 0)
                for service, app in apps.items()
                for name in consumed[service]
            }
    finally:
        await delete_topics(KAFKA, [f"{prefix}{name}" for name in all_topic_partitions()])

    missing = sorted(set(expected) - set(found))
    wrong_reason = sorted(
        (place, found[place]["dlq-error"])
        for place, kind in expected.items()
        if place in found and not found[place]["dlq-error"].startswith(REASONS[kind])
    )
    valid_dead = sorted(
        place
        for place in found
        if any(place[1] == prefix + name and place[2] == placed[(name, "valid")][1] for name in topics)
    )
    pairs = sum(len(v) for v in consumed.values())
    row = Row(
        key="poison",
        fault="Poison and malformed messages",
        injected=len(expected),
        sent=len(expected) + pairs,
        acknowledged=len(expected) + pairs,
        stored=len(expected) - len(missing) + sum(1 for n in handled.values() if n >= 1),
        duplicated=sum(n - 1 for place, n in copies.items() if place in expected),
        lag_zero=None,
        seconds=round(time.monotonic() - started, 1),
        notes=(
            f"{len(topics)} topics × {len(KINDS)} kinds of bad record, consumed by {pairs} (service, topic) pairs; "
            "stored = bad records dead-lettered with the reason + valid events applied after them; "
            "duplicated = bad records dead-lettered more than once"
        ),
    )
    results.add(row)
    say(f"poison: {row}")
    assert not missing, f"bad records not dead-lettered: {missing}"
    assert not wrong_reason, f"dead-lettered without the right reason: {wrong_reason}"
    assert not valid_dead, f"valid events dead-lettered: {[(p, found[p]['dlq-error']) for p in valid_dead]}"
    # support's own system notes add message.posted events for the gateway: at least one each
    assert all(n >= 1 for n in handled.values()), f"valid events not applied: {handled}"
    assert row.duplicated == 0, f"bad records dead-lettered more than once: {row}"
    for place in found:  # every dead letter says where it came from and why
        headers = found[place]
        assert {"dlq-original-partition", "dlq-attempts", "dlq-failed-at", "dlq-error"} <= headers.keys()
