"""One telemetry fault scenario: an activity service process of its own, terminals sending through
its ingest endpoint, faults injected while they send, then the counts in its database."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from partnerapp_stack.private import PrivateStack

from .harness import (
    SIZES,
    Results,
    Row,
    Sender,
    ServiceProcess,
    activity_process,
    drained,
    drop_database,
    issue_ingest_key,
    processes,
    say,
)

PARTNER = "ptn-faults"


@dataclass
class Ingest:
    infra: PrivateStack
    prefix: str
    activity: ServiceProcess
    database: str
    group: str
    sender: Sender
    started: float


@asynccontextmanager
async def steady_ingest(
    infra: PrivateStack, prefix: str, public_key: str, name: str, **settings: str
) -> AsyncIterator[Ingest]:
    tag = f"{name}-{uuid.uuid4().hex[:6]}"
    with processes() as started:
        activity, database = activity_process(infra, prefix, public_key, tag, **settings)
        started.append(activity)
        activity.start()
        await activity.wait_ready()
        _, key = await issue_ingest_key(infra, prefix, database, PARTNER)
        sender = Sender(activity.url, key, rate=SIZES.rate)
        sender.start()
        try:
            yield Ingest(
                infra, prefix, activity, database, activity.env["ACTIVITY_CONSUMER_GROUP"], sender, time.monotonic()
            )
        finally:
            sender.stop.set()
            sender.give_up.set()
            await asyncio.sleep(0)
            await drop_database(infra.mongo_url, database)


async def steady(ingest: Ingest, seconds: float | None = None) -> None:
    """Let the terminals send for a while (and check the service is alive)."""
    await asyncio.sleep(SIZES.steady_seconds if seconds is None else seconds)
    assert ingest.activity.alive(), "the activity service died"


async def settle(
    ingest: Ingest,
    results: Results,
    *,
    key: str,
    fault: str,
    injected: int,
    notes: str = "",
    recovered: float | None = None,
) -> Row:
    """Stop sending (every batch acknowledged in the end), wait for the consumer, count, record."""
    await ingest.sender.finish()
    say(f"{key}: sent {ingest.sender.sent}, acknowledged {len(ingest.sender.acked)}; waiting for the consumer")
    counts, lag = await drained(ingest.infra, ingest.prefix, ingest.group, ingest.database, ingest.sender.acked)
    statuses = ", ".join(f"{k}×{v}" for k, v in sorted(ingest.sender.non_acknowledged_statuses.items()))
    extra = [notes] if notes else []
    if statuses:
        extra.append(f"retried answers: {statuses}")
    if counts.unacknowledged:
        extra.append(f"{counts.unacknowledged} stored whose 202 was lost (retried, stored once)")
    row = Row(
        key=key,
        fault=fault,
        injected=injected,
        sent=ingest.sender.sent,
        acknowledged=len(ingest.sender.acked),
        stored=counts.stored,
        duplicated=counts.duplicated,
        lag_zero=lag == 0,
        seconds=round(time.monotonic() - ingest.started, 1),
        notes="; ".join(extra),
        recovered=None if recovered is None else round(recovered, 1),
    )
    results.add(row)
    say(f"{key}: {row}")
    return row


def assert_exactly_once(row: Row) -> None:
    assert row.sent == row.acknowledged, f"some batches were never acknowledged: {row}"
    assert row.lost == 0, f"acknowledged events lost: {row}"
    assert row.duplicated == 0, f"events stored twice: {row}"
    assert row.lag_zero, f"the consumer group's lag did not return to 0: {row}"
