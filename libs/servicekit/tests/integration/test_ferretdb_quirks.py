"""FerretDB 1.x quirks the service kit works around: lost concurrent updates of one document
(DocumentLocks), index creation on restart (ensure_indexes), a unique index violated by an
update, answered as an internal error (the store client raises DuplicateKeyError for it), and
FerretDB's PostgreSQL connections held by open cursors and by the update statements of a command
(the local stack's pool leaves room for the cursors; bulk writes send a few updates per command)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from pymongo import AsyncMongoClient, InsertOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from servicekit.mongo import UPDATES_PER_COMMAND, DocumentLocks, IndexSpec, create_mongo_client, ensure_indexes
from servicekit.settings import PlatformSettings

pytestmark = pytest.mark.integration

WRITERS = 100
OPEN_CURSORS = 40
BULK_UPDATES = 200  # more than FerretDB's pool has connections (50)


async def test_guarded_concurrent_updates_of_one_document_are_all_applied(
    mongo: AsyncMongoClient[dict[str, Any]], database_name: str
) -> None:
    collection = mongo[database_name]["counters"]
    await collection.insert_one({"_id": "c", "n": 0, "v": 0})
    locks = DocumentLocks()

    async def increment() -> None:
        async with locks.lock("counters", "c"):
            await collection.update_one({"_id": "c"}, {"$inc": {"n": 1}})

    async def compare_and_set() -> int:
        current = await collection.find_one({"_id": "c"})
        assert current is not None
        async with locks.lock("counters", "c"):
            result = await collection.update_one({"_id": "c", "v": current["v"]}, {"$set": {"v": current["v"] + 1}})
        return result.matched_count

    await asyncio.gather(*(increment() for _ in range(WRITERS)))
    wins = sum(await asyncio.gather(*(compare_and_set() for _ in range(WRITERS))))
    document = await collection.find_one({"_id": "c"})
    assert document is not None
    assert document["n"] == WRITERS
    assert document["v"] == wins, "each winning compare-and-set moved the version by exactly one"


async def test_ensure_indexes_twice_is_a_restart_that_changes_nothing(
    mongo: AsyncMongoClient[dict[str, Any]], database_name: str
) -> None:
    db = mongo[database_name]
    specs = [
        IndexSpec("things", [("a", 1)], name="a"),
        IndexSpec("things", [("b", 1), ("c", -1)], name="b_c"),
        IndexSpec("things", [("d", 1)], unique=True, name="d"),
    ]
    await ensure_indexes(db, specs)
    await ensure_indexes(db, specs)  # FerretDB 1.24.2 used to drop the connection here
    info = await db["things"].index_information()
    assert {"a", "b_c", "d"} <= set(info)
    assert info["d"]["unique"] is True


async def test_cursors_left_open_leave_the_store_answering(
    mongo: AsyncMongoClient[dict[str, Any]], database_name: str
) -> None:
    """FerretDB holds one of its PostgreSQL connections for each cursor a client has neither
    exhausted nor closed, and a query waits for a free connection without a timeout: with a pool of
    16, this test's cursors froze every client of the store."""
    documents = mongo[database_name]["documents"]
    await documents.insert_many([{"i": i} for i in range(10)])
    cursors = [documents.find({}, batch_size=2) for _ in range(OPEN_CURSORS)]
    try:
        for cursor in cursors:
            await cursor.next()
            assert cursor.cursor_id, "the first batch did not exhaust the cursor: it stays open on the server"
        found = await asyncio.wait_for(documents.find_one({"i": 3}), timeout=10)
        assert found is not None
        assert found["i"] == 3
    finally:
        for cursor in cursors:
            await cursor.close()


async def test_a_bulk_of_more_updates_than_the_store_has_connections_is_one_result_with_the_bulks_indexes(
    platform: PlatformSettings, database_name: str
) -> None:
    """FerretDB keeps a connection for each update statement until its command ends: one command
    of 200 updates would wedge the whole server. The store client sends them a few at a time and
    answers as one bulk: counts summed, upserts and errors at their index in the whole bulk."""
    client = create_mongo_client(platform, app_name="quirks")
    try:
        documents = client[database_name]["documents"]
        await documents.insert_many([{"_id": i, "n": 0} for i in range(BULK_UPDATES)])
        updates: list[Any] = [UpdateOne({"_id": i}, {"$inc": {"n": 1}}) for i in range(BULK_UPDATES)]
        upsert = UpdateOne({"_id": "new"}, {"$set": {"n": 1}}, upsert=True)
        result = await asyncio.wait_for(documents.bulk_write([*updates, upsert], ordered=False), timeout=60)
        assert (result.matched_count, result.modified_count, result.upserted_count) == (BULK_UPDATES, BULK_UPDATES, 1)
        assert result.upserted_ids == {BULK_UPDATES: "new"}
        assert await documents.count_documents({"n": 1}) == BULK_UPDATES + 1

        duplicate = InsertOne({"_id": 3})
        with pytest.raises(BulkWriteError) as raised:
            await asyncio.wait_for(documents.bulk_write([*updates[:20], duplicate, *updates[20:40]]), timeout=60)
        details = raised.value.details
        assert [e["index"] for e in details["writeErrors"]] == [20], "the index in the whole bulk"
        assert details["nMatched"] == 20, "ordered: the updates after the failed insert are not sent"
        assert UPDATES_PER_COMMAND < 20
    finally:
        await client.close()


@pytest.fixture
async def companies(platform: PlatformSettings, database_name: str) -> AsyncIterator[AsyncCollection[dict[str, Any]]]:
    """Two companies of one partner in the services' own client, a unique index on the tax id."""
    client = create_mongo_client(platform, app_name="quirks")
    db = client[database_name]
    await ensure_indexes(db, [IndexSpec("companies", [("partner_id", 1), ("tax_id", 1)], unique=True, name="tax")])
    await db["companies"].insert_many(
        [{"_id": "c1", "partner_id": "p", "tax_id": "A1"}, {"_id": "c2", "partner_id": "p", "tax_id": "B2"}]
    )
    yield db["companies"]
    await client.close()


Write = Callable[[AsyncCollection[dict[str, Any]]], Awaitable[object]]
WRITES: dict[str, Write] = {
    "insert_one": lambda c: c.insert_one({"_id": "c3", "partner_id": "p", "tax_id": "A1"}),
    "update_one": lambda c: c.update_one({"_id": "c2"}, {"$set": {"tax_id": "A1"}}),
    "update_many": lambda c: c.update_many({"_id": "c2"}, {"$set": {"tax_id": "A1"}}),
    "replace_one": lambda c: c.replace_one({"_id": "c2"}, {"partner_id": "p", "tax_id": "A1"}),
    "find_one_and_update": lambda c: c.find_one_and_update({"_id": "c2"}, {"$set": {"tax_id": "A1"}}),
    "find_one_and_replace": lambda c: c.find_one_and_replace({"_id": "c2"}, {"partner_id": "p", "tax_id": "A1"}),
    "upsert_that_inserts": lambda c: c.update_one(
        {"_id": "c3"}, {"$set": {"partner_id": "p", "tax_id": "A1"}}, upsert=True
    ),
    "bulk_update": lambda c: c.bulk_write([UpdateOne({"_id": "c2"}, {"$set": {"tax_id": "A1"}})]),
}


@pytest.mark.parametrize("write", list(WRITES))
async def test_every_write_that_violates_a_unique_index_raises_duplicate_key_and_changes_nothing(
    companies: AsyncCollection[dict[str, Any]], write: str
) -> None:
    with pytest.raises(DuplicateKeyError):
        await WRITES[write](companies)

    stored = {d["_id"]: d["tax_id"] async for d in companies.find({})}
    assert stored == {"c1": "A1", "c2": "B2"}


async def test_a_duplicate_in_a_bulk_insert_stays_a_bulk_write_error_naming_the_duplicate(
    companies: AsyncCollection[dict[str, Any]],
) -> None:
    with pytest.raises(BulkWriteError) as raised:
        await companies.bulk_write(
            [InsertOne({"_id": "c3", "partner_id": "p", "tax_id": "C3"}), InsertOne({"_id": "c1", "tax_id": "Z"})],
            ordered=False,
        )
    assert [e["code"] for e in raised.value.details["writeErrors"]] == [11000]
    assert {d["_id"] async for d in companies.find({})} == {"c1", "c2", "c3"}
