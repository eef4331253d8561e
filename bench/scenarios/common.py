"""What the scenarios share: the benchmark's partner and device, its topics, an activity service of
its own, waiting for a consumer group to drain."""

from __future__ import annotations

import asyncio
import time

from contracts import all_topic_partitions
from harness import LagWatch, Platform, ServiceProcess
from servicekit.topics import ensure_topics

PARTNER = "ptn-bench"
DEVICE = {"maker": "Zebra", "model": "TC21", "os": "Android", "os_version": "11", "app_version": "5.1"}


async def topics(platform: Platform) -> None:
    await ensure_topics(platform.infra.kafka, all_topic_partitions(), prefix=platform.prefix)


async def wait_drained(platform: Platform, group: str, within: float) -> float:
    """Seconds until the group's lag on the telemetry topic is 0."""
    began = time.monotonic()
    async with LagWatch(platform, group) as watch:
        while await watch.lag() > 0:
            if time.monotonic() - began > within:
                raise RuntimeError(f"group {group} still lags after {within}s")
            await asyncio.sleep(0.25)
    return time.monotonic() - began


def activity(platform: Platform, tag: str, database: str, group: str, **settings: str) -> ServiceProcess:
    """An activity service process (by default in both roles, with no instances service to call)."""
    return platform.service(
        "activity",
        tag,
        **{"mongo_database": database, "consumer_group": group, "instances_url": "http://127.0.0.1:9", **settings},
    )
