"""Awaiting several independent writes at once without hiding which one failed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar, cast

T = TypeVar("T")


async def together(*awaitables: Awaitable[T]) -> list[T]:
    """Run the awaitables concurrently, wait for all of them, then raise the first failure itself.

    Why not a TaskGroup: it wraps failures in an ExceptionGroup, and callers' `except` clauses
    must keep seeing the real type (a store outage must stay a ConnectionFailure, so a consumer
    redelivers instead of dead-lettering). Why not a bare gather: it returns at the first failure
    while the others still run, and would overlap the caller's retry.
    """
    results = await asyncio.gather(*awaitables, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return cast("list[T]", results)
