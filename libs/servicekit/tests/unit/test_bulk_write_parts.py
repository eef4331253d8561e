"""A bulk write is cut into commands of at most UPDATES_PER_COMMAND updates (FerretDB 1.24 keeps a
connection per update statement until its command ends) and its results put back together with
the indexes of the whole bulk (the real store: tests/integration/test_ferretdb_quirks.py)."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo import DeleteOne, InsertOne, ReplaceOne, UpdateMany, UpdateOne

from servicekit.mongo import UPDATES_PER_COMMAND, _merge, _parts_of

pytestmark = pytest.mark.unit


def test_every_part_holds_at_most_the_limit_of_updates_and_the_parts_are_the_bulk_in_order() -> None:
    bulk: list[Any] = []
    for i in range(30):
        bulk += [UpdateOne({"_id": i}, {"$set": {"n": i}}), InsertOne({"_id": f"i{i}"})]
        if i % 7 == 0:
            bulk += [ReplaceOne({"_id": i}, {"n": 0}), UpdateMany({"k": i}, {"$set": {"n": 1}}), DeleteOne({"_id": i})]
    parts = _parts_of(bulk)
    assert len(parts) > 1
    updates = (UpdateOne, UpdateMany, ReplaceOne)
    assert all(sum(isinstance(r, updates) for r in part) <= UPDATES_PER_COMMAND for _, part in parts)
    assert [r for _, part in parts for r in part] == bulk
    assert [offset for offset, _ in parts] == [sum(len(p) for _, p in parts[:n]) for n in range(len(parts))]


def test_a_bulk_within_the_limit_and_an_empty_one_are_one_part() -> None:
    bulk: list[Any] = [UpdateOne({"_id": i}, {"$set": {"n": i}}) for i in range(UPDATES_PER_COMMAND)]
    bulk += [InsertOne({"_id": f"i{i}"}) for i in range(1000)]
    assert _parts_of(bulk) == [(0, bulk)]
    assert _parts_of([]) == [(0, [])]


def test_merged_results_add_counts_and_move_indexes_by_each_parts_offset() -> None:
    merged: dict[str, Any] = {"writeErrors": [], "writeConcernErrors": [], "upserted": []}
    first = {"nInserted": 1, "nMatched": 7, "nModified": 6, "nUpserted": 1, "nRemoved": 0,
             "upserted": [{"index": 2, "_id": "a"}], "writeErrors": [], "writeConcernErrors": []}  # fmt: skip
    second = {"nInserted": 0, "nMatched": 8, "nModified": 8, "nUpserted": 0, "nRemoved": 2,
              "upserted": [], "writeErrors": [{"index": 1, "code": 11000, "errmsg": "dup"}],
              "writeConcernErrors": [{"code": 64}]}  # fmt: skip
    _merge(merged, first, 0)
    _merge(merged, second, 9)
    assert merged == {
        "nInserted": 1, "nMatched": 15, "nModified": 14, "nUpserted": 1, "nRemoved": 2,
        "upserted": [{"index": 2, "_id": "a"}], "writeErrors": [{"index": 10, "code": 11000, "errmsg": "dup"}],
        "writeConcernErrors": [{"code": 64}],
    }  # fmt: skip
