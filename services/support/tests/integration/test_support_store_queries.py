"""Store queries per request of support's reads, counted with PyMongo's command monitoring: the
thread list is one find whatever the page size and however many threads and messages the store
holds (the unread counts live in the thread, kept on write); threads stored before they had
counts get them counted once; a read mark set while messages are still arriving keeps the later
ones unread."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest
from fastapi import FastAPI
from pymongo import AsyncMongoClient

from servicekit.api import provided_on
from servicekit.mongo import DocumentLocks
from servicekit.principal import Principal
from servicekit.settings import PlatformSettings
from servicekit.testing import count_commands, started, watch_commands
from support.adapters.mongo import MongoMessageRepository, MongoThreadRepository
from support.bootstrap import build_app
from support.config import Settings
from support.domain.model import Side
from support.service_layer.commands import SupportCommands, add_message

pytestmark = pytest.mark.integration

PARTNER = f"ptn-count-{uuid.uuid4().hex[:8]}"  # other tests of the session share the topics
ANA = Principal("usr-ana", "partner", PARTNER, frozenset({PARTNER}))


@pytest.fixture
async def app(platform: PlatformSettings, database_name: str) -> AsyncIterator[FastAPI]:
    watch_commands()  # before the app's client is created, so that it reports its commands
    settings = Settings(
        mongo_database=database_name,
        consumer_group=f"support-{uuid.uuid4().hex[:8]}",
        platform=platform,
    )
    application = build_app(settings)
    async with started(application):
        yield application


@pytest.fixture
def client_for(app: FastAPI, token_for: Callable[..., str]) -> Callable[..., httpx2.AsyncClient]:
    def make(role: str = "partner", user: str = "usr-ana") -> httpx2.AsyncClient:
        token = token_for(PARTNER, role=role, user_id=user, partners=(PARTNER,))
        return httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app),
            base_url="http://support",
            headers={"Authorization": f"Bearer {token}"},
        )

    return make


async def add_threads(app: FastAPI, first: int, count: int) -> None:
    """Threads with a message from the partner each (unread for support) and a reply on every other."""
    commands = provided_on(app, SupportCommands)
    staff = Principal("usr-sam", "staff", PARTNER, frozenset({PARTNER}))
    for n in range(first, first + count):
        company_id = f"cmp-{n:04d}"
        await commands.threads.ensure(partner_id=PARTNER, company_id=company_id, company_name=f"Company {n:04d}")
        await commands.post_message(ANA, f"thr-{company_id}", f"Question {n}")
        if n % 2:
            await commands.post_message(staff, f"thr-{company_id}", f"Answer {n}")


async def commands_for(client: httpx2.AsyncClient, database: str, path: str, **params: Any) -> tuple[int, Any]:
    with count_commands(database) as counter:
        response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    return counter.total, response.json()


async def test_the_thread_list_and_a_thread_are_one_find_whatever_the_page_and_the_store_hold(
    app: FastAPI, client_for: Callable[..., httpx2.AsyncClient], database_name: str
) -> None:
    partner, staff = client_for(), client_for("staff", "usr-sam")
    await add_threads(app, 0, 10)
    per_request: dict[tuple[int, int], int] = {}
    for stored in (10, 100):
        if stored == 100:
            await add_threads(app, 10, 90)
        for limit in (5, 50):
            total, page = await commands_for(staff, database_name, "/v1/threads", limit=limit)
            per_request[(stored, limit)] = total
            assert len(page["items"]) == min(limit, stored)
            # Unanswered threads (even numbers) are unread for support; answered ones were read by replying.
            assert {t["company_name"]: t["unread"] for t in page["items"]} == {
                t["company_name"]: int(t["company_name"].endswith(("0", "2", "4", "6", "8"))) for t in page["items"]
            }
    assert set(per_request.values()) == {1}, per_request

    # (unread for the partner, unread for support, messages)
    expected = {"thr-cmp-0003": (1, 0, 2), "thr-cmp-0004": (0, 1, 1)}
    for thread_id, (for_partner, for_support, message_count) in expected.items():
        total, thread = await commands_for(partner, database_name, f"/v1/threads/{thread_id}")
        assert (total, thread["unread"]) == (1, for_partner)
        total, thread = await commands_for(staff, database_name, f"/v1/threads/{thread_id}")
        assert (total, thread["unread"]) == (1, for_support)
        total, messages = await commands_for(staff, database_name, f"/v1/threads/{thread_id}/messages", limit=50)
        assert (total, len(messages["items"])) == (2, message_count), "the thread, then its page of messages"


async def test_threads_stored_before_unread_counts_get_them_counted_once(
    app: FastAPI, client_for: Callable[..., httpx2.AsyncClient], database_name: str, mongo: AsyncMongoClient[Any]
) -> None:
    at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    db = mongo[database_name]
    await db["threads"].insert_one(
        {
            "_id": "thr-cmp-old",
            "partner_id": PARTNER,
            "company_id": "cmp-old",
            "company_name": "Old Company",
            "name_sort": "old company",
            "created_at": at,
            "last_message_at": at,
            "last_preview": "Noted",
            "last_side": "system",
            "seq": 3,
            "read_partner": 1,
            "read_support": 0,
        }
    )
    sides = ["partner", "support", "system"]
    await db["messages"].insert_many(
        [
            {
                "_id": f"msg-old-{seq}",
                "thread_id": "thr-cmp-old",
                "partner_id": PARTNER,
                "company_id": "cmp-old",
                "seq": seq,
                "author_id": "someone",
                "author_side": sides[seq - 1],
                "body": f"message {seq}",
                "created_at": at,
            }
            for seq in (1, 2, 3)
        ]
    )
    partner, staff = client_for(), client_for("staff", "usr-sam")

    total, page = await commands_for(partner, database_name, "/v1/threads")
    assert [t["unread"] for t in page["items"]] == [2], "the reply and the note after its read mark"
    assert total > 1, "counted on first sight"
    stored = await db["threads"].find_one({"_id": "thr-cmp-old"})
    assert stored is not None
    assert (stored["unread_partner"], stored["unread_support"]) == (2, 2)

    total, page = await commands_for(partner, database_name, "/v1/threads")
    assert (total, [t["unread"] for t in page["items"]]) == (1, [2])
    total, thread = await commands_for(staff, database_name, "/v1/threads/thr-cmp-old")
    assert (total, thread["unread"]) == (1, 2)

    await provided_on(app, SupportCommands).post_message(ANA, "thr-cmp-old", "And one more")
    _, thread = await commands_for(staff, database_name, "/v1/threads/thr-cmp-old")
    assert (thread["unread"], thread["message_count"]) == (3, 4)
    _, thread = await commands_for(partner, database_name, "/v1/threads/thr-cmp-old")
    assert thread["unread"] == 0, "posting read what came before"


async def test_a_read_mark_behind_the_last_message_and_a_duplicate_message_keep_the_counts_exact(
    database_name: str, mongo: AsyncMongoClient[Any]
) -> None:
    db = mongo[database_name]
    threads, messages = MongoThreadRepository(db, DocumentLocks()), MongoMessageRepository(db)
    await threads.ensure(partner_id=PARTNER, company_id="cmp-race", company_name="Race")

    async def post(message_id: str, side: Side) -> None:
        thread = await threads.get("thr-cmp-race", (PARTNER,))
        assert thread is not None
        at = datetime.now(UTC)
        await add_message(
            threads, messages, thread, message_id=message_id, author_id="u", side=side, body="hi", at=at, audit=[]
        )

    for n in range(3):
        await post(f"msg-{n}", Side.PARTNER)
    await threads.mark_read("thr-cmp-race", Side.SUPPORT, 1)  # read while two more were arriving
    thread = await threads.get("thr-cmp-race", (PARTNER,))
    assert thread is not None
    assert (thread.unread(Side.SUPPORT), thread.unread(Side.PARTNER)) == (2, 0)

    await post("msg-1", Side.PARTNER)  # the same id again: stored once, counted once
    await post("note-1", Side.SYSTEM)
    thread = await threads.get("thr-cmp-race", (PARTNER,))
    assert thread is not None
    assert (thread.unread(Side.SUPPORT), thread.unread(Side.PARTNER)) == (3, 1)
    await threads.mark_read("thr-cmp-race", Side.SUPPORT, thread.message_count)
    await threads.mark_read("thr-cmp-race", Side.SUPPORT, 2)  # a stale mark un-reads nothing
    thread = await threads.get("thr-cmp-race", (PARTNER,))
    assert thread is not None
    assert (thread.unread(Side.SUPPORT), thread.unread(Side.PARTNER)) == (0, 1)
