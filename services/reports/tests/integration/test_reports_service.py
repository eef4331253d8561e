"""The reports service on the real Kafka and FerretDB: real events (duplicated, out of order)
become the same counts, lists, details and exports; partners see only their own; the lag shows
in /readyz and /metrics; a rebuild from offset 0 equals the live read model."""

from __future__ import annotations

import csv
import io
import uuid
import zipfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx2
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition
from fastapi import FastAPI
from pydantic import BaseModel
from pymongo import AsyncMongoClient

from contracts import EventEnvelope, envelope_for
from contracts.events.activity import TerminalActivity
from contracts.events.common import Actor, InstanceType
from contracts.events.companies import CompanyCreated
from contracts.events.instances import InstanceCancellationRequested, InstanceExtended, InstanceProvisioned
from contracts.events.licenses import LicenseAdded, LicenseReleased, LicenseRevoked
from reports.adapters.mongo import BOOKKEEPING, PROJECTIONS
from reports.bootstrap import build_app
from reports.config import Settings
from reports.entrypoints.rebuild import rebuild
from servicekit.settings import PlatformSettings
from servicekit.testing import KafkaProbe, eventually, started

pytestmark = pytest.mark.integration

WHO = Actor(user_id="usr-ana", role="partner")
TODAY = datetime.now(UTC).date()


@dataclass
class Reports:
    app: FastAPI
    settings: Settings
    client: Callable[..., httpx2.AsyncClient]


@pytest.fixture
async def reports(
    platform: PlatformSettings, database_name: str, token_for: Callable[..., str]
) -> AsyncIterator[Reports]:
    settings = Settings(
        mongo_database=database_name, consumer_group=f"reports-{uuid.uuid4().hex[:8]}", platform=platform
    )
    app = build_app(settings)
    clients: list[httpx2.AsyncClient] = []

    def client(partner: str, *, role: str = "partner", partners: tuple[str, ...] = ()) -> httpx2.AsyncClient:
        token = token_for(partner, role=role, partners=partners)
        made = httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app),
            base_url="http://reports",
            headers={"Authorization": f"Bearer {token}"},
        )
        clients.append(made)
        return made

    async with started(app):
        yield Reports(app, settings, client)
        for made in clients:
            await made.aclose()


async def send(kafka: KafkaProbe, event: EventEnvelope[Any]) -> None:
    await kafka.send(event.type, event.to_json_bytes(), key=event.subject.encode())


def event(data: BaseModel, *, minutes: float = 0) -> EventEnvelope[Any]:
    return envelope_for(
        data, source="instances", time=datetime.now(UTC) - timedelta(days=1) + timedelta(minutes=minutes)
    )


@dataclass
class Scenario:
    partner: str
    company: str
    wds: str
    mcrm: str
    wta: str
    licenses: list[str]
    telemetry_day: date


async def publish_scenario(kafka: KafkaProbe) -> Scenario:
    """Three instances, four licenses, telemetry; with duplicates and out-of-order deliveries."""
    tag = uuid.uuid4().hex[:8]
    partner, company = f"ptn-{tag}", f"cmp-{tag}"
    wds, mcrm, wta = f"ins-w-{tag}", f"ins-m-{tag}", f"ins-t-{tag}"
    lic = [f"lic-{n}-{tag}" for n in range(4)]
    ids = {"partner_id": partner, "company_id": company}

    def provisioned(instance_id: str, type_: InstanceType, activation: date, expiry: date, **extra: Any) -> Any:
        return InstanceProvisioned(
            instance_id=instance_id, provisioning_id=instance_id, contract_number=f"C-{instance_id}", type=type_,
            activation_date=activation, expiry_date=expiry, provisioned_by=WHO, **ids, **extra,
        )  # fmt: skip

    def added(license_id: str, instance_id: str, pin: str) -> Any:
        return LicenseAdded(
            license_id=license_id, instance_id=instance_id, user_name=f"User {pin}", email="u@example.com", pin=pin,
            serial=f"SER-{pin}", added_by=WHO, **ids,
        )  # fmt: skip

    wds_on = event(provisioned(wds, InstanceType.WDS, TODAY - timedelta(days=40), TODAY + timedelta(days=300),
                               profile="enterprise"), minutes=1)  # fmt: skip
    wds_extended = event(
        InstanceExtended(instance_id=wds, previous_expiry_date=TODAY + timedelta(days=300),
                         new_expiry_date=TODAY + timedelta(days=665), extended_by=WHO, **ids),
        minutes=5,
    )  # fmt: skip
    mcrm_on = event(provisioned(mcrm, InstanceType.MCRM, TODAY - timedelta(days=400), TODAY - timedelta(days=35)))
    wta_on = event(provisioned(wta, InstanceType.WTA, TODAY - timedelta(days=10), TODAY + timedelta(days=355)))
    wta_cancel = event(
        InstanceCancellationRequested(instance_id=wta, reason="Season over", requested_by=WHO, **ids), minutes=8
    )
    l0 = event(added(lic[0], wds, "1000"), minutes=2)
    l1 = event(added(lic[1], wds, "1001"), minutes=2)
    l1_released = event(
        LicenseReleased(license_id=lic[1], instance_id=wds, pin="1001", serial="SER-1001", released_by=WHO, **ids),
        minutes=6,
    )  # fmt: skip
    l2 = event(added(lic[2], wta, "1002"), minutes=2)
    l2_revoked = event(
        LicenseRevoked(license_id=lic[2], instance_id=wta, pin="1002", reason="Left", revoked_by=WHO, **ids), minutes=7
    )
    l3 = event(added(lic[3], mcrm, "1003"))
    named = event(CompanyCreated(name="Talleres Norte S.L.", tax_id="B1", created_by=WHO, **ids))

    # Out of order: licenses and the extension before their instance; the revocation and the
    # release before their license; the cancellation before its instance. Duplicates: l0 and
    # mcrm_on twice (same event id, a new offset).
    for item in (l0, wds_extended, l2_revoked, l1_released, wta_cancel, l1, l2, l3, l0):
        await send(kafka, item)
    for item in (wds_on, mcrm_on, wta_on, mcrm_on, named):
        await send(kafka, item)

    day = TODAY - timedelta(days=1)

    def activity(instance_id: str, action: str, serial: str) -> EventEnvelope[Any]:
        moment = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
        data = TerminalActivity(serial=serial, instance_id=instance_id, partner_id=partner, action=action,
                                occurred_at=moment, received_at=moment)  # fmt: skip
        return envelope_for(data, source="activity")

    login = activity(wds, "login", "SER-1000")
    for item in (login, activity(wds, "login", "SER-1001"), activity(wds, "gps", "SER-1000"),
                 activity(wta, "login", "SER-1002"), login):  # fmt: skip
        await send(kafka, item)  # the last one: a terminal re-sending an event (same id, new offset)
    return Scenario(partner, company, wds, mcrm, wta, lic, day)


async def summary_of(client: httpx2.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/v1/reports/summary", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def projected(reports: Reports, scenario: Scenario) -> httpx2.AsyncClient:
    """Wait until the live read model shows the whole scenario; the partner's client."""
    client = reports.client(scenario.partner)

    async def complete() -> bool:
        body = await summary_of(client)
        ops = (
            await client.get(
                "/v1/reports/operations",
                params={"from": scenario.telemetry_day.isoformat(), "to": scenario.telemetry_day.isoformat()},
            )
        ).json()
        rows = (await client.get("/v1/reports/licenses")).json()["items"]
        return (
            body["instances"]["total"] == 3
            and body["licenses"]["total"] == 4
            and ops["total"] >= 4
            and all(r["company_name"] for r in rows)
        )

    await eventually(complete, timeout=60)
    return client


async def test_real_events_in_any_order_and_twice_give_the_expected_reports(
    reports: Reports, kafka: KafkaProbe
) -> None:
    scenario = await publish_scenario(kafka)
    client = await projected(reports, scenario)

    body = await summary_of(client)
    assert body["instances"] == {
        "total": 3,
        "by_type": {"WDS": 1, "MCRM": 1, "S360": 0, "WTA": 1},
        "wds_by_profile": {"enterprise": 1},
        "by_status": {"active": 1, "cancellation_requested": 1, "expired": 1},
    }
    assert body["licenses"] == {
        "total": 4,
        "by_type": {"WDS": 2, "MCRM": 1, "S360": 0, "WTA": 1},
        "by_status": {"active": 2, "released": 1, "revoked": 1},
    }, "licenses that arrived before their instance know its type; revoked beats an older added"
    assert (await summary_of(client, type="WDS"))["licenses"]["total"] == 2
    assert (await summary_of(client, status="expired"))["instances"]["by_type"]["MCRM"] == 1
    recent = await summary_of(
        client, activated_from=(TODAY - timedelta(days=60)).isoformat(), activated_to=TODAY.isoformat()
    )
    assert (recent["instances"]["total"], recent["licenses"]["total"]) == (2, 3)

    months = (await client.get("/v1/reports/monthly")).json()["months"]
    assert len(months) == 12
    assert sum(m["activations"] for m in months) == 2, "the MCRM instance was activated 400 days ago"
    assert sum(m["cancellations"] for m in months) == 1
    assert sum(m["activations_by_type"]["WDS"] for m in months) == 1

    listing = (await client.get("/v1/reports/instances", params={"sort": "activation_date", "limit": 2})).json()
    assert [i["id"] for i in listing["items"]] == [scenario.mcrm, scenario.wds]
    rest = (
        await client.get(
            "/v1/reports/instances", params={"sort": "activation_date", "limit": 2, "cursor": listing["next_cursor"]}
        )
    ).json()
    assert [i["id"] for i in rest["items"]] == [scenario.wta]
    assert rest["next_cursor"] is None

    detail = (await client.get(f"/v1/reports/instances/{scenario.wds}")).json()
    assert detail["expiry_date"] == (TODAY + timedelta(days=665)).isoformat(), "the extension arrived first"
    assert detail["company_name"] == "Talleres Norte S.L."
    assert detail["licenses_by_status"] == {"active": 1, "released": 1}
    wta = (await client.get(f"/v1/reports/instances/{scenario.wta}")).json()
    assert (wta["status"], wta["cancellation_reason"]) == ("cancellation_requested", "Season over")

    revoked = (await client.get("/v1/reports/licenses", params={"license_status": "revoked"})).json()["items"]
    assert [(r["id"], r["instance_type"]) for r in revoked] == [(scenario.licenses[2], "WTA")]
    one = (await client.get(f"/v1/reports/licenses/{scenario.licenses[1]}")).json()
    assert (one["status"], one["serial"], one["user_name"]) == ("released", None, "User 1001")

    # a period after the MCRM instance expired holds the WDS and WTA instances only.
    period = {"from": (TODAY - timedelta(days=20)).isoformat(), "to": TODAY.isoformat()}
    active = (await client.get("/v1/reports/active-services", params=period)).json()["items"]
    assert sorted((a["instance"]["id"], a["licenses_held"]) for a in active) == sorted(
        [(scenario.wds, 2), (scenario.wta, 1)]
    )

    day = scenario.telemetry_day.isoformat()
    ops = (await client.get("/v1/reports/operations", params={"from": day, "to": day})).json()
    assert ops["total"] == 4, "the re-sent event is not counted twice"
    assert ops["by_type"]["WDS"] == 3
    assert ops["by_type"]["WTA"] == 1
    rows = (await client.get("/v1/reports/operations/rows", params={"from": day, "to": day})).json()["items"]
    by_instance = {r["instance_id"]: r["by_action"] for r in rows}
    assert by_instance == {scenario.wds: {"gps": 1, "login": 2}, scenario.wta: {"login": 1}}

    exported = await client.get("/v1/reports/licenses/export.csv", params={"sort": "id"})
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted(r["id"] for r in table) == sorted(scenario.licenses)
    assert {r["company_name"] for r in table} == {"Talleres Norte S.L."}
    # A person's download (it names a language) reads its header row in that language.
    for language, company, pin in (("es-ES,es;q=0.9", "Empresa", "PIN"), ("en", "Company", "PIN")):
        localized = await client.get(
            "/v1/reports/licenses/export.csv", params={"sort": "id"}, headers={"Accept-Language": language}
        )
        labelled = list(csv.DictReader(io.StringIO(localized.text)))
        assert {r[company] for r in labelled} == {"Talleres Norte S.L."}, language
        assert sorted(r[pin] for r in labelled) == sorted(r["pin"] for r in table)
    spanish = await client.get("/v1/reports/licenses/export.csv", headers={"Accept-Language": "es"})
    assert spanish.text.splitlines()[0].startswith("Id,Id de instancia,Tipo de instancia,Partner,Id de empresa,Empresa")

    workbook = await client.get("/v1/reports/active-services/export.xlsx", params=period)
    assert workbook.status_code == 200
    with zipfile.ZipFile(io.BytesIO(workbook.content)) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
        strings = archive.read("xl/sharedStrings.xml").decode() if "xl/sharedStrings.xml" in archive.namelist() else ""
    assert scenario.wds in sheet + strings
    assert sheet.count("<row ") == 3, "a header and two services"


async def test_other_partners_see_nothing_and_filters_are_validated(reports: Reports, kafka: KafkaProbe) -> None:
    scenario = await publish_scenario(kafka)
    await projected(reports, scenario)
    rival = reports.client("ptn-rival")
    assert (await rival.get(f"/v1/reports/instances/{scenario.wds}")).status_code == 404
    assert (await rival.get(f"/v1/reports/licenses/{scenario.licenses[0]}")).status_code == 404
    assert (await summary_of(rival))["instances"]["total"] == 0
    refused = await rival.get("/v1/reports/summary", params={"partner_id": scenario.partner})
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["field"] == "partner_id"

    staff = reports.client("ptn-rival", role="staff", partners=("ptn-rival", scenario.partner))
    assert (await summary_of(staff, partner_id=scenario.partner))["instances"]["total"] == 3
    assert (await staff.get(f"/v1/reports/instances/{scenario.wds}")).status_code == 200
    assert (await staff.get("/v1/reports/summary", params={"partner_id": "ptn-else"})).status_code == 403

    owner = reports.client(scenario.partner)
    inverted = await owner.get(
        "/v1/reports/summary", params={"activated_from": "2026-03-02", "activated_to": "2026-03-01"}
    )
    assert inverted.status_code == 422
    assert inverted.headers["content-type"] == "application/problem+json"
    assert inverted.json()["errors"][0]["field"] == "activated_to"
    half = await owner.get("/v1/reports/instances", params={"activated_from": "2026-03-02"})
    assert half.json()["errors"][0]["field"] == "activated_to"
    assert (await owner.get("/v1/reports/instances", params={"sort": "secret"})).json()["errors"][0]["field"] == "sort"
    too_long = await owner.get("/v1/reports/operations", params={"from": "2024-01-01", "to": "2026-01-01"})
    assert (too_long.status_code, too_long.json()["errors"][0]["field"]) == (422, "to")
    assert (await owner.get("/v1/reports/active-services")).status_code == 422
    bad_type = await owner.get("/v1/reports/summary", params={"type": "XYZ"})
    assert bad_type.json()["errors"][0]["field"] == "type"
    assert (await httpx2.AsyncClient(transport=httpx2.ASGITransport(app=reports.app), base_url="http://r").get(
        "/v1/reports/summary")).status_code == 401  # fmt: skip


async def test_lag_shows_in_readyz_and_metrics(reports: Reports, kafka: KafkaProbe) -> None:
    scenario = await publish_scenario(kafka)
    client = await projected(reports, scenario)

    async def caught_up() -> dict[str, Any] | None:
        body: dict[str, Any] = (await client.get("/readyz")).json()
        consumer = body["checks"].get("consumer", {})
        return body if consumer.get("lag") == 0 else None

    ready = await eventually(caught_up, timeout=30)
    assert set(ready["checks"]["consumer"]["lag_by_topic"]) >= {"terminal.activity", "license.added"}
    metrics = (await client.get("/metrics")).text
    assert 'partnerapp_consumer_lag{topic="terminal.activity"} 0.0' in metrics
    assert "partnerapp_reports_operations_counted_total" in metrics
    resent = next(
        line for line in metrics.splitlines() if line.startswith("partnerapp_reports_operations_resent_total")
    )
    assert float(resent.split()[-1]) >= 1


async def read_model(mongo: AsyncMongoClient[dict[str, Any]], database: str) -> dict[str, list[dict[str, Any]]]:
    model: dict[str, list[dict[str, Any]]] = {}
    for name in PROJECTIONS:
        documents = [d async for d in mongo[database][name].find({}).sort("_id", 1)]
        model[name] = [{k: v for k, v in d.items() if k not in BOOKKEEPING} for d in documents]
    return model


async def test_a_rebuild_from_offset_zero_equals_the_live_read_model(
    reports: Reports, kafka: KafkaProbe, mongo: AsyncMongoClient[dict[str, Any]]
) -> None:
    scenario = await publish_scenario(kafka)
    await projected(reports, scenario)
    runtime = reports.app.state.runtime

    async def caught_up() -> bool:
        return sum((await runtime.consumer_lag.measure()).values()) == 0

    await eventually(caught_up, timeout=60)
    target = f"{reports.settings.mongo_database}_rebuilt"
    group = f"reports-rebuilt-{uuid.uuid4().hex[:6]}"
    try:
        report = await rebuild(reports.settings, target, commit_group=group)
        live = await read_model(mongo, reports.settings.mongo_database)
        rebuilt = await read_model(mongo, target)
    finally:
        await mongo.drop_database(target)
    assert report.events["license.added"] >= 5
    assert report.operations_skipped >= 1
    for name in PROJECTIONS:
        assert rebuilt[name] == live[name], f"{name} differs"
    mine = [d for d in live["instances"] if d["partner_id"] == scenario.partner]
    assert len(mine) == 3

    admin = AIOKafkaAdminClient(bootstrap_servers=reports.settings.platform.kafka_bootstrap_servers)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    prefix = reports.settings.platform.topic_prefix
    ends = {f"{tp.topic}:{tp.partition}": meta.offset for tp, meta in committed.items()}
    assert ends == report.end_offsets
    assert TopicPartition(f"{prefix}terminal.activity", 0) in committed


async def test_the_same_event_id_from_another_partner_or_instance_is_counted_for_each(
    reports: Reports, kafka: KafkaProbe
) -> None:
    """Envelopes of older producers carry the terminal's own event id, which terminals of other
    instances and partners may use too (same serial, hence partition, same day): each instance's
    event counts, and only a re-send by the same instance is skipped."""
    tag = uuid.uuid4().hex[:8]
    ours, theirs = f"ptn-a-{tag}", f"ptn-b-{tag}"
    first, second, their_instance, marker = (f"ins-{n}-{tag}" for n in ("1", "2", "b", "m"))
    day = TODAY - timedelta(days=1)
    moment = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
    serial, same = f"SER-{tag}".upper(), uuid.uuid4()

    def telemetry(instance_id: str, partner_id: str, event_id: uuid.UUID) -> EventEnvelope[Any]:
        data = TerminalActivity(serial=serial, instance_id=instance_id, partner_id=partner_id, action="login",
                                occurred_at=moment, received_at=moment)  # fmt: skip
        return envelope_for(data, source="activity", event_id=event_id)

    for instance_id, partner_id, event_id in (
        (first, ours, same), (their_instance, theirs, same), (second, ours, same), (first, ours, same),
        (marker, ours, uuid.uuid4()),  # last on the partition: once it counts, all before it did
    ):  # fmt: skip
        await send(kafka, telemetry(instance_id, partner_id, event_id))

    period = {"from": day.isoformat(), "to": day.isoformat()}
    client, rival = reports.client(ours), reports.client(theirs)

    async def rows_of(api: httpx2.AsyncClient) -> dict[str, Any]:
        rows = (await api.get("/v1/reports/operations/rows", params=period)).json()["items"]
        return {r["instance_id"]: r["by_action"] for r in rows}

    async def counted() -> bool:
        return marker in await rows_of(client)

    await eventually(counted, timeout=60)
    assert await rows_of(client) == {first: {"login": 1}, second: {"login": 1}, marker: {"login": 1}}
    assert await rows_of(rival) == {their_instance: {"login": 1}}
    assert (await client.get("/v1/reports/operations", params=period)).json()["total"] == 3
    assert (await rival.get("/v1/reports/operations", params=period)).json()["total"] == 1
