"""Two gateway replicas on one store (the real FerretDB and Kafka): the per-call check answers
from each replica's memory with no store read, and a logout, a removed partner and a password
change made on one replica are refused by both within the staleness bound; a replica whose
change feed stalls reads the store instead, and is still right.

Store reads are counted with PyMongo's command monitoring: `find`s of the gateway's `users` and
`sessions` collections in this test's database."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from pymongo import monitoring

from gateway.bootstrap import build_app
from gateway.config import Settings
from gateway.service_layer.access import AccessFeed
from gateway.service_layer.commands import GatewayCommands
from gateway.service_layer.ports import AccessChange
from servicekit.api import provided_on
from servicekit.settings import PlatformSettings
from servicekit.testing import started as app_started

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple"
BOUND = 1.0  # the default staleness bound (Settings.access_staleness_seconds)
MARGIN = 0.5
UNREACHABLE = "http://127.0.0.1:9"
CHECKED_COLLECTIONS = ("users", "sessions")


class StoreReads(monitoring.CommandListener):
    """The `find`s of the per-call check's collections in one database."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.finds: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.database_name == self.database and event.command_name == "find":
            collection = event.command.get("find")
            if collection in CHECKED_COLLECTIONS:
                self.finds[collection] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    @property
    def total(self) -> int:
        return sum(self.finds.values())


@dataclass
class Replica:
    name: str
    app: FastAPI
    http: httpx2.AsyncClient

    async def status(self, token: str) -> int:
        """An authenticated call that reads nothing else from the users or sessions."""
        response = await self.http.get("/api/v1/partners", headers={"Authorization": f"Bearer {token}"})
        return response.status_code


@dataclass
class Replicas:
    a: Replica
    b: Replica
    reads: StoreReads

    @property
    def both(self) -> tuple[Replica, Replica]:
        return self.a, self.b

    async def user(self, *partners: str) -> tuple[str, str]:
        """A new staff user of `partners` (created through replica a): id and e-mail."""
        user_id = f"usr-{uuid.uuid4().hex[:8]}"
        commands: GatewayCommands = provided_on(self.a.app, GatewayCommands)
        email = f"{user_id}@example.com"
        await commands.create_user(
            user_id=user_id, email=email, name="Sam", role="staff", partner_ids=partners, password=PASSWORD
        )
        return user_id, email

    async def login(self, email: str, *, partner_id: str | None = None) -> dict[str, Any]:
        response = await self.a.http.post(
            "/api/v1/auth/login", json={"email": email, "password": PASSWORD, "partner_id": partner_id}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def from_memory(self, replica: Replica, token: str) -> None:
        """Wait until the replica accepts the token with no store read (its feed is current and
        the session and user are in its memory)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            before = self.reads.total
            assert await replica.status(token) == 200, f"{replica.name} accepts the token"
            if self.reads.total == before:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{replica.name} never answered from memory")

    async def refused_by_both_within_the_bound(self, token: str, changed: float) -> None:
        """Every replica answers 401 from a call begun before `changed` + bound + margin on, and
        to every call begun after `changed` + bound."""
        for replica in self.both:
            while True:
                began = time.monotonic()
                status = await replica.status(token)
                if status == 401:
                    break
                assert status == 200, status
                assert began < changed + BOUND + MARGIN, f"{replica.name} still accepts past the bound"
                await asyncio.sleep(0.02)
        await asyncio.sleep(max(0.0, changed + BOUND - time.monotonic()))
        for replica in self.both:
            assert await replica.status(token) == 401, f"{replica.name} accepts again"


@pytest.fixture
async def replicas(
    platform: PlatformSettings, database_name: str, key_pair: tuple[str, str]
) -> AsyncIterator[Replicas]:
    reads = StoreReads(database_name)
    monitoring.register(reads)  # process-wide; counts only this test's database

    def replica_app() -> FastAPI:
        settings = Settings(
            mongo_database=database_name,
            consumer_group=f"gateway-{uuid.uuid4().hex[:8]}",
            token_private_key=SecretStr(key_pair[0]),
            instances_url=UNREACHABLE,
            support_url=UNREACHABLE,
            reports_url=UNREACHABLE,
            activity_url=UNREACHABLE,
            platform=platform,
        )
        return build_app(settings)

    apps = {name: replica_app() for name in ("a", "b")}
    async with contextlib.AsyncExitStack() as started:
        found: dict[str, Replica] = {}
        for name, app in apps.items():
            await started.enter_async_context(app_started(app))
            http = await started.enter_async_context(
                httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=f"http://gateway-{name}")
            )
            found[name] = Replica(name, app, http)
        yield Replicas(found["a"], found["b"], reads)


async def test_steady_state_checks_make_no_store_read_on_either_replica(replicas: Replicas) -> None:
    _, email = await replicas.user("ptn-1")
    token = (await replicas.login(email))["access_token"]
    for replica in replicas.both:
        await replicas.from_memory(replica, token)
    before = replicas.reads.total

    for _ in range(25):
        for replica in replicas.both:
            assert await replica.status(token) == 200

    assert replicas.reads.total == before, replicas.reads.finds


async def test_a_logout_is_refused_by_every_replica_within_the_bound(replicas: Replicas) -> None:
    _, email = await replicas.user("ptn-1")
    token = (await replicas.login(email))["access_token"]
    for replica in replicas.both:
        await replicas.from_memory(replica, token)

    logout = await replicas.a.http.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert logout.status_code == 204
    changed = time.monotonic()

    assert await replicas.a.status(token) == 401, "the replica that logged out refuses at once"
    await replicas.refused_by_both_within_the_bound(token, changed)


async def test_a_removed_partner_is_refused_by_every_replica_within_the_bound(replicas: Replicas) -> None:
    user_id, email = await replicas.user("ptn-north", "ptn-south")
    token = (await replicas.login(email, partner_id="ptn-south"))["access_token"]
    for replica in replicas.both:
        await replicas.from_memory(replica, token)

    commands: GatewayCommands = provided_on(replicas.a.app, GatewayCommands)
    await commands._users.update(user_id, {"partner_ids": ["ptn-north"]})  # an admin's change
    changed = time.monotonic()

    await replicas.refused_by_both_within_the_bound(token, changed)


async def test_a_password_change_ends_the_other_sessions_on_every_replica_within_the_bound(
    replicas: Replicas,
) -> None:
    _, email = await replicas.user("ptn-1")
    other_device = (await replicas.login(email))["access_token"]
    this_device = (await replicas.login(email))["access_token"]
    for replica in replicas.both:
        for token in (other_device, this_device):
            await replicas.from_memory(replica, token)

    changed_password = await replicas.a.http.post(
        "/api/v1/profile/password",
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        headers={"Authorization": f"Bearer {this_device}"},
    )
    assert changed_password.status_code == 204
    changed = time.monotonic()

    await replicas.refused_by_both_within_the_bound(other_device, changed)
    for replica in replicas.both:
        assert await replica.status(this_device) == 200, f"{replica.name}: this session goes on"


class StalledLog:
    """A change log that never answers."""

    async def record(self, change: AccessChange) -> None:
        raise AssertionError("the stalled replica writes nothing here")

    async def recent(self) -> list[AccessChange]:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def forget_before(self, moment: Any) -> int:
        return 0


async def test_a_replica_whose_feed_stalls_reads_the_store_and_still_refuses_in_time(
    replicas: Replicas, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, email = await replicas.user("ptn-1")
    token = (await replicas.login(email))["access_token"]
    for replica in replicas.both:
        await replicas.from_memory(replica, token)

    monkeypatch.setattr(provided_on(replicas.b.app, AccessFeed), "_changes", StalledLog())
    await asyncio.sleep(BOUND + 0.1)
    before = replicas.reads.total
    assert await replicas.b.status(token) == 200
    assert replicas.reads.total > before, "past the bound without a poll, b reads the store"

    logout = await replicas.a.http.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert logout.status_code == 204
    changed = time.monotonic()

    await replicas.refused_by_both_within_the_bound(token, changed)
