"""The MongoDB client (PyMongo's async API) and index bootstrapping."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from servicekit.settings import PlatformSettings

Document = dict[str, Any]


def create_mongo_client(platform: PlatformSettings, *, app_name: str) -> AsyncMongoClient[Document]:
    return AsyncMongoClient(
        platform.mongo_url.get_secret_value(),
        appname=app_name,
        tz_aware=True,
        serverSelectionTimeoutMS=5_000,
        connectTimeoutMS=5_000,
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
    by_collection: dict[str, list[IndexModel]] = {}
    for spec in specs:
        by_collection.setdefault(spec.collection, []).append(spec.model())
    for collection, models in by_collection.items():
        await db[collection].create_indexes(models)
