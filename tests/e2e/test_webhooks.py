"""Webhooks (#19) end to end: subscriptions through the gateway's public API, the services'
events off the real Kafka delivered to a real HTTP receiver on loopback, each verified with an
independent Standard Webhooks implementation (`standardwebhooks` from PyPI).

The gateway runs with private targets allowed (loopback receivers) and a retry schedule of
seconds; production mode's refusal of private addresses is tested in the gateway's integration
tests (test_webhook_sender.py)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest
import pytest_asyncio
from aiohttp import web
from standardwebhooks import Webhook

from servicekit.testing import eventually

from .conftest import Stack, _free_port, add_user, new_company, provisioned_instance, running_stack
from .test_gateway_platform import sse

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

SCHEDULE = [0.3, 0.3, 0.3]  # 4 attempts in about a second


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """A partner's endpoint on loopback: `/ok/...` answers 200, `/flaky/...` 500 the first time
    per webhook-id then 200, `/switch/...` 500 while `failing`."""

    base: str = ""
    received: list[Received] = field(default_factory=list)
    failing: bool = True
    _seen: set[str] = field(default_factory=set)

    def url(self, path: str) -> str:
        return f"{self.base}/{path}"

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == f"/{path}"]

    async def handle(self, request: web.Request) -> web.Response:
        got = Received(request.path, {k.lower(): v for k, v in request.headers.items()}, await request.read())
        self.received.append(got)
        message_id = got.headers.get("webhook-id", "")
        if request.path.startswith("/flaky/") and message_id not in self._seen:
            self._seen.add(message_id)
            return web.Response(status=500, text="not yet")
        if request.path.startswith("/switch/") and self.failing:
            return web.Response(status=500, text="failing on purpose")
        return web.Response(status=200, text="ok")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", found.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    found.base = f"http://127.0.0.1:{port}"
    try:
        yield found
    finally:
        await runner.cleanup()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(topic_prefix: str, key_pair: tuple[str, str]) -> AsyncIterator[Stack]:
    settings = {
        "webhooks_allow_private": True,
        "webhook_retry_schedule_seconds": SCHEDULE,
        "webhook_poll_seconds": 0.2,
        "webhook_timeout_seconds": 3.0,
    }
    async with running_stack(topic_prefix, key_pair, gateway_settings=settings) as started:
        yield started


@dataclass
class Partner:
    id: str
    token: str


async def new_partner(stack: Stack) -> Partner:
    partner_id = f"ptn-{uuid.uuid4().hex[:8]}"
    email = await add_user(stack, f"usr-{uuid.uuid4().hex[:8]}", "partner", (partner_id,))
    return Partner(partner_id, await stack.token(email))


async def subscribe(
    api: httpx2.AsyncClient, partner: Partner, url: str, types: list[str], **extra: Any
) -> dict[str, Any]:
    created = await api.post(
        "/api/v1/webhooks", json={"partner_id": partner.id, "url": url, "event_types": types, **extra}
    )
    assert created.status_code == 201, created.text
    assert created.headers["location"] == f"/api/v1/webhooks/{created.json()['id']}"
    body: dict[str, Any] = created.json()
    return body


def verified(secret: str, received: Received) -> dict[str, Any]:
    """The event, once the independent implementation accepts its signature."""
    event: dict[str, Any] = Webhook(secret).verify(received.body, received.headers)
    assert received.headers["webhook-id"] == event["id"], "webhook-id is the CloudEvent id"
    assert received.headers["content-type"].startswith("application/cloudevents+json")
    return event


async def deliveries(api: httpx2.AsyncClient, subscription_id: str, **params: str) -> list[dict[str, Any]]:
    page = await api.get(f"/api/v1/webhooks/{subscription_id}/deliveries", params=params)
    assert page.status_code == 200, page.text
    items: list[dict[str, Any]] = page.json()["items"]
    return items


async def test_the_catalogue_is_described_in_the_callers_language(stack: Stack) -> None:
    partner = await new_partner(stack)
    async with stack.client(partner.token) as api:
        english = (await api.get("/api/v1/webhooks/event-types", headers={"Accept-Language": "en"})).json()["items"]
        spanish = (await api.get("/api/v1/webhooks/event-types", headers={"Accept-Language": "es"})).json()["items"]
    types = [item["type"] for item in english]
    assert {"instance.provisioned", "license.revoked", "session.cleared", "message.posted", "webhook.test"} <= set(
        types
    )
    assert types == [item["type"] for item in spanish]
    described = {item["type"]: item["description"] for item in english}
    assert described["license.revoked"] == "A license was revoked."
    assert {i["type"]: i["description"] for i in spanish}["license.revoked"] == "Se ha revocado una licencia."


async def test_bad_input_is_a_problem_naming_the_field_and_nothing_is_created(stack: Stack, receiver: Receiver) -> None:
    partner = await new_partner(stack)
    good = {"partner_id": partner.id, "url": receiver.url("ok/x"), "event_types": ["license.added"]}
    cases = [
        ({**good, "event_types": ["license.exploded"]}, "event_types"),
        ({**good, "event_types": []}, "event_types"),
        ({**good, "url": "ftp://example.com/in"}, "url"),
        ({**good, "url": "https://user:pw@example.com/in"}, "url"),
        ({**good, "description": "x" * 201}, "description"),
        ({key: value for key, value in good.items() if key != "url"}, "url"),
    ]
    async with stack.client(partner.token) as api:
        for body, named in cases:
            answer = await api.post("/api/v1/webhooks", json=body, headers={"Accept-Language": "en"})
            assert answer.status_code == 422, (body, answer.text)
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert named in {str(e["field"]).split(".")[-1] for e in answer.json()["errors"]}, answer.text
        other = await api.post("/api/v1/webhooks", json={**good, "partner_id": "ptn-someone-else"})
        assert other.status_code == 403, other.text
        assert (await api.get("/api/v1/webhooks")).json()["items"] == []


async def test_provisioned_revoked_and_posted_each_arrive_once_signed_in_order(
    stack: Stack, receiver: Receiver
) -> None:
    partner = await new_partner(stack)
    path = f"ok/{uuid.uuid4().hex[:8]}"
    types = ["instance.provisioned", "license.added", "license.revoked", "message.posted"]
    async with stack.client(partner.token) as api:
        hook = await subscribe(api, partner, receiver.url(path), types, description="Billing")
        assert hook["secret"].startswith("whsec_") and hook["secret_hint"] == hook["secret"][:10] + "…"
        shown = (await api.get(f"/api/v1/webhooks/{hook['id']}")).json()
        assert "secret" not in shown, "the secret is shown once, at creation"
        company_id = await new_company(api)
        instance_id = await provisioned_instance(api, company_id, generate=True)
        added = await api.post(
            f"/api/v1/instances/{instance_id}/licenses",
            json={"licenses": [{"user_name": "Ana", "email": "ana@example.com", "pin": "4821"}]},
        )
        assert added.status_code == 201, added.text
        license_id = added.json()["license_ids"][0]
        revoked = await api.post(
            f"/api/v1/instances/{instance_id}/licenses/{license_id}/revoke", json={"reason": "left the company"}
        )
        assert revoked.status_code == 200, revoked.text

        async def thread() -> bool:
            return (await api.get(f"/api/v1/threads/thr-{company_id}")).status_code == 200

        await eventually(thread)
        posted = await api.post(
            f"/api/v1/threads/thr-{company_id}/messages",
            json={"body": "Hola"},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert posted.status_code == 201, posted.text

        def arrived() -> list[str]:
            return [verified(hook["secret"], r)["type"] for r in receiver.at(path)]

        async def all_four() -> bool:
            return {"instance.provisioned", "license.revoked", "message.posted"} <= set(arrived())

        await eventually(all_four)
        await asyncio.sleep(1.0)  # room for a duplicate to show up
        events = [verified(hook["secret"], r) for r in receiver.at(path)]
        ids = [e["id"] for e in events]
        assert len(ids) == len(set(ids)), "each event arrives once"
        of_instance = [e["type"] for e in events if e["subject"] == instance_id]
        assert of_instance == ["instance.provisioned", "license.added", "license.revoked"], "in order per aggregate"
        assert {e["data"]["partner_id"] for e in events} == {partner.id}
        log = await deliveries(api, hook["id"])
        assert {d["event_id"] for d in log} == set(ids)
        assert all(d["outcome"] == "succeeded" and d["attempts"][0]["status_code"] == 200 for d in log)
        assert [d["event_type"] for d in await deliveries(api, hook["id"], event_type="license.revoked")] == [
            "license.revoked"
        ]
        assert await deliveries(api, hook["id"], outcome="failed") == []


async def test_a_receiver_answering_500_then_200_gets_the_same_webhook_id_again(
    stack: Stack, receiver: Receiver
) -> None:
    partner = await new_partner(stack)
    path = f"flaky/{uuid.uuid4().hex[:8]}"
    async with stack.client(partner.token) as api:
        hook = await subscribe(api, partner, receiver.url(path), ["webhook.test"])
        sent = await api.post(f"/api/v1/webhooks/{hook['id']}/test")
        assert sent.status_code == 202, sent.text
        delivery = sent.json()

        async def settled() -> dict[str, Any] | None:
            found = (await api.get(f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}")).json()
            return found if found["outcome"] == "succeeded" else None

        done = await eventually(settled)
    attempts = receiver.at(path)
    assert [r.headers["webhook-id"] for r in attempts] == [delivery["event_id"]] * 2
    assert [verified(hook["secret"], r)["type"] for r in attempts] == ["webhook.test"] * 2
    assert attempts[0].body == attempts[1].body
    assert [a["status_code"] for a in done["attempts"]] == [500, 200]
    assert done["attempts"][0]["response_excerpt"] == "not yet"
    assert done["attempt_count"] == 2


async def test_a_failing_receiver_pauses_the_subscription_tells_the_partner_and_replay_sends_the_chosen(
    stack: Stack, receiver: Receiver
) -> None:
    partner = await new_partner(stack)
    path = f"switch/{uuid.uuid4().hex[:8]}"
    since = datetime.now(UTC).isoformat()
    async with stack.client(partner.token) as api, sse(stack, partner.token) as notifications:
        hook = await subscribe(api, partner, receiver.url(path), ["webhook.test"])
        receiver.failing = True
        failed: list[dict[str, Any]] = []
        for _ in range(2):  # two deliveries given up, the subscription paused after each
            sent = (await api.post(f"/api/v1/webhooks/{hook['id']}/test")).json()

            async def paused() -> dict[str, Any] | None:
                found = (await api.get(f"/api/v1/webhooks/{hook['id']}")).json()
                return found if found["status"] == "failing_paused" else None

            state = await eventually(paused)
            assert state["paused_reason"] == "webhook_delivery_failed"
            notice = await asyncio.wait_for(notifications.get(), 10)
            assert notice["event"] == "webhook.paused"
            assert notice["data"]["partner_id"] == partner.id
            assert notice["data"]["data"]["subscription_id"] == hook["id"]
            one = (await api.get(f"/api/v1/webhooks/{hook['id']}/deliveries/{sent['id']}")).json()
            assert one["outcome"] == "failed" and one["attempt_count"] == len(SCHEDULE) + 1
            assert one["next_attempt_at"] is None
            failed.append(one)
            resumed = await api.patch(
                f"/api/v1/webhooks/{hook['id']}",
                content=json.dumps({"status": "active"}),
                headers={"Content-Type": "application/merge-patch+json"},
            )
            assert resumed.status_code == 200, resumed.text
            assert resumed.json()["consecutive_failures"] == 0
        receiver.failing = False
        good = (await api.post(f"/api/v1/webhooks/{hook['id']}/test")).json()

        async def succeeded() -> bool:
            found = (await api.get(f"/api/v1/webhooks/{hook['id']}/deliveries/{good['id']}")).json()
            return bool(found["outcome"] == "succeeded")

        await eventually(succeeded)
        assert [d["id"] for d in await deliveries(api, hook["id"], outcome="failed")] == [
            failed[1]["id"],
            failed[0]["id"],
        ], "newest first"
        before = len(receiver.at(path))
        replay = await api.post(f"/api/v1/webhooks/{hook['id']}/replay", json={"since": since, "outcome": "failed"})
        assert replay.status_code == 202, replay.text
        assert replay.json() == {"replayed": 2}

        async def both_again() -> bool:
            return len(await deliveries(api, hook["id"], outcome="succeeded")) == 3

        await eventually(both_again)
        again = await api.post(f"/api/v1/webhooks/{hook['id']}/deliveries/{failed[0]['id']}/replay")
        assert again.status_code == 202, again.text
        assert again.json()["outcome"] == "pending" and again.json()["attempt_count"] == 0

        async def third() -> bool:
            found = (await api.get(f"/api/v1/webhooks/{hook['id']}/deliveries/{failed[0]['id']}")).json()
            return bool(found["outcome"] == "succeeded" and found["attempts"][-1]["status_code"] == 200)

        await eventually(third)
        await asyncio.sleep(0.5)
    replayed = [r.headers["webhook-id"] for r in receiver.at(path)[before:]]
    assert sorted(replayed) == sorted([failed[0]["event_id"], failed[1]["event_id"], failed[0]["event_id"]]), (
        "replay re-sends exactly the chosen deliveries"
    )
    assert good["event_id"] not in replayed


async def test_rotation_signs_with_both_secrets_during_the_overlap(stack: Stack, receiver: Receiver) -> None:
    partner = await new_partner(stack)
    path = f"ok/{uuid.uuid4().hex[:8]}"
    async with stack.client(partner.token) as api:
        hook = await subscribe(api, partner, receiver.url(path), ["webhook.test"])
        rotated = await api.post(f"/api/v1/webhooks/{hook['id']}/secret", json={"overlap_hours": 1})
        assert rotated.status_code == 200, rotated.text
        new_secret = rotated.json()["secret"]
        assert new_secret != hook["secret"] and rotated.json()["previous_secret_expires_at"] is not None
        assert (await api.get(f"/api/v1/webhooks/{hook['id']}")).json()["secret_hint"] == new_secret[:10] + "…"
        await api.post(f"/api/v1/webhooks/{hook['id']}/test")

        async def arrived() -> list[Received]:
            return receiver.at(path)

        got = (await eventually(arrived))[0]
        assert len(got.headers["webhook-signature"].split(" ")) == 2
        assert verified(new_secret, got) == verified(hook["secret"], got)
        cut = await api.post(f"/api/v1/webhooks/{hook['id']}/secret", json={"overlap_hours": 0})
        newest = cut.json()["secret"]
        assert cut.json()["previous_secret_expires_at"] is None
        await api.post(f"/api/v1/webhooks/{hook['id']}/test")

        async def second() -> Received | None:
            return receiver.at(path)[1] if len(receiver.at(path)) > 1 else None

        last = await eventually(second)
    verified(newest, last)
    with pytest.raises(Exception, match="signature"):
        Webhook(new_secret).verify(last.body, last.headers)


async def test_another_partners_subscriptions_and_deliveries_are_404_and_staff_see_every_partners(
    stack: Stack, receiver: Receiver
) -> None:
    mine, theirs = await new_partner(stack), await new_partner(stack)
    staff_email = await add_user(stack, f"usr-{uuid.uuid4().hex[:8]}", "staff", (mine.id, theirs.id))
    async with stack.client(theirs.token) as api:
        hook = await subscribe(api, theirs, receiver.url(f"ok/{uuid.uuid4().hex[:8]}"), ["webhook.test"])
        delivery = (await api.post(f"/api/v1/webhooks/{hook['id']}/test")).json()
    base = f"/api/v1/webhooks/{hook['id']}"
    async with stack.client(mine.token) as api:
        calls = [
            ("GET", base, None),
            ("PATCH", base, {"description": "mine"}),
            ("DELETE", base, None),
            ("POST", f"{base}/secret", {"overlap_hours": 0}),
            ("POST", f"{base}/test", None),
            ("GET", f"{base}/deliveries", None),
            ("GET", f"{base}/deliveries/{delivery['id']}", None),
            ("POST", f"{base}/deliveries/{delivery['id']}/replay", None),
            ("POST", f"{base}/replay", {"since": "2020-01-01T00:00:00Z"}),
        ]
        for method, url, body in calls:
            answer = await api.request(method, url, json=body)
            assert answer.status_code == 404, (method, url, answer.text)
            assert theirs.id not in answer.text
        assert (await api.get("/api/v1/webhooks")).json()["items"] == []
        assert (await api.get("/api/v1/webhooks", params={"partner_id": theirs.id})).status_code == 403
    async with stack.client(theirs.token) as api:
        still = (await api.get(base)).json()
        assert still["description"] == "" and still["secret_hint"] == hook["secret_hint"]
    async with stack.client(await stack.token(staff_email)) as api:
        listed = (await api.get("/api/v1/webhooks", params={"partner_id": theirs.id})).json()["items"]
        assert [h["id"] for h in listed] == [hook["id"]]
        assert (await api.get(f"{base}/deliveries/{delivery['id']}")).status_code == 200
        audit = await api.get("/api/v1/audit", params={"partner_id": theirs.id, "action": "POST /api/v1/webhooks"})
        assert [(r["target_id"], r["status"]) for r in audit.json()["items"]] == [(hook["id"], 201)], audit.text


async def test_a_retried_create_under_one_idempotency_key_makes_one_subscription(
    stack: Stack, receiver: Receiver
) -> None:
    partner = await new_partner(stack)
    body = {"partner_id": partner.id, "url": receiver.url("ok/idem"), "event_types": ["webhook.test"]}
    key = {"Idempotency-Key": f"create-{uuid.uuid4().hex}"}
    async with stack.client(partner.token) as api:
        first = await api.post("/api/v1/webhooks", json=body, headers=key)
        again = await api.post("/api/v1/webhooks", json=body, headers=key)
        other = await api.post("/api/v1/webhooks", json={**body, "description": "another"}, headers=key)
        listed = (await api.get("/api/v1/webhooks")).json()["items"]
    assert first.status_code == 201, first.text
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"] and again.json()["secret"] == first.json()["secret"]
    assert other.status_code == 422, other.text
    assert [h["id"] for h in listed] == [first.json()["id"]]
