"""FerretDB SIGKILLed during ingest, started again later: nothing acknowledged is lost; ingest and
consumption resume by themselves; while the store is down the HTTP API answers 503
problem+json, never 500."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import httpx2
import pytest

from .harness import FULL, SIZES, FaultInfra, Results, say
from .scenario import PARTNER, Ingest, assert_exactly_once, settle, steady, steady_ingest

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.timeout(900 if FULL else 300)]


async def probe_while_down(ingest: Ingest, token: str, seconds: float) -> Counter[str]:
    """Ask the search API while the store is down; count `status content-type` answers."""
    answers: Counter[str] = Counter()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    async with httpx2.AsyncClient(base_url=ingest.activity.url, timeout=30) as client:
        while loop.time() < deadline:
            response = await client.get(
                "/v1/activity/records", params={"serial": "FLT0001"}, headers={"Authorization": f"Bearer {token}"}
            )
            answers[f"{response.status_code} {response.headers.get('content-type')}"] += 1
            if response.status_code == 503:
                body = response.json()
                assert body["status"] == 503, body
                assert body["type"].startswith("urn:partnerapp:problem:"), body
    return answers


async def test_ferretdb_stop_and_start_during_ingest(
    fault_infra: FaultInfra,
    fault_prefix: str,
    fault_keys: tuple[str, str],
    fault_token: Callable[[str], str],
    results: Results,
) -> None:
    token = fault_token(PARTNER)
    answers: Counter[str] = Counter()
    async with steady_ingest(fault_infra, fault_prefix, fault_keys[1], "ferretdb") as ingest:
        await steady(ingest)
        for number in range(1, SIZES.ferretdb_outages + 1):
            pid = fault_infra.kill("ferretdb")
            say(f"ferretdb: kill {number}/{SIZES.ferretdb_outages} (pid {pid}); acked {len(ingest.sender.acked)}")
            answers += await probe_while_down(ingest, token, SIZES.ferretdb_down_seconds)
            acked_while_down = len(ingest.sender.acked)
            await asyncio.to_thread(fault_infra.up, "ferretdb")
            await steady(ingest)
            assert len(ingest.sender.acked) > acked_while_down, "ingest did not resume by itself"
        search = ", ".join(f"{k} ×{v}" for k, v in sorted(answers.items()))
        row = await settle(
            ingest,
            results,
            key="ferretdb",
            fault="FerretDB SIGKILL, start again during ingest",
            injected=SIZES.ferretdb_outages,
            notes=f"search while down: {search}",
        )
    assert_exactly_once(row)
    assert answers, "the search API was never asked while the store was down"
    assert set(answers) == {"503 application/problem+json"}, f"search while the store was down: {answers}"
    assert "500" not in ingest.sender.outcomes, f"ingest answered 500: {ingest.sender.samples}"
