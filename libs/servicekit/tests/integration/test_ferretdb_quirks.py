"""FerretDB 1.x quirks the service kit works around: lost concurrent updates of one document
(DocumentLocks) and index creation on restart (ensure_indexes)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from servicekit.mongo import DocumentLocks, IndexSpec, ensure_indexes

pytestmark = pytest.mark.integration

WRITERS = 100


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
