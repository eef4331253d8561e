"""Fixtures shared by every test suite of the repository.

Integration tests run against the real local Kafka and FerretDB (`make infra-up`; `make test`
starts them). Each test session creates topics of its own under a random prefix, and each test
a database of its own, so runs never see each other's data.
"""

from __future__ import annotations

import asyncio
import faulthandler
import gc
import os
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient, MongoClient

from contracts import all_topic_partitions
from servicekit.auth import TokenIssuer, generate_key_pair
from servicekit.principal import Principal
from servicekit.settings import PlatformSettings
from servicekit.testing import KafkaProbe
from servicekit.topics import delete_topics, ensure_topics

KAFKA = os.environ.get("PARTNERAPP_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
MONGO = os.environ.get("PARTNERAPP_MONGO_URL", "mongodb://127.0.0.1:27017/")
ISSUER, AUDIENCE = "partnerapp-gateway", "partnerapp"
# pytest-timeout's signal fails a test once. A hang it cannot break, such as a teardown waiting on a
# store that never answers, would hold the run until CI's own limit; this long past the test's
# timeout, the run prints where every thread and task waits and stops.
HANG_GRACE_S = 120
_STDERR = pytest.StashKey[int]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_STDERR] = os.dup(2)  # pytest's capture redirects fd 2 during tests


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    marker = item.get_closest_marker("timeout")
    limit = float(marker.args[0]) if marker and marker.args else float(item.config.getini("timeout") or 0)
    if not limit:
        yield
        return
    watchdog = threading.Timer(limit + HANG_GRACE_S, _stop_the_run, (item, limit + HANG_GRACE_S))
    watchdog.daemon = True
    watchdog.start()
    try:
        yield
    finally:
        watchdog.cancel()


def _stop_the_run(item: pytest.Item, seconds: float) -> None:
    stderr = item.config.stash[_STDERR]
    os.write(stderr, f"\n+++ {item.nodeid} still runs after {seconds:.0f} s: stacks, then exit +++\n".encode())
    faulthandler.dump_traceback(file=stderr, all_threads=True)
    # Read from another thread, as the run is about to end anyway: the awaits the tasks are stuck in.
    loops = [o for o in gc.get_objects() if isinstance(o, asyncio.AbstractEventLoop) and o.is_running()]
    with os.fdopen(os.dup(stderr), "w") as out:
        for loop in loops:
            for task in list(asyncio.all_tasks(loop)):
                task.print_stack(limit=12, file=out)
    os._exit(1)


@pytest.fixture(scope="session")
def topic_prefix() -> Iterator[str]:
    """Every catalogue topic, created for this session under a prefix of its own."""
    prefix = f"test-{uuid.uuid4().hex[:10]}."
    try:
        asyncio.run(ensure_topics(KAFKA, all_topic_partitions(), prefix=prefix))
    except Exception as exc:  # say what to do instead of a long connection traceback
        pytest.fail(f"Kafka is not reachable at {KAFKA} ({exc!r}); run `make infra-up` first", pytrace=False)
    yield prefix
    asyncio.run(delete_topics(KAFKA, [f"{prefix}{name}" for name in all_topic_partitions()]))


@pytest.fixture(scope="session")
def key_pair() -> tuple[str, str]:
    return generate_key_pair()


@pytest.fixture(scope="session")
def token_issuer(key_pair: tuple[str, str]) -> TokenIssuer:
    return TokenIssuer(key_pair[0], issuer=ISSUER, audience=AUDIENCE)


@pytest.fixture
def token_for(token_issuer: TokenIssuer) -> Callable[..., str]:
    def make(
        partner_id: str,
        *,
        role: str = "partner",
        user_id: str = "usr-test",
        partners: tuple[str, ...] = (),
        name: str = "",
        language: str | None = None,
    ):
        principal = Principal(user_id, role, partner_id, frozenset(partners or (partner_id,)), name, language)  # type: ignore[arg-type]
        return token_issuer.issue(principal)

    return make


@pytest.fixture
def platform(topic_prefix: str, key_pair: tuple[str, str]) -> PlatformSettings:
    return PlatformSettings(
        kafka_bootstrap_servers=KAFKA,
        mongo_url=MONGO,  # type: ignore[arg-type]
        topic_prefix=topic_prefix,
        auth_public_key=key_pair[1],
        auth_issuer=ISSUER,
        auth_audience=AUDIENCE,
    )


@pytest.fixture
def database_name() -> Iterator[str]:
    """A fresh database for one test, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    yield name
    with MongoClient(MONGO, serverSelectionTimeoutMS=5000) as client:
        client.drop_database(name)


@pytest.fixture
async def mongo() -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGO, tz_aware=True, serverSelectionTimeoutMS=5000)
    yield client
    await client.close()


@pytest.fixture
def kafka(topic_prefix: str) -> KafkaProbe:
    return KafkaProbe(KAFKA, topic_prefix)
