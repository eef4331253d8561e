"""A unique index violated by an update: FerretDB 1.x answers InternalError (code 1) with its
backend's words; the service kit's store client raises DuplicateKeyError for it on every backend,
as MongoDB does (the real store: tests/integration/test_ferretdb_quirks.py)."""

from __future__ import annotations

import pytest
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from servicekit.mongo import (
    StoreClient,
    StoreCollection,
    StoreDatabase,
    create_mongo_client,
    duplicate_key_errors,
    is_duplicate_key,
)
from servicekit.settings import PlatformSettings

pytestmark = pytest.mark.unit

POSTGRESQL = (
    "[msg_update.go:133 handler.(*Handler).updateDocument] [update.go:114 common.UpdateDocument] "
    "[collection.go:227 postgresql.(*collection).UpdateAll] ERROR: duplicate key value violates unique "
    'constraint "companies_1f2e_partner_id_1_tax_id_1_idx" (SQLSTATE 23505)'
)
SQLITE = "[msg_update.go:133 handler.(*Handler).updateDocument] UNIQUE constraint failed: companies.tax_id"


def internal_error(message: str) -> OperationFailure:
    """What PyMongo raises for FerretDB's answer."""
    return OperationFailure(message, 1, {"ok": 0.0, "errmsg": message, "code": 1, "codeName": "InternalError"})


@pytest.mark.parametrize("message", [POSTGRESQL, SQLITE], ids=["postgresql", "sqlite"])
def test_ferretdbs_internal_error_for_a_unique_index_becomes_a_duplicate_key_error(message: str) -> None:
    original = internal_error(message)
    assert is_duplicate_key(original)

    with pytest.raises(DuplicateKeyError) as raised, duplicate_key_errors():
        raise original

    assert raised.value.code == 11000
    assert raised.value.details is not None
    assert raised.value.details["errmsg"] == message, "the store's own words are kept"
    assert raised.value.__cause__ is original


@pytest.mark.parametrize(
    "error",
    [
        internal_error("ERROR: unsupported Unicode escape sequence (SQLSTATE 22P05)"),
        OperationFailure("not primary", 10107, {"errmsg": "not primary", "code": 10107}),
        DuplicateKeyError("E11000 duplicate key error", 11000, {"code": 11000}),
        BulkWriteError({"writeErrors": [{"index": 0, "code": 11000, "errmsg": "E11000"}], "nInserted": 0}),
        ValueError("not a store error"),
    ],
    ids=["other-internal-error", "other-failure", "already-a-duplicate", "bulk-write-error", "not-pymongo"],
)
def test_every_other_error_passes_unchanged(error: Exception) -> None:
    with pytest.raises(type(error)) as raised, duplicate_key_errors():
        raise error
    assert raised.value is error


def test_the_services_client_hands_out_translating_databases_and_collections() -> None:
    client = create_mongo_client(PlatformSettings(), app_name="unit")  # connects only when used
    assert isinstance(client, StoreClient)
    database = client["things"]
    assert isinstance(database, StoreDatabase)
    assert isinstance(client.get_database("things"), StoreDatabase)
    assert isinstance(database["items"], StoreCollection)
    assert isinstance(database.items, StoreCollection)
    assert isinstance(database.get_collection("items"), StoreCollection)
    assert isinstance(database["items"]["sub"], StoreCollection)
    assert database["items"]["sub"].full_name == "things.items.sub"
    assert database["items"].database is database
