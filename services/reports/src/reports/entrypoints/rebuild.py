"""Rebuild the read model from the topics, from offset 0, into a database of its own.

    python -m reports.entrypoints.rebuild --database partnerapp_reports_v2 --commit-group reports-v2

Reads every consumed topic from its beginning up to the end offsets taken at the start and
applies each event with the live service's event handlers (`ReportsCommands.replay`). With
`--commit-group`, those end offsets are committed for that consumer group: starting the service
with `REPORTS_MONGO_DATABASE` set to the rebuilt database and `REPORTS_CONSUMER_GROUP` to that
group then carries on exactly where the rebuild stopped (see README, "Reports service").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
from dataclasses import asdict, dataclass, field

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition
from pymongo.errors import ConnectionFailure

from reports.adapters.mongo import INDEXES, PROJECTIONS, MongoReportsStore
from reports.adapters.seats_mongo import SEAT_INDEXES, MongoSeatStore
from reports.config import Settings
from reports.service_layer.commands import ReplayTally, ReportsCommands
from reports.service_layer.event_handlers import EVENT_HANDLERS, ReportsEventHandlers
from servicekit.mongo import DocumentLocks, create_mongo_client, ensure_indexes

FETCH_RECORDS = 500


class TargetNotEmpty(RuntimeError):
    pass


@dataclass
class RebuildReport:
    database: str
    events: dict[str, int] = field(default_factory=dict)
    malformed: int = 0
    failed: int = 0
    operations_counted: int = 0
    operations_skipped: int = 0
    end_offsets: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    committed_group: str | None = None


async def rebuild(
    settings: Settings, database: str, *, commit_group: str | None = None, drop_existing: bool = False
) -> RebuildReport:
    started = time.perf_counter()
    platform = settings.platform
    mongo = create_mongo_client(platform, app_name="partnerapp-reports-rebuild")
    report = RebuildReport(database)
    try:
        db = mongo[database]
        existing = set(await db.list_collection_names()) & set(PROJECTIONS)
        if existing and not drop_existing:
            raise TargetNotEmpty(f"{database} already holds {sorted(existing)}; pass --drop-existing to replace them")
        for name in existing:
            await db.drop_collection(name)
        await ensure_indexes(db, [*INDEXES, *SEAT_INDEXES])
        locks = DocumentLocks()
        handlers = ReportsEventHandlers(
            MongoReportsStore(db, locks), recent_ids=settings.recent_event_ids, seats=MongoSeatStore(db, locks)
        )
        commands = ReportsCommands(handlers, stop_on=(ConnectionFailure,))
        ends = await _replay(settings, commands, report)
        report.end_offsets = {f"{tp.topic}:{tp.partition}": offset for tp, offset in sorted(ends.items())}
        if commit_group:
            await _commit(platform.kafka_bootstrap_servers, commit_group, ends)
            report.committed_group = commit_group
    finally:
        await mongo.close()
    report.seconds = round(time.perf_counter() - started, 3)
    return report


async def _replay(settings: Settings, commands: ReportsCommands, report: RebuildReport) -> dict[TopicPartition, int]:
    platform = settings.platform
    names = {platform.topic(name): name for name in EVENT_HANDLERS}
    partitions = await _partitions(platform.kafka_bootstrap_servers, list(names))
    consumer = AIOKafkaConsumer(
        bootstrap_servers=platform.kafka_bootstrap_servers, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        pending = {tp for tp in partitions if await consumer.position(tp) < ends[tp]}
        tally = ReplayTally()
        while pending:
            fetched = await consumer.getmany(*pending, timeout_ms=1000, max_records=FETCH_RECORDS)
            for tp, records in fetched.items():
                await commands.replay(names[tp.topic], [r for r in records if r.offset < ends[tp]], tally)
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
        report.events = dict(sorted(tally.events.items()))
        report.malformed, report.failed = tally.malformed, tally.failed
        report.operations_counted, report.operations_skipped = tally.operations_counted, tally.operations_skipped
        return ends
    finally:
        await consumer.stop()


async def _partitions(bootstrap_servers: str, topics: list[str]) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=15_000)
    await admin.start()
    try:
        return [
            TopicPartition(description["topic"], partition["partition"])
            for description in await admin.describe_topics(topics)
            for partition in sorted(description["partitions"], key=lambda p: p["partition"])
        ]
    finally:
        await admin.close()


async def _commit(bootstrap_servers: str, group: str, ends: dict[TopicPartition, int]) -> None:
    """Commit the end offsets for `group`, without joining it (manual assignment)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(ends))
        await consumer.commit(dict(ends))
    finally:
        await consumer.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Rebuild the reports read model from the topics, from offset 0.")
    parser.add_argument("--database", required=True, help="Target database (a new one; the live one keeps serving)")
    parser.add_argument("--commit-group", help="Commit the replayed end offsets for this consumer group")
    parser.add_argument("--drop-existing", action="store_true", help="Replace projections already in the target")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    report = asyncio.run(
        rebuild(Settings(), args.database, commit_group=args.commit_group, drop_existing=args.drop_existing)
    )
    print(json.dumps(asdict(report), indent=2))  # noqa: T201 - the command's output


if __name__ == "__main__":
    main()
