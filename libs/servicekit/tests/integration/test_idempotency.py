"""IdempotencyKeys on FerretDB: one key names one request, whatever the interleaving."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from servicekit.idempotency import IdempotencyKeyReused, IdempotencyKeys, fingerprint
from servicekit.principal import Principal

pytestmark = pytest.mark.integration

ANA = Principal("usr-ana", "partner", "ptn-acme", frozenset({"ptn-acme"}))
RIVAL = Principal("usr-ana", "partner", "ptn-rival", frozenset({"ptn-rival"}))  # same user id, other partner


async def test_concurrent_requests_with_one_key_and_different_bodies_let_exactly_one_through(
    mongo: AsyncMongoClient[dict[str, Any]], database_name: str
) -> None:
    keys = IdempotencyKeys(mongo[database_name]["idempotency_keys"])
    ran: list[int] = []

    async def attempt(n: int) -> str:
        try:
            async with keys.request(ANA, "key-12345678", fingerprint("POST", "/v1/x", {"n": n})):
                await asyncio.sleep(0.05)
                ran.append(n)
        except IdempotencyKeyReused:
            return "422"
        return "ran"

    outcomes = await asyncio.gather(*(attempt(n) for n in range(10)))
    assert sorted(outcomes) == ["422"] * 9 + ["ran"]
    assert len(ran) == 1
    # The winner's request again is a retry; any other is still refused.
    async with keys.request(ANA, "key-12345678", fingerprint("POST", "/v1/x", {"n": ran[0]})):
        pass
    with pytest.raises(IdempotencyKeyReused):
        async with keys.request(ANA, "key-12345678", fingerprint("POST", "/v1/x", {"n": ran[0] + 1})):
            pass


async def test_a_failed_first_request_frees_its_key_and_keys_are_per_partner(
    mongo: AsyncMongoClient[dict[str, Any]], database_name: str
) -> None:
    keys = IdempotencyKeys(mongo[database_name]["idempotency_keys"])
    with pytest.raises(RuntimeError):
        async with keys.request(ANA, "key-abcdefgh", fingerprint("POST", "/v1/x", {"n": 1})):
            raise RuntimeError("the route failed: nothing was done under the key")
    async with keys.request(ANA, "key-abcdefgh", fingerprint("POST", "/v1/x", {"n": 2})):
        pass
    async with keys.request(RIVAL, "key-abcdefgh", fingerprint("POST", "/v1/x", {"n": 3})):
        pass
    assert await mongo[database_name]["idempotency_keys"].count_documents({}) == 2
