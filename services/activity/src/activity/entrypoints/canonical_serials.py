"""One-off, after upgrading to canonical serials: move the records and the PIN lists stored with
lower-case letters in their serial to where a search by the canonical serial finds them.

    uv run python -m activity.entrypoints.canonical_serials

Run it once with the activity service stopped (it rewrites documents the consumer also writes);
running it again finds nothing left to move. Terminal states need no run: the service converts them.
"""

from __future__ import annotations

import asyncio
import sys

from activity.adapters.mongo_repository import MongoActivityStore, MongoTerminalStore
from activity.config import Settings
from servicekit.mongo import DocumentLocks, create_mongo_client


async def run(settings: Settings) -> tuple[int, int]:
    """(records moved, PIN documents rewritten)."""
    client = create_mongo_client(settings.platform, app_name="activity-canonical-serials")
    try:
        db = client[settings.mongo_database]
        terminals = MongoTerminalStore(db, DocumentLocks())
        records = await MongoActivityStore(db, terminals).move_to_canonical_serials()
        return records, await terminals.canonical_pins()
    finally:
        await client.close()


def main() -> None:
    records, pins = asyncio.run(run(Settings()))
    sys.stdout.write(f"records moved to their canonical serial: {records}; PIN lists rewritten: {pins}\n")


if __name__ == "__main__":
    main()
