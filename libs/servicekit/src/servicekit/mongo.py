"""The MongoDB client (PyMongo's async API) and index bootstrapping."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure
from pymongo.monitoring import CommandListener

from servicekit.pagination import Page, Sort, after_cursor, encode_cursor
from servicekit.settings import PlatformSettings

T = TypeVar("T")

Document = dict[str, Any]


def is_duplicate_key(exc: OperationFailure) -> bool:
    """Whether a write failed on a unique index: MongoDB's duplicate key error (11000), or FerretDB
    1.x (SQLite), which reports a unique index violated by an *update* as an internal error."""
    if isinstance(exc, DuplicateKeyError):
        return True
    message = str((exc.details or {}).get("errmsg", exc))
    return "UNIQUE constraint failed" in message


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
    """The store's client; `listeners` see every command it sends (e.g. the service's metrics count them)."""
    return AsyncMongoClient(
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
