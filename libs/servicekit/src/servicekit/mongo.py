"""The MongoDB client (PyMongo's async API) and index bootstrapping."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pymongo import AsyncMongoClient, IndexModel, ReplaceOne, UpdateMany, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure
from pymongo.monitoring import CommandListener
from pymongo.results import BulkWriteResult, InsertManyResult, InsertOneResult, UpdateResult

from servicekit.pagination import Page, Sort, after_cursor, encode_cursor
from servicekit.settings import PlatformSettings

T = TypeVar("T")

Document = dict[str, Any]


# How FerretDB 1.x words a unique index violated by an update (it answers InternalError, code 1):
# its SQLite backend passes SQLite's message on, its PostgreSQL backend PostgreSQL's SQLSTATE.
# (An insert, or an upsert that inserts, comes back as MongoDB's duplicate key error on both.)
_UNIQUE_VIOLATIONS = ("UNIQUE constraint failed", "(SQLSTATE 23505)")
DUPLICATE_KEY = 11000
# FerretDB 1.24 keeps one of its PostgreSQL connections for each update statement of a command
# until the whole command ends (its update handler defers every statement's cursor close) and
# waits for a free one without a timeout: one `update` command of as many statements as its pool
# has connections wedges the whole server for good. A bulk write sends at most this many updates
# per command (the other writes of the bulk are not limited).
UPDATES_PER_COMMAND = 8
_UPDATES = (UpdateOne, UpdateMany, ReplaceOne)


def is_duplicate_key(exc: OperationFailure) -> bool:
    """Whether a write failed on a unique index: MongoDB's duplicate key error (11000), or FerretDB
    1.x (SQLite or PostgreSQL), which reports a unique index violated by an *update* as an internal error."""
    if isinstance(exc, DuplicateKeyError):
        return True
    message = str((exc.details or {}).get("errmsg", exc))
    return any(marker in message for marker in _UNIQUE_VIOLATIONS)


@contextmanager
def duplicate_key_errors() -> Iterator[None]:
    """Raise a unique-index violation as `DuplicateKeyError`, whichever store words it (see
    `is_duplicate_key`); every other error unchanged. The store client of `create_mongo_client`
    wraps each of its writes in it, so `except DuplicateKeyError` holds on every backend."""
    try:
        yield
    except (DuplicateKeyError, BulkWriteError):
        raise
    except OperationFailure as exc:
        if not is_duplicate_key(exc):
            raise
        details = {**(exc.details or {}), "code": DUPLICATE_KEY}
        raise DuplicateKeyError(str(exc), DUPLICATE_KEY, details, exc._max_wire_version) from exc


class StoreCollection(AsyncCollection[Document]):
    """A collection whose writes raise `DuplicateKeyError` for every unique-index violation
    (`with_options`, unused here, gives a plain collection)."""

    def __getitem__(self, name: str) -> StoreCollection:
        return _collection(super().__getitem__(name))

    async def insert_one(self, *args: Any, **kwargs: Any) -> InsertOneResult:
        with duplicate_key_errors():
            return await super().insert_one(*args, **kwargs)

    async def insert_many(self, *args: Any, **kwargs: Any) -> InsertManyResult:
        with duplicate_key_errors():
            return await super().insert_many(*args, **kwargs)

    async def update_one(self, *args: Any, **kwargs: Any) -> UpdateResult:
        with duplicate_key_errors():
            return await super().update_one(*args, **kwargs)

    async def update_many(self, *args: Any, **kwargs: Any) -> UpdateResult:
        with duplicate_key_errors():
            return await super().update_many(*args, **kwargs)

    async def replace_one(self, *args: Any, **kwargs: Any) -> UpdateResult:
        with duplicate_key_errors():
            return await super().replace_one(*args, **kwargs)

    async def find_one_and_update(self, *args: Any, **kwargs: Any) -> Document | None:
        with duplicate_key_errors():
            return await super().find_one_and_update(*args, **kwargs)

    async def find_one_and_replace(self, *args: Any, **kwargs: Any) -> Document | None:
        with duplicate_key_errors():
            return await super().find_one_and_replace(*args, **kwargs)

    async def bulk_write(
        self,
        requests: Sequence[Any],
        ordered: bool = True,
        bypass_document_validation: bool | None = None,
        session: AsyncClientSession | None = None,
        comment: Any | None = None,
        let: Mapping[str, Any] | None = None,
    ) -> BulkWriteResult:
        """PyMongo's bulk write, sent as several commands of at most `UPDATES_PER_COMMAND` updates
        each, with one result (or one `BulkWriteError`) whose indexes are those of `requests`."""
        write = super().bulk_write
        parts = _parts_of(list(requests))
        with duplicate_key_errors():
            if len(parts) == 1:
                return await write(parts[0][1], ordered, bypass_document_validation, session, comment, let)
            merged: dict[str, Any] = {"writeErrors": [], "writeConcernErrors": [], "upserted": []}
            failed, acknowledged = False, True
            for offset, part in parts:
                try:
                    result = await write(part, ordered, bypass_document_validation, session, comment, let)
                except BulkWriteError as exc:
                    _merge(merged, exc.details, offset)
                    failed = True
                    if ordered:
                        break
                    continue
                acknowledged = acknowledged and result.acknowledged
                if result.acknowledged:
                    _merge(merged, result.bulk_api_result, offset)
            if failed:
                raise BulkWriteError(merged)
            return BulkWriteResult(merged, acknowledged)


def _parts_of(requests: list[Any]) -> list[tuple[int, list[Any]]]:
    """`requests` cut into consecutive parts of at most `UPDATES_PER_COMMAND` updates, each with
    the index of its first request."""
    parts: list[tuple[int, list[Any]]] = []
    start, updates = 0, 0
    for index, request in enumerate(requests):
        if isinstance(request, _UPDATES):
            if updates == UPDATES_PER_COMMAND:
                parts.append((start, requests[start:index]))
                start, updates = index, 0
            updates += 1
    parts.append((start, requests[start:]))
    return parts


def _merge(merged: dict[str, Any], part: Mapping[str, Any], offset: int) -> None:
    """Add one command's bulk result to `merged`, its indexes moved by `offset`."""
    for count in ("nInserted", "nUpserted", "nMatched", "nModified", "nRemoved"):
        merged[count] = merged.get(count, 0) + part.get(count, 0)
    for key in ("writeErrors", "upserted"):
        merged[key] += [{**item, "index": item["index"] + offset} for item in part.get(key, [])]
    merged["writeConcernErrors"] += part.get("writeConcernErrors", [])


def _collection(base: AsyncCollection[Document]) -> StoreCollection:
    return StoreCollection(
        base.database,
        base.name,
        False,
        base.codec_options,
        base.read_preference,
        base.write_concern,
        base.read_concern,
    )


class StoreDatabase(AsyncDatabase[Document]):
    """A database whose collections are `StoreCollection`s."""

    def __getitem__(self, name: str) -> StoreCollection:
        return StoreCollection(self, name)

    def get_collection(self, *args: Any, **kwargs: Any) -> StoreCollection:
        return _collection(super().get_collection(*args, **kwargs))


def _database(base: AsyncDatabase[Document]) -> StoreDatabase:
    return StoreDatabase(
        base.client, base.name, base.codec_options, base.read_preference, base.write_concern, base.read_concern
    )


class StoreClient(AsyncMongoClient[Document]):
    """The services' client: its databases are `StoreDatabase`s (see `duplicate_key_errors`)."""

    def __getitem__(self, name: str) -> StoreDatabase:
        return StoreDatabase(self, name)

    def get_database(self, *args: Any, **kwargs: Any) -> StoreDatabase:
        return _database(super().get_database(*args, **kwargs))

    def get_default_database(self, *args: Any, **kwargs: Any) -> StoreDatabase:
        return _database(super().get_default_database(*args, **kwargs))


class DocumentLocks:
    """Serializes this process's writes to one document.

    FerretDB 1.x applies an update as a read followed by a write, with nothing in between to
    stop another update of the same document: concurrent updates can be lost (measured on this
    project's FerretDB v1.24.2: 200 concurrent `$inc` of one field left it at 14, and a
    version-guarded compare-and-set let two writers win with the same version). MongoDB updates
    one document atomically. So every read-modify-write of a shared document (the aggregate's
    save, the outbox relay's marks, counters) takes the document's lock first. Several replicas
    of one service writing the same documents need MongoDB; a single process is safe on both.
    """

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = weakref.WeakValueDictionary()

    def lock(self, collection: str, document_id: object) -> asyncio.Lock:
        key = (collection, str(document_id))
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock


def create_mongo_client(
    platform: PlatformSettings, *, app_name: str, listeners: Sequence[CommandListener] = ()
) -> AsyncMongoClient[Document]:
    """The store's client; `listeners` see every command it sends (e.g. the service's metrics count
    them); every write raises `DuplicateKeyError` for a unique-index violation (`StoreClient`)."""
    return StoreClient(
        platform.mongo_url.get_secret_value(),
        appname=app_name,
        tz_aware=True,
        serverSelectionTimeoutMS=5_000,
        connectTimeoutMS=5_000,
        event_listeners=list(listeners),
    )


@dataclass(frozen=True)
class IndexSpec:
    """An index a service needs; created at start-up, idempotently."""

    collection: str
    keys: Sequence[tuple[str, int]]
    unique: bool = False
    name: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def model(self) -> IndexModel:
        kwargs: dict[str, Any] = dict(self.options)
        if self.name:
            kwargs["name"] = self.name
        return IndexModel(list(self.keys), unique=self.unique, **kwargs)


async def ensure_indexes(db: AsyncDatabase[Document], specs: Iterable[IndexSpec]) -> None:
    """Create the indexes that are missing; a restart finds them all there and changes nothing.

    One index per command: FerretDB v1.24.2 drops the connection (a panic, "slice bounds out of
    range") when one `createIndexes` names two or more indexes that already exist.
    """
    for spec in specs:
        await db[spec.collection].create_indexes([spec.model()])


async def find_page(
    collection: AsyncCollection[Document],
    match: Mapping[str, Any],
    sort: Sort,
    limit: int,
    cursor: str | None,
    convert: Callable[[Document], T],
) -> Page[T]:
    """One keyset page of `match` in `sort` order, after `cursor` (see servicekit.pagination)."""
    keyset = after_cursor(sort, cursor)
    query = {"$and": [dict(match), keyset]} if keyset else dict(match)
    documents = [d async for d in collection.find(query).sort(sort.mongo_sort()).limit(limit + 1)]
    next_cursor = None
    if len(documents) > limit:
        last = documents[limit - 1]
        next_cursor = encode_cursor(last.get(sort.field), str(last["_id"]))
    return Page([convert(d) for d in documents[:limit]], next_cursor)
