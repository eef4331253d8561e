"""Kafka broker SIGKILL and restart during steady ingest: every telemetry event acknowledged with
202 is stored exactly once, and the consumer group's lag returns to 0."""

from __future__ import annotations

import asyncio

import pytest

from .harness import FULL, SIZES, FaultInfra, Results, say
from .scenario import assert_exactly_once, settle, steady, steady_ingest

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.timeout(1200 if FULL else 300)]


async def test_broker_sigkill_and_restart_during_ingest(
    fault_infra: FaultInfra, fault_prefix: str, fault_keys: tuple[str, str], results: Results
) -> None:
    async with steady_ingest(fault_infra, fault_prefix, fault_keys[1], "broker") as ingest:
        await steady(ingest)
        for number in range(1, SIZES.broker_kills + 1):
            pid = fault_infra.kill("kafka")
            say(f"broker: kill {number}/{SIZES.broker_kills} (pid {pid}); acked {len(ingest.sender.acked)}")
            await asyncio.sleep(1.0)
            await asyncio.to_thread(fault_infra.up, "kafka")
            await steady(ingest)
        row = await settle(
            ingest, results, key="broker", fault="Kafka broker SIGKILL + restart", injected=SIZES.broker_kills
        )
    assert_exactly_once(row)
