"""Silent seats on the real Kafka and FerretDB: licensed terminals silent for N days, from license
events and telemetry delivered twice and out of order; never seen first; per instance and partner,
paged, exported with es/en headers; another partner's instance is a 404."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from contracts import EventEnvelope, envelope_for
from contracts.events.activity import TerminalActivity
from contracts.events.common import Actor, InstanceType
from contracts.events.instances import InstanceProvisioned
from contracts.events.licenses import LicenseAdded, LicenseReleased
from reports.bootstrap import build_app
from reports.config import Settings
from reports.domain.seats import NEVER_SEEN
from servicekit.settings import PlatformSettings
from servicekit.testing import KafkaProbe, eventually, started

pytestmark = pytest.mark.integration

WHO = Actor(user_id="usr-ana", role="partner")
NOW = datetime.now(UTC)


@pytest.fixture
async def reports(platform: PlatformSettings, database_name: str) -> AsyncIterator[FastAPI]:
    settings = Settings(
        mongo_database=database_name, consumer_group=f"reports-{uuid.uuid4().hex[:8]}", platform=platform
    )
    app = build_app(settings)
    async with started(app):
        yield app


async def send(kafka: KafkaProbe, event: EventEnvelope[Any]) -> None:
    await kafka.send(event.type, event.to_json_bytes(), key=event.subject.encode())


def at(data: BaseModel, moment: datetime, source: str = "instances") -> EventEnvelope[Any]:
    return envelope_for(data, source=source, time=moment)


async def test_silent_seats_per_instance_and_partner_never_seen_first_paged_and_exported(
    reports: FastAPI, kafka: KafkaProbe, token_for: Callable[..., str]
) -> None:
    tag = uuid.uuid4().hex[:8]
    partner, rival = f"ptn-{tag}", f"ptn-r-{tag}"
    one, two, theirs = f"ins-1-{tag}", f"ins-2-{tag}", f"ins-r-{tag}"
    serial = {n: f"SN{n}{tag.upper()}" for n in range(1, 7)}

    def provisioned(instance_id: str, owner: str, name: str) -> EventEnvelope[Any]:
        data = InstanceProvisioned(
            instance_id=instance_id, provisioning_id=instance_id, contract_number=f"C-{instance_id}",
            type=InstanceType.WDS, activation_date=date(2026, 1, 1), expiry_date=date(2027, 12, 31),
            provisioned_by=WHO, partner_id=owner, company_id=f"cmp-{tag}", name=name,
        )  # fmt: skip
        return at(data, NOW - timedelta(days=60))

    def added(n: int, instance_id: str, owner: str, with_serial: bool = True) -> EventEnvelope[Any]:
        data = LicenseAdded(
            license_id=f"lic-{n}-{tag}", instance_id=instance_id, partner_id=owner, company_id=f"cmp-{tag}",
            user_name=f"User {n}", email=f"u{n}@example.com", pin=f"{1000 + n}",
            serial=serial[n] if with_serial else None, added_by=WHO,
        )  # fmt: skip
        return at(data, NOW - timedelta(days=50, minutes=-n))

    def telemetry(n: int, instance_id: str, owner: str, days_ago: float) -> EventEnvelope[Any]:
        moment = NOW - timedelta(days=days_ago)
        data = TerminalActivity(serial=serial[n], instance_id=instance_id, partner_id=owner, action="login",
                                occurred_at=moment, received_at=moment)  # fmt: skip
        return at(data, moment, source="activity")

    release = LicenseReleased(
        license_id=f"lic-4-{tag}", instance_id=one, partner_id=partner, company_id=f"cmp-{tag}", pin="1004",
        serial=serial[4], released_by=WHO,
    )  # fmt: skip
    first = added(1, one, partner)
    events = [
        telemetry(1, one, partner, 20),  # telemetry may come before its license
        provisioned(one, partner, "Taller Soria"),
        provisioned(two, partner, "Taller Burgos"),
        provisioned(theirs, rival, "Rival"),
        first,
        first,  # redelivered
        added(2, one, partner),
        added(3, two, partner),
        at(release, NOW - timedelta(days=40)),
        added(4, one, partner),  # older than its release, delivered after it
        added(5, one, partner, with_serial=False),
        added(6, theirs, rival),
        telemetry(1, one, partner, 30),  # older: the last seen stays 20 days ago
        telemetry(2, one, partner, 0.1),
        telemetry(1, one, partner, 20),  # redelivered
        telemetry(4, one, partner, 45),
    ]
    for item in events:
        await send(kafka, item)

    mine = httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=reports),
        base_url="http://reports",
        headers={"Authorization": f"Bearer {token_for(partner)}"},
    )
    other = httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=reports),
        base_url="http://reports",
        headers={"Authorization": f"Bearer {token_for(rival)}"},
    )
    async with mine, other:

        async def silent(**params: Any) -> dict[str, Any]:
            response = await mine.get("/v1/reports/silent-seats", params=params)
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        async def settled() -> list[dict[str, Any]] | None:
            items = (await silent())["items"]
            # lic-1 seen 20 days ago, lic-3 never; lic-2 seen now, lic-4 released, lic-5 has no terminal
            return items if [i["license_id"] for i in items] == [f"lic-3-{tag}", f"lic-1-{tag}"] else None

        seats = reports.state.runtime.db["seats"]

        async def all_applied() -> bool:
            # The license and telemetry events travel in different topics, so the list can look
            # final while a later one is still on its way: wait until the store holds every one.
            docs = {d["serial"]: d async for d in seats.find({"partner_id": partner})}
            docs.update({d["serial"]: d async for d in seats.find({"partner_id": rival})})
            bound = {serial[n] for n in (1, 2, 3, 6)}
            seen = {serial[n] for n in (1, 2, 4)}
            return (
                all(docs.get(s, {}).get("bound") for s in bound)
                and all(docs.get(s, {}).get("last_seen_at", NEVER_SEEN).year > NEVER_SEEN.year for s in seen)
                and docs.get(serial[4], {}).get("license_event_count") == 2  # added and released
            )

        await eventually(all_applied)
        items = await eventually(settled)
        never, old = items
        assert never == {
            "partner_id": partner,
            "instance_id": two,
            "instance_name": "Taller Burgos",
            "license_id": f"lic-3-{tag}",
            "user": "User 3",
            "serial": serial[3],
            "last_seen_at": None,
            "silent_days": None,
        }
        assert (old["instance_name"], old["serial"], old["silent_days"]) == ("Taller Soria", serial[1], 20)
        assert datetime.fromisoformat(old["last_seen_at"]) == (NOW - timedelta(days=20)).replace(
            microsecond=(NOW.microsecond // 1000) * 1000
        )
        body = await silent()
        assert body["days"] == 14, "the setting's default"
        assert [i["license_id"] for i in (await silent(days=25))["items"]] == [f"lic-3-{tag}"]
        assert [i["license_id"] for i in (await silent(instance_id=one))["items"]] == [f"lic-1-{tag}"]
        page = await silent(limit=1)
        assert [i["license_id"] for i in page["items"]] == [f"lic-3-{tag}"]
        rest = await silent(limit=1, cursor=page["next_cursor"])
        assert ([i["license_id"] for i in rest["items"]], rest["next_cursor"]) == ([f"lic-1-{tag}"], None)

        exported = await mine.get(
            "/v1/reports/silent-seats", params={"format": "csv"}, headers={"Accept-Language": "es"}
        )
        assert exported.status_code == 200, exported.text
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
        assert rows[0][:4] == ["Partner", "Id de instancia", "Instancia", "Id de licencia"]
        assert "Días sin actividad" in rows[0]
        assert [r[3] for r in rows[1:]] == [f"lic-3-{tag}", f"lic-1-{tag}"]
        english = await mine.get("/v1/reports/silent-seats/export.csv", headers={"Accept-Language": "en"})
        assert "Days silent" in english.text.splitlines()[0]

        # Another partner: their own seat only; our instance is not found; a bad `days` names the field.
        async def theirs_settled() -> list[str] | None:
            # Their instance's events travel in another partition: they may land after ours.
            items = (await other.get("/v1/reports/silent-seats")).json()["items"]
            return [i["license_id"] for i in items] or None

        assert await eventually(theirs_settled) == [f"lic-6-{tag}"]
        assert (await other.get("/v1/reports/silent-seats", params={"instance_id": one})).status_code == 404
        assert (await other.get("/v1/reports/silent-seats", params={"partner_id": partner})).status_code == 403
        bad = await mine.get("/v1/reports/silent-seats", params={"days": 0})
        assert bad.status_code == 422
        assert "days" in bad.text
