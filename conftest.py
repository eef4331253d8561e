"""Fixtures shared by every test suite of the repository.

Integration tests run against the real local Kafka and FerretDB (`make infra-up`; `make test`
starts them). Each test session creates topics of its own under a random prefix, and each test
a database of its own, so runs never see each other's data.
"""

from __future__ import annotations

import asyncio
import os
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
