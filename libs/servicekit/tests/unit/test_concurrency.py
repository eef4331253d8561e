"""servicekit.concurrency.together: all run at once, all finish, the first failure raised as itself."""

from __future__ import annotations

import asyncio

import pytest
from pymongo.errors import ConnectionFailure

from servicekit.concurrency import together

pytestmark = pytest.mark.unit


async def test_runs_at_once_and_keeps_the_order_of_results() -> None:
    started: list[int] = []

    async def step(n: int, delay: float) -> int:
        started.append(n)
        await asyncio.sleep(delay)
        return n * 10

    began = asyncio.get_running_loop().time()
    results = await together(step(1, 0.2), step(2, 0.1), step(3, 0.0))
    assert results == [10, 20, 30]
    assert sorted(started) == [1, 2, 3]
    assert asyncio.get_running_loop().time() - began < 0.35  # not 0.3 + 0.1 + ... one after another


async def test_the_first_failure_is_raised_unwrapped_after_every_one_finished() -> None:
    finished: list[str] = []

    async def fails() -> None:
        raise ConnectionFailure("store down")

    async def slow() -> None:
        await asyncio.sleep(0.1)
        finished.append("slow")

    with pytest.raises(ConnectionFailure, match="store down"):  # not an ExceptionGroup
        await together(fails(), slow())
    assert finished == ["slow"]  # nothing left running behind the caller's retry
