"""The webhook sender against the real FerretDB and a real HTTP receiver on loopback (#19):
production mode refuses a name resolving to a private address and sends nothing, connects to
the address it checked (DNS rebinding cannot move it), follows no redirect, gives up on a slow
receiver after the timeout, reads a bounded excerpt, and two senders never send one delivery
while its lease runs."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import httpx2
import pytest
import pytest_asyncio
from aiohttp import web
from cryptography.fernet import Fernet
from pymongo import AsyncMongoClient

from gateway.adapters.webhooks import (
    MongoWebhookDeliveries,
    MongoWebhookSubscriptions,
    SecretBox,
    WebhookPoster,
)
from gateway.domain.webhooks import RetrySchedule
from gateway.service_layer.webhooks import SenderPolicy, WebhookCommands, WebhookSender
from servicekit.principal import Principal

pytestmark = pytest.mark.integration

PARTNER = Principal("usr-1", "partner", "ptn-1", frozenset({"ptn-1"}))


@dataclass
class Receiver:
    base: str = ""
    port: int = 0
    hits: list[str] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(request.path)
        if request.path == "/redirect":
            raise web.HTTPFound("/elsewhere")
        if request.path == "/slow":
            await asyncio.sleep(5)
        if request.path == "/hold":
            await asyncio.wait_for(self.release.wait(), 10)
        if request.path == "/big":
            return web.Response(text="é" * 100_000)
        return web.Response(text="ok")


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", found.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        found.port = probe.getsockname()[1]
    await web.TCPSite(runner, "127.0.0.1", found.port).start()
    found.base = f"http://127.0.0.1:{found.port}"
    try:
        yield found
    finally:
        await runner.cleanup()


@dataclass
class Parts:
    commands: WebhookCommands
    subscriptions: MongoWebhookSubscriptions
    deliveries: MongoWebhookDeliveries
    sealer: SecretBox


@pytest.fixture
def parts(mongo: AsyncMongoClient[dict[str, Any]], database_name: str) -> Parts:
    db = mongo[database_name]
    subscriptions, deliveries = MongoWebhookSubscriptions(db), MongoWebhookDeliveries(db)
    sealer = SecretBox(Fernet.generate_key())
    commands = WebhookCommands(subscriptions=subscriptions, deliveries=deliveries, sealer=sealer, allow_private=False)
    return Parts(commands, subscriptions, deliveries, sealer)


def sender_of(parts: Parts, poster: WebhookPoster, **policy: Any) -> WebhookSender:
    rules = SenderPolicy(schedule=RetrySchedule((60.0,)), poll_seconds=0.1, **policy)
    return WebhookSender(parts.subscriptions, parts.deliveries, parts.sealer, poster, policy=rules)


async def test_a_name_resolving_to_loopback_is_refused_in_production_mode_and_nothing_is_sent(
    parts: Parts, receiver: Receiver
) -> None:
    async def rebinding(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]  # what an attacker's DNS answers after the URL was accepted

    poster = WebhookPoster(timeout_seconds=2, allow_private=False, resolver=rebinding)
    created = await parts.commands.create_webhook(
        PARTNER,
        partner_id="ptn-1",
        url=f"https://hooks.partner.example:{receiver.port}/in",
        event_types=["webhook.test"],
    )
    delivery = await parts.commands.send_test_event(PARTNER, created.subscription.id)
    sender = sender_of(parts, poster)
    try:
        assert await sender.tick() == 1
        await sender.drain()
    finally:
        await poster.close()
    stored = await parts.deliveries.get(delivery.id)
    assert stored is not None and stored.attempt_count == 1
    attempt = stored.attempts[0]
    assert attempt.status_code is None
    assert attempt.error == "refused: hooks.partner.example resolves to a loopback address (127.0.0.1)"
    assert receiver.hits == [], "nothing reached the receiver"


async def test_the_request_connects_to_the_checked_address_with_the_name_as_host_and_tls_server_name() -> None:
    seen: list[httpx2.Request] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(204)

    async def public(host: str, port: int) -> list[str]:
        return ["93.184.215.14"]

    poster = WebhookPoster(
        timeout_seconds=2, allow_private=False, resolver=public, transport=httpx2.MockTransport(answer)
    )
    try:
        result = await poster.post("https://hooks.partner.example/in?x=1", b"{}", {"webhook-id": "e1"})
    finally:
        await poster.close()
    assert result.succeeded
    [request] = seen
    assert str(request.url) == "https://93.184.215.14/in?x=1"
    assert request.headers["host"] == "hooks.partner.example"
    assert request.extensions["sni_hostname"] == "hooks.partner.example"


async def test_no_redirect_is_followed_a_slow_receiver_times_out_and_the_excerpt_is_bounded(
    receiver: Receiver,
) -> None:
    poster = WebhookPoster(timeout_seconds=0.5, allow_private=True)
    try:
        moved = await poster.post(f"{receiver.base}/redirect", b"{}", {})
        slow = await poster.post(f"{receiver.base}/slow", b"{}", {})
        big = await poster.post(f"{receiver.base}/big", b"{}", {})
    finally:
        await poster.close()
    assert (moved.status_code, moved.error, moved.succeeded) == (302, "redirect not followed", False)
    assert "/elsewhere" not in receiver.hits
    assert slow.status_code is None and slow.error == "timeout after 0.5 s"
    assert big.status_code == 200 and big.response_excerpt == "é" * 1024


async def test_a_delivery_claimed_by_one_sender_is_not_sent_by_another_until_its_lease_expires(
    parts: Parts, receiver: Receiver
) -> None:
    """Sequential claims: what a second replica, or a restarted process, sees. (Two claims at the
    same instant are atomic on MongoDB; FerretDB 1.x's updates are not, hence one dispatcher there.)"""
    dev = WebhookCommands(
        subscriptions=parts.subscriptions, deliveries=parts.deliveries, sealer=parts.sealer, allow_private=True
    )
    created = await dev.create_webhook(
        PARTNER, partner_id="ptn-1", url=f"{receiver.base}/hold", event_types=["webhook.test"]
    )
    delivery = await dev.send_test_event(PARTNER, created.subscription.id)
    first = WebhookPoster(timeout_seconds=5, allow_private=True)
    second = WebhookPoster(timeout_seconds=5, allow_private=True)
    one, other = sender_of(parts, first, lease_seconds=30), sender_of(parts, second, lease_seconds=30)
    try:
        assert await one.tick() == 1
        while receiver.hits != ["/hold"]:  # noqa: ASYNC110 - polls a list
            await asyncio.sleep(0.01)
        assert await other.tick() == 0, "claimed by the first sender"
        receiver.release.set()
        await one.drain()
        assert await other.tick() == 0, "sent already"
    finally:
        await first.close()
        await second.close()
    stored = await parts.deliveries.get(delivery.id)
    assert stored is not None and (stored.outcome, stored.attempt_count) == ("succeeded", 1)
    assert receiver.hits == ["/hold"]
    assert (one.sent, other.sent) == (1, 0)


async def test_the_log_forgets_settled_deliveries_after_the_retention_and_keeps_pending_ones(parts: Parts) -> None:
    dev = WebhookCommands(
        subscriptions=parts.subscriptions, deliveries=parts.deliveries, sealer=parts.sealer, allow_private=True
    )
    created = await dev.create_webhook(
        PARTNER, partner_id="ptn-1", url="http://127.0.0.1:9/in", event_types=["webhook.test"]
    )
    old = await dev.send_test_event(PARTNER, created.subscription.id)
    pending = await dev.send_test_event(PARTNER, created.subscription.id)
    await parts.deliveries.replace(replace(old, outcome="succeeded", created_at=old.created_at - timedelta(days=40)))
    assert await dev.prune_deliveries(timedelta(days=30)) == 1
    assert await parts.deliveries.get(old.id) is None
    assert await parts.deliveries.get(pending.id) is not None
