"""servicekit.testing counts store commands: those a block of code sends (and the tasks it starts),
not those of background tasks started before it; or all of a client's, as its listener."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from servicekit.settings import PlatformSettings
from servicekit.testing import CommandCounter, count_commands, watch_commands

pytestmark = pytest.mark.integration


async def test_a_block_counts_its_own_commands_and_those_of_the_tasks_it_starts(
    platform: PlatformSettings, database_name: str
) -> None:
    watch_commands()
    url = platform.mongo_url.get_secret_value()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url, serverSelectionTimeoutMS=5000)
    collection = client[database_name]["things"]
    await collection.insert_many([{"_id": n} for n in range(10)])
    busy = asyncio.Event()

    async def background() -> None:
        while True:
            await collection.find_one({"_id": 1})
            busy.set()
            await asyncio.sleep(0.01)

    elsewhere = asyncio.create_task(background())
    try:
        with count_commands(database_name) as counter:
            await busy.wait()
            assert len([d async for d in collection.find({})]) == 10
            await asyncio.create_task(collection.count_documents({}))
            await asyncio.sleep(0.05)  # the background task keeps querying meanwhile
        assert counter.by_name() == {"find": 1, "aggregate": 1}, "count_documents is an aggregate"
        assert [c.collection for c in counter.commands] == ["things", "things"]
        with count_commands("another_database") as other:
            await collection.find_one({})
        assert other.total == 0
    finally:
        elsewhere.cancel()
        await client.close()


async def test_a_counter_given_to_a_client_counts_all_it_sends(platform: PlatformSettings, database_name: str) -> None:
    counter = CommandCounter(database_name)
    url = platform.mongo_url.get_secret_value()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        url, serverSelectionTimeoutMS=5000, event_listeners=[counter]
    )
    try:
        await client[database_name]["things"].insert_one({"_id": 1})
        await asyncio.gather(*(client[database_name]["things"].find_one({"_id": 1}) for _ in range(3)))
        assert counter.by_name() == {"insert": 1, "find": 3}
        counter.reset()
        assert counter.total == 0
    finally:
        await client.close()
