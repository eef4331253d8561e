"""The HTTP edge on in-memory use cases (`bootstrap_test_app`, no broker or store): each refusal the
service layer raises is answered as its problem, and what the routes add (metrics, token) works."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest

from activity.bootstrap import bootstrap_test_app
from activity.config import Settings
from activity.domain.model import ActivityRecord
from activity.service_layer.ports import IngestKey, InstancesUnavailable, LicenseRef, Released
from activity.service_layer.testing import ActivityFakes, FakeInstances
from servicekit.auth import TokenIssuer, generate_key_pair
from servicekit.principal import Principal
from servicekit.settings import PlatformSettings

pytestmark = pytest.mark.unit

PARTNER = "ptn-acme"
INSTANCE = "ins-001"
INGEST_KEY = f"pik_{INSTANCE}.{'0123456789abcdef' * 4}"
PRIVATE, PUBLIC = generate_key_pair()
TOKEN = TokenIssuer(PRIVATE, issuer="partnerapp-gateway", audience="partnerapp").issue(
    Principal("usr-ana", "partner", PARTNER, frozenset({PARTNER}))
)
AUTH = {"Authorization": f"Bearer {TOKEN}", "Accept-Language": "en"}


class UnreachableInstances(FakeInstances):
    async def license_of(self, token: str, instance_id: str, pin: str) -> LicenseRef | None:
        raise InstancesUnavailable("connection refused")


async def client_on(fakes: ActivityFakes) -> AsyncIterator[httpx2.AsyncClient]:
    app = bootstrap_test_app(fakes, Settings(platform=PlatformSettings(auth_public_key=PUBLIC)))
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://activity") as client:
        yield client


@pytest.fixture
def fakes() -> ActivityFakes:
    fakes = ActivityFakes(instances=FakeInstances("SN-0001"))
    fakes.keys.keys[INSTANCE] = IngestKey(INSTANCE, PARTNER, hashlib.sha256(INGEST_KEY.encode()).hexdigest())
    return fakes


@pytest.fixture
async def client(fakes: ActivityFakes) -> AsyncIterator[httpx2.AsyncClient]:
    async for client in client_on(fakes):
        yield client


def stored(fakes: ActivityFakes, **overrides: Any) -> ActivityRecord:
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "event_id": str(uuid.uuid4()), "serial": "SN-0001", "instance_id": INSTANCE, "partner_id": PARTNER,
        "action": "clock_in", "occurred_at": now - timedelta(hours=1), "received_at": now, "pin": "4821",
        "terminal_event_id": "the-terminals-id",
    }  # fmt: skip
    record = ActivityRecord(**(values | overrides))
    fakes.records.by_id[record.id] = record
    return record


def an_event(**overrides: Any) -> dict[str, Any]:
    occurred = datetime.now(UTC) - timedelta(minutes=1)
    event = {
        "event_id": str(uuid.uuid4()),
        "serial": "sn-0001",
        "action": "clock_in",
        "occurred_at": occurred.isoformat(),
    }
    return event | overrides


def counted(metrics: str) -> float:
    (line,) = (line for line in metrics.splitlines() if line.startswith("partnerapp_ingest_events_total "))
    return float(line.split()[1])


async def test_ingest_admits_the_batch_and_counts_it_on_the_metrics(
    client: httpx2.AsyncClient, fakes: ActivityFakes
) -> None:
    response = await client.post(
        "/v1/ingest/events", json={"events": [an_event(), an_event()]}, headers={"X-Ingest-Key": INGEST_KEY}
    )
    assert (response.status_code, response.json()) == (202, {"accepted": 2})
    assert [e.data.serial for e in fakes.publisher.published[0]] == ["SN-0001", "SN-0001"]
    assert counted((await client.get("/metrics")).text) == 2


@pytest.mark.parametrize("headers", [{}, {"X-Ingest-Key": ""}, {"X-Ingest-Key": "pik_ins-001.wrong"}])
async def test_ingest_without_a_known_key_is_a_401(client: httpx2.AsyncClient, headers: dict[str, str]) -> None:
    response = await client.post("/v1/ingest/events", json={"events": [an_event()]}, headers=headers)
    assert (response.status_code, response.headers["WWW-Authenticate"]) == (401, "IngestKey")
    assert response.json()["type"] == "urn:partnerapp:problem:invalid-ingest-key"
    assert counted((await client.get("/metrics")).text) == 0


async def test_ingest_refuses_out_of_range_events_naming_each_in_the_body(client: httpx2.AsyncClient) -> None:
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    batch = {"events": [an_event(), an_event(occurred_at=future)]}
    response = await client.post(
        "/v1/ingest/events", json=batch, headers={"X-Ingest-Key": INGEST_KEY, "Accept-Language": "en"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["type"], problem["detail"]) == (
        "urn:partnerapp:problem:validation",
        "Rejected events: events.1.occurred_at: is in the future.",
    )
    assert problem["errors"] == [{"field": "events.1.occurred_at", "message": "is in the future", "in": "body"}]


async def test_search_without_serial_or_pin_is_a_422_naming_serial(client: httpx2.AsyncClient) -> None:
    response = await client.get("/v1/activity/records", headers=AUTH)
    assert response.status_code == 422
    assert response.json()["detail"] == "Give exactly one of serial or pin."
    assert response.json()["errors"] == [{"field": "serial", "message": "exactly one of serial or pin", "in": "query"}]


async def test_search_with_an_inverted_window_is_a_422_naming_from(client: httpx2.AsyncClient) -> None:
    params = {"pin": "4821", "from": "2024-03-02T00:00:00Z", "to": "2024-03-01T00:00:00Z"}
    response = await client.get("/v1/activity/records", params=params, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "from", "message": "from must be before to", "in": "query"}]


async def test_search_answers_the_records_and_the_window(client: httpx2.AsyncClient, fakes: ActivityFakes) -> None:
    record = stored(fakes)
    params = {"serial": "sn-0001", "to": "2024-03-16T00:00:00Z"}
    body = (await client.get("/v1/activity/records", params=params, headers=AUTH)).json()
    assert body["window"] == {"from": "2024-03-15T00:00:00Z", "to": "2024-03-16T00:00:00Z"}
    assert [(i["id"], i["event_id"]) for i in body["items"]] == [(record.id, "the-terminals-id")]
    assert body["next_cursor"] is None


async def test_a_record_is_answered_with_the_id_users_see_and_a_missing_one_is_a_404(
    client: httpx2.AsyncClient, fakes: ActivityFakes
) -> None:
    record = stored(fakes)
    found = (await client.get(f"/v1/activity/records/{record.id}", headers=AUTH)).json()
    assert (found["id"], found["event_id"], found["kind"], found["pin"]) == (
        record.id,
        "the-terminals-id",
        "telemetry",
        "4821",
    )
    missing = await client.get("/v1/activity/records/nope", headers=AUTH)
    assert (missing.status_code, missing.json()["detail"]) == (404, "No activity record nope.")


async def test_a_missing_terminal_is_a_404_naming_its_canonical_serial(client: httpx2.AsyncClient) -> None:
    missing = await client.get("/v1/activity/terminals/sn-0009", headers=AUTH)
    assert (missing.status_code, missing.json()["type"]) == (404, "urn:partnerapp:problem:not-found")
    assert missing.json()["detail"] == "No terminal SN-0009."


async def test_release_passes_the_callers_token_and_answers_with_the_instances_answer(fakes: ActivityFakes) -> None:
    answer = Released(409, {"type": "urn:partnerapp:problem:conflict", "status": 409, "detail": "already released"})
    instances = FakeInstances("SN-0001", answer=answer)
    fakes = ActivityFakes(fakes.records, keys=fakes.keys, instances=instances)
    record = stored(fakes)
    async for client in client_on(fakes):
        response = await client.post(f"/v1/activity/records/{record.id}/release-license", json={}, headers=AUTH)
        assert (response.status_code, response.json()) == (409, answer.body)
        assert response.headers["content-type"] == "application/problem+json"
    assert instances.tokens == [TOKEN]


async def test_release_refusals_are_answered_as_their_problems(fakes: ActivityFakes) -> None:
    record = stored(fakes, pin=None)
    async for client in client_on(fakes):
        response = await client.post(f"/v1/activity/records/{record.id}/release-license", json={}, headers=AUTH)
        assert (response.status_code, response.json()["type"]) == (409, "urn:partnerapp:problem:no-pin")
    down = ActivityFakes(fakes.records, instances=UnreachableInstances("SN-0001"))
    with_pin = stored(down)
    async for client in client_on(down):
        response = await client.post(f"/v1/activity/records/{with_pin.id}/release-license", json={}, headers=AUTH)
        assert (response.status_code, response.json()["type"]) == (503, "urn:partnerapp:problem:instances-unavailable")
        assert response.json()["detail"] == "The instances service is unavailable; retry shortly."


async def test_release_without_a_bearer_token_is_a_401(client: httpx2.AsyncClient, fakes: ActivityFakes) -> None:
    record = stored(fakes)
    response = await client.post(f"/v1/activity/records/{record.id}/release-license", json={})
    assert response.status_code == 401
    assert fakes.instances is not None and isinstance(fakes.instances, FakeInstances)
    assert fakes.instances.tokens == []


async def test_the_documented_schemas_keep_their_names(client: httpx2.AsyncClient) -> None:
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    assert {"RecordPage", "RecordOut", "TerminalPage", "TerminalOut", "IngestBatch", "Accepted"} <= set(schemas)
    assert set(schemas["RecordPage"]["properties"]) == {"items", "next_cursor", "window"}
