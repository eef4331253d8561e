"""Creating the catalogue's topics (auto-creation is off on every broker we run).

`python -m servicekit.topics` creates them on the broker named by `PARTNERAPP_KAFKA_BOOTSTRAP_SERVERS`
(docker-compose runs it once before the services start).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from contracts import all_topic_partitions
from servicekit.settings import PlatformSettings

log = logging.getLogger(__name__)


async def ensure_topics(bootstrap_servers: str, wanted: Mapping[str, int], *, prefix: str = "") -> tuple[int, int]:
    """Create missing topics and add partitions where `wanted` asks for more.

    A new topic gets the cluster's own `default.replication.factor` and `min.insync.replicas`
    (1 and 1 on a single local broker; 3 and 2 on a cluster of three, as production's): the
    cluster's configuration is where they are said once. Returns (created, grown). Partitions are
    never removed: Kafka cannot.
    """
    names = {f"{prefix}{name}": count for name, count in wanted.items()}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=15_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing_names = [name for name in names if name not in existing]
        if missing_names:
            replication_factor, min_insync = await _replication(admin)
            configs = {"min.insync.replicas": min_insync}
            missing = [NewTopic(name, names[name], replication_factor, topic_configs=configs) for name in missing_names]
            await admin.create_topics(missing)
        grown = 0
        present = [name for name in names if name in existing]
        for description in await admin.describe_topics(present) if present else []:
            name = description["topic"]
            if len(description["partitions"]) < names[name]:
                await admin.create_partitions({name: NewPartitions(names[name])})
                grown += 1
        return len(missing_names), grown
    finally:
        await admin.close()


async def _replication(admin: AIOKafkaAdminClient) -> tuple[int, str]:
    """The cluster's default replication factor and min.insync.replicas, read from a live broker
    (CreateTopics v3, aiokafka's newest, cannot say "the broker's default" itself)."""
    brokers = (await admin.describe_cluster())["brokers"]
    wanted = ("default.replication.factor", "min.insync.replicas")
    resource = ConfigResource(ConfigResourceType.BROKER, str(brokers[0]["node_id"]), configs=dict.fromkeys(wanted))
    (response,) = await admin.describe_configs([resource])
    ((_error, _message, _type, _name, entries),) = response.resources
    values = {entry[0]: entry[1] for entry in entries}
    return int(values["default.replication.factor"]), values["min.insync.replicas"]


async def delete_topics(bootstrap_servers: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=15_000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [name for name in names if name in existing]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


async def _create_catalogue_topics() -> None:
    platform = PlatformSettings()
    for attempt in range(30):  # the broker may still be starting
        try:
            created, grown = await ensure_topics(
                platform.kafka_bootstrap_servers, all_topic_partitions(), prefix=platform.topic_prefix
            )
        except Exception as exc:
            if attempt == 29:
                raise
            log.warning("Kafka not ready yet (%s); retrying", exc)
            await asyncio.sleep(2)
        else:
            log.warning("catalogue topics: %d created, %d grown", created, grown)
            return


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    asyncio.run(_create_catalogue_topics())
