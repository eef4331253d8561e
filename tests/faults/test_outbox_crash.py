"""A domain service crashes between a state write and its publish: the event still goes out, once
(the outbox).

Deterministic: the instances service runs with its outbox relay off (`INSTANCES_OUTBOX_RELAY=false`),
so a company created with 201 is stored with its `company.created` pending and not published;
the process is SIGKILLed, started again normally, and the relay of the new process publishes what
the dead one left.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from pymongo import AsyncMongoClient

from servicekit.testing import KafkaProbe

from .harness import (
    FULL,
    SIZES,
    FaultInfra,
    Results,
    Row,
    drop_database,
    free_port,
    processes,
    say,
    service_process,
)

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.timeout(600 if FULL else 240)]

PARTNER = "ptn-faults"


def company_body(number: int) -> dict[str, Any]:
    return {
        "name": f"Transportes Fallo {number} S.L.",
        "tax_id": f"B{uuid.uuid4().int % 10**8:08d}",
        "address": {"street": "Calle Mayor 1", "city": "Madrid", "postal_code": "28013", "province": "Madrid"},
        "contact_person": "Lucía López",
        "email": "lucia@example.com",
        "phone": "+34 910 000 000",
    }


def created_per_company(records: list[Any], ours: set[str]) -> Counter[str]:
    seen: Counter[str] = Counter()
    for record in records:
        company_id = json.loads(record.value)["data"]["company_id"]
        if company_id in ours:
            seen[company_id] += 1
    return seen


def all_published(ours: set[str]) -> Callable[[list[Any]], bool]:
    return lambda records: len(created_per_company(records, ours)) == len(ours)


async def test_crash_between_write_and_publish(
    fault_infra: FaultInfra,
    fault_prefix: str,
    fault_keys: tuple[str, str],
    fault_token: Callable[[str], str],
    results: Results,
) -> None:
    started = time.monotonic()
    tag = uuid.uuid4().hex[:6]
    database = f"faults_instances_{tag}"
    env = {
        "PARTNERAPP_KAFKA_BOOTSTRAP_SERVERS": fault_infra.kafka,
        "PARTNERAPP_MONGO_URL": fault_infra.mongo_url,
        "PARTNERAPP_TOPIC_PREFIX": fault_prefix,
        "PARTNERAPP_AUTH_PUBLIC_KEY": fault_keys[1],
        "INSTANCES_MONGO_DATABASE": database,
        "INSTANCES_CONSUMER_GROUP": f"faults-instances-{tag}",
        "INSTANCES_HTTP_PORT": str(free_port()),
    }
    kafka = KafkaProbe(fault_infra.kafka, fault_prefix)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(fault_infra.mongo_url, serverSelectionTimeoutMS=5000)
    headers = {"Authorization": f"Bearer {fault_token(PARTNER)}"}
    created: list[str] = []
    sent = 0
    try:
        with processes() as started_processes:
            instances = service_process("instances", env, port=int(env["INSTANCES_HTTP_PORT"]), tag=tag)
            started_processes.append(instances)
            for crash in range(1, SIZES.outbox_crashes + 1):
                instances.start(INSTANCES_OUTBOX_RELAY="false")
                await instances.wait_ready()
                batch: list[str] = []
                async with httpx2.AsyncClient(base_url=instances.url, timeout=30, headers=headers) as client:
                    for number in range(SIZES.outbox_writes_per_crash):
                        sent += 1
                        response = await client.post("/v1/companies", json=company_body(number))
                        assert response.status_code == 201, response.text
                        batch.append(response.json()["id"])
                pending = await mongo[database]["companies"].count_documents(
                    {"_id": {"$in": batch}, "_outbox_pending": True}
                )
                assert pending == len(batch), "each write stored its event in the outbox"
                instances.kill()
                say(f"outbox: crash {crash}/{SIZES.outbox_crashes} after {len(batch)} writes, before any publish")
                early = await kafka.read_all("company.created", until=lambda _: False, timeout=3)
                assert not created_per_company(early, set(batch)), "published although the relay was off"
                created += batch

                instances.start()  # normally: the relay picks up what the dead process left
                await instances.wait_ready()
                await kafka.read_all("company.created", until=all_published(set(created)))
                instances.stop()
        # Read again to the end, the service stopped: a second copy would be there too.
        records = await kafka.read_to_end("company.created")
        seen = created_per_company(records, set(created))
        still_pending = await mongo[database]["companies"].count_documents({"_outbox_pending": True})
    finally:
        await mongo.close()
        await drop_database(fault_infra.mongo_url, database)
    row = Row(
        key="outbox",
        fault="Crash between state write and publish (outbox)",
        injected=SIZES.outbox_crashes,
        sent=sent,
        acknowledged=len(created),
        stored=len(seen),
        duplicated=sum(seen.values()) - len(seen),
        lag_zero=None,
        seconds=round(time.monotonic() - started, 1),
        notes="companies created (201) by a process killed before its relay ran; stored = company.created on Kafka",
    )
    results.add(row)
    say(f"outbox: {row}")
    assert still_pending == 0, "events left pending in the outbox"
    assert row.lost == 0, f"events never published: {row}"
    assert row.duplicated == 0, f"events published twice: {row}"
