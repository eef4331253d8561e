"""Web Push (R-06) against the real FerretDB and a local fake push service.

The fake push service decrypts what it receives the way a browser does (RFC 8291, with the
subscriber's private key and auth secret) and checks the VAPID authorization (RFC 8292); the
subscription API runs in a FastAPI app with the caller's identity supplied by an override.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import http_ece  # type: ignore[import-untyped]
import httpx2
import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI, Request
from pymongo import AsyncMongoClient

from gateway.adapters.mongo import PUSH_SUBSCRIPTIONS
from gateway.adapters.webpush import (
    MongoPushSubscriptions,
    VapidKeys,
    WebPushSender,
    b64url,
    b64url_decode,
    subscription_id,
)
from gateway.domain.notifications import Notification
from gateway.entrypoints import push
from gateway.entrypoints.http import Caller, authenticate
from gateway.service_layer.commands import GatewayCommands
from gateway.service_layer.queries import GatewayQueries
from gateway.service_layer.testing import use_cases
from servicekit.api import provide_on
from servicekit.principal import Principal
from servicekit.problems import PROBLEM_MEDIA_TYPE, Problem, install_problem_handlers

pytestmark = pytest.mark.integration

SUBJECT = "mailto:support@partnerapp.example"


# --- a browser's side ------------------------------------------------------------------------


@dataclass
class Device:
    """A browser's push subscription: its ECDH key pair and auth secret, as `subscribe()` makes them."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth_secret: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(point)

    @property
    def auth(self) -> str:
        return b64url(self.auth_secret)

    def as_json(self) -> dict[str, Any]:
        """`PushSubscription.toJSON()`."""
        return {"endpoint": self.endpoint, "expirationTime": None, "keys": {"p256dh": self.p256dh, "auth": self.auth}}

    def decrypt(self, body: bytes) -> dict[str, Any]:
        # aes128gcm: the sender's ephemeral public key travels in the body's header (keyid), so no `dh`.
        plain = http_ece.decrypt(body, private_key=self.private_key, auth_secret=self.auth_secret, version="aes128gcm")
        payload: dict[str, Any] = json.loads(plain)
        return payload


# --- the push service's side -----------------------------------------------------------------


@dataclass
class Received:
    device: str
    headers: dict[str, str]
    """Names in lower case."""
    body: bytes


@dataclass
class FakePushService:
    base: str = ""
    received: list[Received] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    slow: set[str] = field(default_factory=set)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def endpoint(self, device: str) -> str:
        return f"{self.base}/push/{device}"

    async def handle(self, request: web.Request) -> web.Response:
        device = request.match_info["device"]
        body = await request.read()
        self.received.append(Received(device, {k.lower(): v for k, v in request.headers.items()}, body))
        if device in self.slow:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.release.wait(), 10)
        return web.Response(status=self.statuses.get(device, 201))

    def devices(self) -> list[str]:
        return sorted(r.device for r in self.received)


@pytest.fixture
async def push_service(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakePushService]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    service = FakePushService()
    app = web.Application()
    app.router.add_post("/push/{device}", service.handle)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, sock)
    await site.start()
    service.base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    yield service
    service.release.set()
    await runner.cleanup()


@pytest.fixture
def store(mongo: AsyncMongoClient[dict[str, Any]], database_name: str) -> MongoPushSubscriptions:
    return MongoPushSubscriptions(mongo[database_name])


@pytest.fixture
def keys() -> VapidKeys:
    return VapidKeys.generate()


async def subscribe(
    store: MongoPushSubscriptions, service: FakePushService, name: str, *, user: str, partner: str = "ptn-a"
) -> Device:
    """Stored directly: the API only accepts https endpoints of known push services."""
    device = Device(service.endpoint(name))
    await store.put(endpoint=device.endpoint, p256dh=device.p256dh, auth=device.auth, user_id=user, partner_id=partner)
    return device


def posted(partner: str, *, author: str, thread: str = "thr-cmp-1", preview: str = "¿Sigue fallando?") -> Notification:
    return Notification(
        id=str(uuid.uuid4()),
        seq=int(time.time() * 1_000_000),
        type="message.posted",
        partner_id=partner,
        subject=thread,
        time=datetime.now(UTC),
        data={
            "thread_id": thread,
            "company_id": "cmp-1",
            "message_id": "msg-1",
            "author_id": author,
            "author_side": "support",
            "preview": preview,
        },
    )


def vapid_claims(authorization: str, keys: VapidKeys, audience: str) -> dict[str, Any]:
    """Check `vapid t=<jwt>, k=<key>` and return the JWT's claims (ES256 verified with that key)."""
    scheme, _, params = authorization.partition(" ")
    assert scheme.lower() == "vapid"
    parts = dict(part.strip().split("=", 1) for part in params.split(","))
    assert parts["k"] == keys.public_key
    public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(parts["k"]))
    assert jwt.get_unverified_header(parts["t"])["alg"] == "ES256"
    return jwt.decode(parts["t"], public_key, algorithms=["ES256"], audience=audience)


# --- sending ---------------------------------------------------------------------------------


async def test_a_message_reaches_the_partners_other_devices_encrypted_and_signed(
    store: MongoPushSubscriptions, push_service: FakePushService, keys: VapidKeys
) -> None:
    devices = {
        "ana-phone": await subscribe(store, push_service, "ana-phone", user="usr-ana"),
        "bob-phone": await subscribe(store, push_service, "bob-phone", user="usr-bob"),
        "bob-laptop": await subscribe(store, push_service, "bob-laptop", user="usr-bob"),
        "eva-phone": await subscribe(store, push_service, "eva-phone", user="usr-eva", partner="ptn-b"),
    }
    sender = WebPushSender(store, keys, subject=SUBJECT, timeout_seconds=5)
    note = posted("ptn-a", author="usr-ana", thread="thr-cmp-42", preview="La impresora ya funciona 🎉")

    await sender.notify_partner(note)  # scheduled: returns before the pushes are sent
    await sender.drain()

    assert push_service.devices() == ["bob-laptop", "bob-phone"], "not the author's device, nor another partner's"
    for received in push_service.received:
        assert devices[received.device].decrypt(received.body) == {
            "type": "message.posted",
            "title": "Soporte ha respondido",  # Spanish: the language of readers whose language is not known
            "body": "La impresora ya funciona 🎉",
            "url": "/support/threads/thr-cmp-42",
            "thread_id": "thr-cmp-42",
            "notification_id": note.id,
        }
        headers = received.headers
        assert headers["content-encoding"] == "aes128gcm"
        assert headers["ttl"] == "86400"
        assert headers["urgency"] == "high"
        assert 0 < len(headers["topic"]) <= 32
        claims = vapid_claims(headers["authorization"], keys, audience=push_service.base)
        assert claims["sub"] == SUBJECT
        assert claims["aud"] == push_service.base
        assert time.time() < claims["exp"] <= time.time() + 24 * 3600


async def test_a_device_of_another_user_of_the_partner_gets_it_directly(
    store: MongoPushSubscriptions, push_service: FakePushService, keys: VapidKeys
) -> None:
    await subscribe(store, push_service, "ana-phone", user="usr-ana")
    sender = WebPushSender(store, keys, subject=SUBJECT, timeout_seconds=5)

    assert await sender.deliver(posted("ptn-a", author="usr-ana")) == 0, "the author alone: nothing to send"
    assert await sender.deliver(posted("ptn-a", author="usr-staff")) == 1
    assert push_service.devices() == ["ana-phone"]


async def test_subscriptions_the_push_service_reports_gone_are_deleted(
    store: MongoPushSubscriptions, push_service: FakePushService, keys: VapidKeys
) -> None:
    names = ["expired-410", "unknown-404", "broken-500", "throttled-429", "fine"]
    devices = {name: await subscribe(store, push_service, name, user=f"usr-{name}") for name in names}
    push_service.statuses.update({"expired-410": 410, "unknown-404": 404, "broken-500": 500, "throttled-429": 429})
    sender = WebPushSender(store, keys, subject=SUBJECT, timeout_seconds=5)

    assert await sender.deliver(posted("ptn-a", author="usr-staff")) == 1

    assert push_service.devices() == sorted(names)
    left = {name for name, device in devices.items() if await store.get(device.endpoint)}
    assert left == {"broken-500", "throttled-429", "fine"}, "only 404/410 mean gone"


async def test_a_slow_or_unreachable_push_service_is_given_up_without_raising(
    store: MongoPushSubscriptions, push_service: FakePushService, keys: VapidKeys
) -> None:
    await subscribe(store, push_service, "slow", user="usr-bob")
    await subscribe(store, push_service, "fine", user="usr-eva")
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    nowhere = f"http://127.0.0.1:{closed.getsockname()[1]}/push/nowhere"  # bound, not listening: refused
    device = Device(nowhere)
    await store.put(endpoint=nowhere, p256dh=device.p256dh, auth=device.auth, user_id="usr-kim", partner_id="ptn-a")
    push_service.slow.add("slow")
    sender = WebPushSender(store, keys, subject=SUBJECT, timeout_seconds=0.5)

    started = time.monotonic()
    try:
        assert await sender.deliver(posted("ptn-a", author="usr-ana")) == 1
    finally:
        push_service.release.set()
        closed.close()

    assert time.monotonic() - started < 3, "the devices are pushed in parallel, each with a timeout"
    assert await store.get(nowhere) is not None, "a failure to reach the push service is not a gone subscription"
    assert await store.get(push_service.endpoint("slow")) is not None


async def test_only_new_messages_are_pushed(
    store: MongoPushSubscriptions, push_service: FakePushService, keys: VapidKeys
) -> None:
    await subscribe(store, push_service, "bob-phone", user="usr-bob")
    sender = WebPushSender(store, keys, subject=SUBJECT, timeout_seconds=5)
    other = Notification(
        id=str(uuid.uuid4()),
        seq=1,
        type="instance.updated",
        partner_id="ptn-a",
        subject="ins-1",
        time=datetime.now(UTC),
        data={"instance_id": "ins-1"},
    )

    await sender.notify_partner(other)
    await sender.drain()
    await sender.close()

    assert push_service.received == []


# --- the store -------------------------------------------------------------------------------


async def test_the_store_keeps_one_document_per_endpoint_and_a_few_devices_per_user(
    mongo: AsyncMongoClient[dict[str, Any]], database_name: str
) -> None:
    ticks = iter(range(1, 100))
    store = MongoPushSubscriptions(
        mongo[database_name], max_devices_per_user=2, clock=lambda: datetime.fromtimestamp(next(ticks), UTC)
    )
    collection = mongo[database_name][PUSH_SUBSCRIPTIONS]
    first = Device("https://fcm.googleapis.com/fcm/send/one")

    stored, created = await store.put(
        endpoint=first.endpoint, p256dh=first.p256dh, auth=first.auth, user_id="usr-ana", partner_id="ptn-a"
    )
    assert created
    renewed = Device(first.endpoint)
    again, created = await store.put(
        endpoint=first.endpoint, p256dh=renewed.p256dh, auth=renewed.auth, user_id="usr-ana", partner_id="ptn-a"
    )
    assert not created
    assert again.p256dh == renewed.p256dh
    assert again.created_at == stored.created_at < again.updated_at
    doc = await collection.find_one({})
    assert doc is not None
    assert doc["_id"] == subscription_id(first.endpoint)
    assert await collection.count_documents({}) == 1

    for name in ("two", "three"):
        device = Device(f"https://fcm.googleapis.com/fcm/send/{name}")
        await store.put(
            endpoint=device.endpoint, p256dh=device.p256dh, auth=device.auth, user_id="usr-ana", partner_id="ptn-a"
        )
    kept = sorted(s.endpoint.rsplit("/", 1)[1] for s in await store.for_partner("ptn-a"))
    assert kept == ["three", "two"], "the least recently subscribed device goes beyond the limit"

    assert not await store.remove("https://fcm.googleapis.com/fcm/send/two", user_id="usr-bob")
    assert await store.remove("https://fcm.googleapis.com/fcm/send/two", user_id="usr-ana")
    assert await store.forget("https://fcm.googleapis.com/fcm/send/three")
    assert await store.for_partner("ptn-a") == []


# --- the subscription API --------------------------------------------------------------------


@pytest.fixture
async def api(store: MongoPushSubscriptions, keys: VapidKeys) -> AsyncIterator[Callable[..., httpx2.AsyncClient]]:
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(push.api)
    gateway = use_cases(push_subscriptions=store, vapid_public_key=keys.public_key)
    provide_on(app, GatewayCommands, gateway.commands)
    provide_on(app, GatewayQueries, gateway.queries)

    async def fake_authenticate(request: Request) -> Caller:
        user = request.headers.get("X-Test-User")
        if not user:
            raise Problem(401, "unauthorized", "A bearer access token is required.")
        partner = request.headers.get("X-Test-Partner", "ptn-a")
        principal = Principal(user, "partner", partner, frozenset({partner}))
        return Caller(principal, "token", "ses-1", datetime.now(UTC))

    app.dependency_overrides[authenticate] = fake_authenticate
    clients: list[httpx2.AsyncClient] = []

    def make(user: str | None = None, partner: str = "ptn-a") -> httpx2.AsyncClient:
        headers = {"X-Test-User": user, "X-Test-Partner": partner} if user else {}
        client = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://gateway", headers=headers)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


async def test_the_public_key_is_served_without_signing_in(
    api: Callable[..., httpx2.AsyncClient], keys: VapidKeys
) -> None:
    response = await api().get("/api/v1/push/vapid-public-key")

    assert response.status_code == 200
    assert response.json() == {"public_key": keys.public_key}
    raw = b64url_decode(response.json()["public_key"])
    assert len(raw) == 65
    assert raw[0] == 0x04
    assert "=" not in response.json()["public_key"]


async def test_subscribing_twice_keeps_one_subscription(
    api: Callable[..., httpx2.AsyncClient],
    store: MongoPushSubscriptions,
    mongo: AsyncMongoClient[dict[str, Any]],
    database_name: str,
) -> None:
    ana = api("usr-ana")
    device = Device("https://fcm.googleapis.com/fcm/send/abc:def")

    first = await ana.post("/api/v1/push/subscriptions", json=device.as_json())
    assert first.status_code == 201, first.text
    assert first.json()["endpoint"] == device.endpoint
    assert first.json()["partner_id"] == "ptn-a"

    renewed = Device(device.endpoint)
    second = await ana.post("/api/v1/push/subscriptions", json=renewed.as_json())
    assert second.status_code == 200, second.text
    assert await mongo[database_name][PUSH_SUBSCRIPTIONS].count_documents({}) == 1
    stored = await store.get(device.endpoint)
    assert stored is not None
    assert (stored.user_id, stored.p256dh, stored.auth) == ("usr-ana", renewed.p256dh, renewed.auth)

    unauthenticated = await api().post("/api/v1/push/subscriptions", json=device.as_json())
    assert unauthenticated.status_code == 401


@pytest.mark.parametrize(
    ("change", "field_name"),
    [
        ({"endpoint": "http://fcm.googleapis.com/fcm/send/abc"}, "endpoint"),
        ({"endpoint": "https://10.0.0.7/internal"}, "endpoint"),
        ({"endpoint": "https://fcm.googleapis.com.evil.example/x"}, "endpoint"),
        ({"endpoint": "https://user:pw@fcm.googleapis.com/x"}, "endpoint"),
        ({"endpoint": "fcm.googleapis.com/fcm/send/abc"}, "endpoint"),
        ({"endpoint": "https://fcm.googleapis.com/" + "a" * 2048}, "endpoint"),
        ({"keys": {"p256dh": "AAAA", "auth": b64url(b"0123456789abcdef")}}, "keys.p256dh"),
        ({"keys": {"p256dh": "B" + "A" * 86, "auth": b64url(b"0123456789abcdef")}}, "keys.p256dh"),
        ({"keys": {"p256dh": Device("x").p256dh, "auth": "short"}}, "keys.auth"),
        ({"keys": {"p256dh": Device("x").p256dh, "auth": "not base64!!"}}, "keys.auth"),
        ({"keys": {"p256dh": Device("x").p256dh}}, "keys.auth"),
        ({"user_id": "usr-someone-else"}, "user_id"),
    ],
)
async def test_a_bad_subscription_is_refused_naming_the_field(
    api: Callable[..., httpx2.AsyncClient], change: dict[str, Any], field_name: str
) -> None:
    body = {**Device("https://fcm.googleapis.com/fcm/send/abc").as_json(), **change}

    response = await api("usr-ana").post("/api/v1/push/subscriptions", json=body)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    assert response.json()["type"] == "urn:partnerapp:problem:validation"
    assert field_name in {error["field"] for error in response.json()["errors"]}


async def test_known_push_services_are_accepted(api: Callable[..., httpx2.AsyncClient]) -> None:
    ana = api("usr-ana")
    for endpoint in (
        "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABk",
        "https://web.push.apple.com/QGx2",
        "https://wns2-par02p.notify.windows.com/w/?token=BQYAAAB",
    ):
        response = await ana.post("/api/v1/push/subscriptions", json=Device(endpoint).as_json())
        assert response.status_code == 201, response.text


async def test_a_user_can_only_unsubscribe_their_own_devices(
    api: Callable[..., httpx2.AsyncClient], store: MongoPushSubscriptions
) -> None:
    ana, bob = api("usr-ana"), api("usr-bob")
    device = Device("https://fcm.googleapis.com/fcm/send/ana-device")
    assert (await ana.post("/api/v1/push/subscriptions", json=device.as_json())).status_code == 201

    refused = await bob.delete("/api/v1/push/subscriptions", params={"endpoint": device.endpoint})
    assert refused.status_code == 404
    assert refused.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    assert await store.get(device.endpoint) is not None

    done = await ana.delete("/api/v1/push/subscriptions", params={"endpoint": device.endpoint})
    assert done.status_code == 204
    assert await store.get(device.endpoint) is None
    again = await ana.delete("/api/v1/push/subscriptions", params={"endpoint": device.endpoint})
    assert again.status_code == 404

    missing = await ana.delete("/api/v1/push/subscriptions")
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "endpoint"


async def test_a_device_subscribed_again_by_another_user_moves_to_that_user(
    api: Callable[..., httpx2.AsyncClient], store: MongoPushSubscriptions
) -> None:
    device = Device("https://fcm.googleapis.com/fcm/send/shared-browser")
    assert (await api("usr-ana").post("/api/v1/push/subscriptions", json=device.as_json())).status_code == 201

    response = await api("usr-bob", partner="ptn-b").post("/api/v1/push/subscriptions", json=device.as_json())

    assert response.status_code == 200
    assert response.json()["partner_id"] == "ptn-b"
    stored = await store.get(device.endpoint)
    assert stored is not None
    assert (stored.user_id, stored.partner_id) == ("usr-bob", "ptn-b")
    assert await store.for_partner("ptn-a") == []
