"""The activity service's consumer SIGKILLed mid-batch, again and again: nothing acknowledged is
lost, nothing is stored twice.

The process also serves the ingest endpoint, so the terminals see it go away too and send their
unacknowledged batches again once it is back, as real terminals would.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from .harness import FULL, SIZES, TELEMETRY, FaultInfra, Results, group_position, say
from .scenario import Ingest, assert_exactly_once, settle, steady_ingest

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.timeout(1500 if FULL else 300)]


async def at_work(ingest: Ingest, *, within: float = 60) -> bool:
    """Wait until the consumer is mid-stream: it committed since it (re)started and more is waiting."""
    topic = ingest.prefix + TELEMETRY
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    first: int | None = None
    while loop.time() < deadline:
        try:
            done, end = await group_position(ingest.infra.kafka, ingest.group, topic)
        except Exception:
            await asyncio.sleep(0.2)
            continue
        if first is None:
            first = done
        elif done > first and end > done:
            return True
        await asyncio.sleep(0.1)
    return False


async def test_consumer_sigkill_mid_batch(
    fault_infra: FaultInfra, fault_prefix: str, fault_keys: tuple[str, str], results: Results
) -> None:
    rng = random.Random(11)  # noqa: S311  (timing jitter)
    with_backlog = 0
    async with steady_ingest(fault_infra, fault_prefix, fault_keys[1], "consumer") as ingest:
        for number in range(1, SIZES.consumer_kills + 1):
            busy = await at_work(ingest)
            with_backlog += busy
            await asyncio.sleep(rng.uniform(0, 0.3))
            ingest.activity.kill()
            say(f"consumer: kill {number}/{SIZES.consumer_kills} (backlog: {busy}); acked {len(ingest.sender.acked)}")
            ingest.activity.start()
            await ingest.activity.wait_ready()
        assert await at_work(ingest), "the consumer does not resume after the last restart"
        row = await settle(
            ingest,
            results,
            key="consumer",
            fault="Activity consumer SIGKILL mid-batch",
            injected=SIZES.consumer_kills,
            notes=f"{with_backlog} of {SIZES.consumer_kills} kills while the consumer was at work with records waiting",
        )
    assert_exactly_once(row)
    assert with_backlog == SIZES.consumer_kills, "some kills did not hit the consumer at work"
