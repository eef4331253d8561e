"""What the services put on Kafka is what the contracts promise: every record of every topic is a
CloudEvents 1.0 event for the official SDK, and matches the AsyncAPI document (content type,
headers, envelope schema).

All five services run in-process on topics of this test's own. The real producers write every
record: the instances service's outbox relay (every instance, company, license and session
event, driven through its HTTP API), support's (a posted message and its system notes), the
gateway's (a partner put in its directory), the activity ingest endpoint (telemetry) and every
consumer's dead-letter writer (an event put on a topic of another type). Then each record of
each topic is read back and parsed with `cloudevents.core.bindings.kafka.from_kafka`, which
takes any `ce_` header to mean binary mode:
a record that mixed the modes, or carried an extension name CloudEvents forbids, fails here.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import jsonschema
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord, TopicPartition
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from fastapi import FastAPI
from pydantic import SecretStr
from pymongo import MongoClient

from activity.bootstrap import build_app as build_activity
from activity.config import Settings as ActivitySettings
from contracts import CATALOGUE, CONTENT_TYPE, DEADLETTER_TOPIC, all_topic_partitions, decode_envelope
from contracts.schemagen import SCHEMA_DIR
from gateway.bootstrap import build_app as build_gateway
from gateway.config import Settings as GatewaySettings
from gateway.service_layer.commands import GatewayCommands
from instances.bootstrap import build_app as build_instances
from instances.config import Settings as InstancesSettings
from reports.bootstrap import build_app as build_reports
from reports.config import Settings as ReportsSettings
from servicekit.api import provided_on
from servicekit.auth import generate_key_pair
from servicekit.settings import PlatformSettings
from servicekit.testing import KafkaProbe, eventually, started
from servicekit.topics import delete_topics, ensure_topics
from support.bootstrap import build_app as build_support
from support.config import Settings as SupportSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

KAFKA = os.environ.get("PARTNERAPP_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
MONGO = os.environ.get("PARTNERAPP_MONGO_URL", "mongodb://127.0.0.1:27017/")
ISSUER, AUDIENCE = "partnerapp-gateway", "partnerapp"  # as the root conftest's token issuer
PARTNER = "ptn-acme"
UNREACHABLE = "http://127.0.0.1:9"
FIXTURES = Path(__file__).resolve().parents[2] / "contracts" / "fixtures"
ASYNCAPI: dict[str, Any] = json.loads((SCHEMA_DIR / "asyncapi.json").read_text())


@dataclass
class Platform:
    prefix: str
    apps: dict[str, FastAPI]
    clients: dict[str, httpx2.AsyncClient]
    kafka: KafkaProbe


@pytest.fixture
async def platform_on_own_topics(key_pair: tuple[str, str]) -> AsyncIterator[Platform]:
    tag = uuid.uuid4().hex[:10]
    prefix = f"ce-{tag}."
    await ensure_topics(KAFKA, all_topic_partitions(), prefix=prefix)
    settings = PlatformSettings(
        kafka_bootstrap_servers=KAFKA,
        mongo_url=MONGO,  # type: ignore[arg-type]
        topic_prefix=prefix,
        auth_public_key=key_pair[1],
        auth_issuer=ISSUER,
        auth_audience=AUDIENCE,
    )
    databases = {name: f"test_ce_{tag}_{name}" for name in ("instances", "support", "activity", "reports", "gateway")}

    def common(name: str) -> dict[str, Any]:
        return {"mongo_database": databases[name], "consumer_group": f"ce-{tag}-{name}", "platform": settings}

    instances = build_instances(
        InstancesSettings(outbox_scan_seconds=0.2, impersonation_key=generate_key_pair()[0], **common("instances"))
    )
    instances_transport = httpx2.ASGITransport(app=instances)
    apps = {
        "instances": instances,
        "support": build_support(SupportSettings(outbox_scan_seconds=0.2, **common("support"))),
        "activity": build_activity(ActivitySettings(**common("activity")), instances_transport=instances_transport),
        "reports": build_reports(ReportsSettings(**common("reports"))),
        "gateway": build_gateway(
            GatewaySettings(
                token_private_key=SecretStr(key_pair[0]),
                instances_url=UNREACHABLE,  # type: ignore[arg-type]
                support_url=UNREACHABLE,  # type: ignore[arg-type]
                reports_url=UNREACHABLE,  # type: ignore[arg-type]
                activity_url=UNREACHABLE,  # type: ignore[arg-type]
                webhook_consumer_group=f"ce-{tag}-webhooks",  # the webhook dispatcher's own group
                **common("gateway"),
            )
        ),
    }
    try:
        async with contextlib.AsyncExitStack() as stack:
            for app in apps.values():
                await stack.enter_async_context(started(app))
            clients = {
                name: await stack.enter_async_context(
                    httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=f"http://{name}")
                )
                for name, app in apps.items()
            }
            yield Platform(prefix, apps, clients, KafkaProbe(KAFKA, prefix))
    finally:
        await delete_topics(KAFKA, [f"{prefix}{name}" for name in all_topic_partitions()])
        with MongoClient(MONGO, serverSelectionTimeoutMS=5000) as client:
            for database in databases.values():
                client.drop_database(database)


async def drive_every_producer(platform: Platform, auth: dict[str, str]) -> bytes:
    """Make the services publish an event of every catalogued type and dead-letter one record;
    returns the value of the record that is dead-lettered."""
    instances, support, activity = (platform.clients[n] for n in ("instances", "support", "activity"))

    async def ok(response: httpx2.Response) -> dict[str, Any]:
        assert response.status_code < 300, f"{response.request.method} {response.request.url}: {response.text}"
        body: dict[str, Any] = response.json()
        return body

    company = await ok(
        await instances.post(
            "/v1/companies",
            headers=auth,
            json={
                "name": "Talleres Gómez S.L.",
                "tax_id": f"B{uuid.uuid4().int % 10**8:08d}",
                "address": {"street": "Calle 1", "city": "Soria", "postal_code": "42001", "province": "Soria"},
                "contact_person": "Luis Gómez",
                "email": "luis@example.com",
                "phone": "+34 975 000 000",
            },
        )
    )
    await ok(await instances.patch(f"/v1/companies/{company['id']}", headers=auth, json={"phone": "+34 975 111 111"}))
    draft = await ok(
        await instances.post(
            "/v1/provisionings", headers=auth, json={"company_id": company["id"], "type": "WDS", "name": "Taller"}
        )
    )
    await ok(await instances.post(f"/v1/provisionings/{draft['id']}/provision", headers=auth))
    instance = await ok(
        await instances.post(
            f"/v1/provisionings/{draft['id']}/generate", headers={**auth, "Idempotency-Key": f"k-{uuid.uuid4().hex}"}
        )
    )
    iid = instance["id"]
    await ok(await instances.patch(f"/v1/instances/{iid}", headers=auth, json={"name": "Taller norte"}))
    later = date.fromisoformat(instance["expiry_date"]) + timedelta(days=1)
    await ok(await instances.post(f"/v1/instances/{iid}/extend", headers=auth, json={"new_expiry_date": str(later)}))
    serial = f"SR{uuid.uuid4().hex[:8]}"
    people = [
        {"user_name": "Ana", "email": "ana@example.com", "pin": "4821", "serial": serial},
        {"user_name": "Bea", "email": "bea@example.com", "pin": "5555", "serial": f"SO{uuid.uuid4().hex[:8]}"},
    ]
    added = await ok(await instances.post(f"/v1/instances/{iid}/licenses", headers=auth, json={"licenses": people}))
    first, second = added["license_ids"]
    revoke = f"/v1/instances/{iid}/licenses/{first}/revoke"
    await ok(await instances.post(revoke, headers=auth, json={"reason": "Employee left the company."}))
    impersonate = f"/v1/instances/{iid}/licenses/{second}/impersonate"
    await ok(await instances.post(impersonate, headers=auth, json={"reason": "The customer asked for help."}))
    await ok(await instances.post(f"/v1/instances/{iid}/licenses/{second}/release", headers=auth, json={}))
    await ok(await instances.post(f"/v1/instances/{iid}/clear-session", headers=auth, json={}))
    key = (await ok(await instances.post(f"/v1/instances/{iid}/ingest-key", headers=auth)))["ingest_key"]
    request = f"/v1/instances/{iid}/cancellation-request"
    await ok(await instances.post(request, headers=auth, json={"reason": "The workshop closes."}))

    # support: a thread appears with the company (from company.created); a partner posts in it
    thread = f"thr-{company['id']}"

    async def thread_exists() -> bool:
        return (await support.get(f"/v1/threads/{thread}", headers=auth)).status_code == 200

    await eventually(thread_exists)
    await ok(
        await support.post(
            f"/v1/threads/{thread}/messages",
            headers={**auth, "Idempotency-Key": f"k-{uuid.uuid4().hex}"},
            json={"body": "¿Podéis revisar la licencia?"},
        )
    )

    # gateway: a partner put in its directory (as the seeding does)
    await provided_on(platform.apps["gateway"], GatewayCommands).put_partner("ptn-wire", "Wire Partners S.L.")

    # activity: the ingest endpoint, once the key has reached the service through Kafka
    events = [
        {
            "event_id": str(uuid.uuid4()),
            "serial": serial,
            "pin": "4821",
            "action": "clock_in",
            "occurred_at": datetime.now(UTC).isoformat(),
        }
    ]

    async def admitted() -> bool:
        response = await activity.post("/v1/ingest/events", json={"events": events}, headers={"X-Ingest-Key": key})
        return response.status_code == 202

    await eventually(admitted)

    # every consumer of license.revoked dead-letters an event of another type found there
    stray = json.loads((FIXTURES / "v2" / "company.created.json").read_text())
    stray["id"] = str(uuid.uuid4())
    value = json.dumps(stray).encode()
    await platform.kafka.send("license.revoked", value, key=b"stray")
    return value


async def read_to_end(prefix: str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of the topic up to its end offsets now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        partitions = [TopicPartition(prefix + topic, p) for p in range(all_topic_partitions()[topic])]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord[bytes, bytes]] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


def headers_of(record: ConsumerRecord[bytes, bytes]) -> dict[str, bytes]:
    names = [name for name, _ in record.headers]
    assert len(names) == len(set(names)), f"a header repeated: {names}"
    return {name: bytes(value) for name, value in record.headers}


def message_of(channel: str) -> dict[str, Any]:
    (ref,) = ASYNCAPI["channels"][channel]["messages"].values()
    message: dict[str, Any] = ASYNCAPI["components"]["messages"][ref["$ref"].rsplit("/", 1)[1]]
    return message


def headers_schema(message: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = ASYNCAPI["components"]["schemas"][message["headers"]["$ref"].rsplit("/", 1)[1]]
    return schema


def as_cloudevent(record: ConsumerRecord[bytes, bytes]) -> Any:
    message = ce_kafka.KafkaMessage(headers=headers_of(record), key=record.key, value=record.value or b"")
    return ce_kafka.from_kafka(message, JSONFormat(), CloudEvent)


async def test_every_record_on_every_topic_is_a_cloudevent_and_matches_the_asyncapi_document(
    platform_on_own_topics: Platform, token_for: Callable[..., str]
) -> None:
    platform = platform_on_own_topics
    auth = {"Authorization": f"Bearer {token_for(PARTNER, user_id='usr-ana')}"}
    stray = await drive_every_producer(platform, auth)
    consumers_of_revoked = [
        name for name, app in platform.apps.items() if "license.revoked" in app.state.runtime.consumer.topics
    ] + ["webhooks"]  # the gateway's webhook dispatcher reads every catalogue topic in a group of its own
    assert consumers_of_revoked, "some service consumes license.revoked"

    for spec in CATALOGUE:  # the relays and reactions run on their own: wait for each topic
        await platform.kafka.read_all(spec.name, until=bool)
    await platform.kafka.read_all(DEADLETTER_TOPIC, until=lambda rs: len(rs) >= len(consumers_of_revoked))
    records = {name: await read_to_end(platform.prefix, name) for name in all_topic_partitions()}
    assert all(records.values()), f"topics without records: {[n for n, rs in records.items() if not rs]}"

    for spec in CATALOGUE:
        message = message_of(spec.name)
        assert message["contentType"] == CONTENT_TYPE
        envelope_schema = json.loads((SCHEMA_DIR / message["payload"]["$ref"].removeprefix("./")).read_text())
        for record in records[spec.name]:
            where = f"{spec.name}@{record.partition}:{record.offset}"
            event = as_cloudevent(record)  # raises on anything the SDK finds invalid
            headers = headers_of(record)
            assert not [h for h in headers if h.lower().startswith("ce_")], f"{where}: binary-mode headers"
            assert headers.get("content-type") == CONTENT_TYPE.encode(), where
            jsonschema.validate({k: v.decode() for k, v in headers.items()}, headers_schema(message))
            if record.key == b"stray":  # the record this test wrote to be dead-lettered
                assert event.get_type() == "company.created"
                continue
            ours = decode_envelope(record.value or b"", expected_type=spec.name)
            assert (event.get_id(), event.get_type(), event.get_source()) == (str(ours.id), spec.name, spec.owner)
            assert event.get_subject() == ours.subject == (record.key or b"").decode(), where
            assert event.get_extension("schemaversion") == spec.schema_version, where
            assert event.get_data() == ours.data.model_dump(mode="json"), where
            jsonschema.validate(json.loads(record.value or b""), envelope_schema)

    # The dead letters: the original key, bytes and content-type, the dlq- headers described in
    # the AsyncAPI document; the original was an event, so the dead letter still parses as one.
    message = message_of(DEADLETTER_TOPIC)
    assert message["contentType"] == CONTENT_TYPE
    groups = set()
    for record in records[DEADLETTER_TOPIC]:
        headers = headers_of(record)
        jsonschema.validate({k: v.decode() for k, v in headers.items()}, headers_schema(message))
        assert (record.key, record.value) == (b"stray", stray), "dead letters keep the original bytes"
        assert headers["content-type"] == CONTENT_TYPE.encode()
        assert headers["dlq-original-topic"] == f"{platform.prefix}license.revoked".encode()
        assert headers["dlq-error"].startswith(b"MalformedEvent: envelope type 'company.created'")
        assert as_cloudevent(record).get_type() == "company.created"
        groups.add(headers["dlq-consumer-group"].decode())
    assert {group.rsplit("-", 1)[1] for group in groups} == set(consumers_of_revoked)
