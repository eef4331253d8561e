"""Idempotency-Key reuse (IETF httpapi Idempotency-Key draft): one key names one request.

The first request with a key stores its fingerprint (method, path and canonical body) under the
key, scoped to the caller. A later request with the key and the same fingerprint is a retry: it
goes on, and the route's own idempotency answers with the original. With another fingerprint it
is answered 422 and changes nothing, instead of silently dropping the new request.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

from pymongo.errors import DuplicateKeyError

from servicekit.mongo import Document
from servicekit.principal import Principal
from servicekit.problems import Problem, field_error

HEADER = "Idempotency-Key"
COLLECTION = "idempotency_keys"
KEY_PATTERN = r"^[A-Za-z0-9_.:-]+$"


def fingerprint(method: str, path: str, body: Any = None) -> str:
    """A hash of the request: the same method, path and body (its JSON with sorted keys, so member
    order and spacing do not matter) give the same fingerprint."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(f"{method.upper()} {path}\n{canonical}".encode()).hexdigest()


class IdempotencyKeyReused(Problem):
    def __init__(self) -> None:
        message = "already used for another request; send a new key with a new request"
        super().__init__(
            422,
            "idempotency-key-reused",
            f"This Idempotency-Key was {message}.",
            errors=[field_error(HEADER, "idempotency_key_reused", message, where="header")],
        )


class KeyCollection(Protocol):
    """What the keys need of a store collection (PyMongo's `AsyncCollection` is one)."""

    async def insert_one(self, document: Document) -> Any: ...

    async def find_one(self, filter: Document) -> Document | None: ...

    async def delete_one(self, filter: Document) -> Any: ...


class _MemoryKeys:
    """Keys kept in a dict, for apps built on in-memory fakes (unit tests of the HTTP edge)."""

    def __init__(self) -> None:
        self._documents: dict[str, Document] = {}

    async def insert_one(self, document: Document) -> None:
        if document["_id"] in self._documents:
            raise DuplicateKeyError(f"duplicate key: {document['_id']}")
        self._documents[document["_id"]] = dict(document)

    async def find_one(self, filter: Document) -> Document | None:
        return self._documents.get(filter["_id"])

    async def delete_one(self, filter: Document) -> None:
        stored = self._documents.get(filter["_id"])
        if stored is not None and all(stored.get(k) == v for k, v in filter.items()):
            del self._documents[filter["_id"]]


class IdempotencyKeys:
    """The keys seen, with their request's fingerprint, in one collection of the service's database."""

    def __init__(self, collection: KeyCollection) -> None:
        self._keys = collection

    @classmethod
    def in_memory(cls) -> IdempotencyKeys:
        return cls(_MemoryKeys())

    @staticmethod
    def _id(principal: Principal, key: str) -> str:
        # Scoped to partner and user: another client's key (or another partner's) never collides.
        return hashlib.sha256(f"{principal.partner_id}\0{principal.user_id}\0{key}".encode()).hexdigest()

    @asynccontextmanager
    async def request(self, principal: Principal, key: str | None, print_: str) -> AsyncIterator[None]:
        """Run the body of the `async with` for this request, or refuse a reused key with 422.

        A first request that fails (raises) forgets its key again: nothing was done under it, so
        the key is free for a corrected request."""
        if key is None:
            yield
            return
        key_id = self._id(principal, key)
        try:
            await self._keys.insert_one({"_id": key_id, "fingerprint": print_, "created_at": datetime.now(UTC)})
        except DuplicateKeyError:
            stored = await self._keys.find_one({"_id": key_id})
            if stored is not None and stored.get("fingerprint") != print_:
                raise IdempotencyKeyReused from None
            yield  # a retry: the route answers with what the first request did
            return
        try:
            yield
        except BaseException:
            await self._keys.delete_one({"_id": key_id, "fingerprint": print_})
            raise
