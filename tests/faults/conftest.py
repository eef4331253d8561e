"""Fixtures of the fault suite: its own Kafka and FerretDB (started once, always stopped), topics
under a prefix of the session, a token key pair, and the results table written at the end.

`FAULTS_FULL=1` runs the issue's counts; without it a short version (part of `make test`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator

import pytest

from contracts import all_topic_partitions
from servicekit.auth import TokenIssuer, generate_key_pair
from servicekit.principal import Principal
from servicekit.topics import delete_topics, ensure_topics

from .cluster import ClusterInfra
from .harness import FaultInfra, Results, say

ISSUER, AUDIENCE = "partnerapp-gateway", "partnerapp"


@pytest.fixture(scope="session")
def results() -> Iterator[Results]:
    collected = Results()
    yield collected
    collected.write()


@pytest.fixture(scope="session")
def fault_infra() -> Iterator[FaultInfra]:
    infra = FaultInfra()
    say(f"starting the suite's own Kafka ({infra.kafka}) and FerretDB ({infra.mongo_url})")
    try:
        infra.start()
        yield infra
    finally:
        say("stopping the suite's Kafka and FerretDB")
        infra.stop()


@pytest.fixture
def fault_prefix(fault_infra: FaultInfra) -> str:
    """Topics of one test's own: a consumer group of a later test must not read an earlier test's events."""
    prefix = f"faults-{uuid.uuid4().hex[:8]}."
    asyncio.run(ensure_topics(fault_infra.kafka, all_topic_partitions(), prefix=prefix))
    return prefix


@pytest.fixture(scope="module")
def cluster_infra(fault_infra: FaultInfra) -> Iterator[ClusterInfra]:
    """A 3-broker cluster of the suite's own beside its single broker, using the same FerretDB;
    for the cluster's tests only (three JVMs are not left idling through the rest of the run)."""
    cluster = ClusterInfra(fault_infra)
    say(f"starting the suite's 3-broker Kafka cluster ({cluster.kafka})")
    try:
        cluster.start()
        yield cluster
    finally:
        say("stopping the suite's Kafka cluster")
        cluster.stop()


@pytest.fixture
def cluster_prefix(cluster_infra: ClusterInfra) -> Iterator[str]:
    """Topics of one test's own on the cluster (replication factor 3, min.insync.replicas 2: the
    cluster's defaults), with every node running (an earlier test may have left one down); deleted
    afterwards, so that a broker restarted by a later test has only that test's logs to recover."""
    if any(node.pid() is None for node in cluster_infra.nodes.values()):
        cluster_infra.up()
    prefix = f"faults-{uuid.uuid4().hex[:8]}."
    names = all_topic_partitions()
    asyncio.run(ensure_topics(cluster_infra.kafka, names, prefix=prefix))
    yield prefix
    asyncio.run(delete_topics(cluster_infra.kafka, [prefix + name for name in names]))


@pytest.fixture(scope="session")
def fault_keys() -> tuple[str, str]:
    return generate_key_pair()


@pytest.fixture(scope="session")
def fault_token(fault_keys: tuple[str, str]) -> Callable[[str], str]:
    issuer = TokenIssuer(fault_keys[0], issuer=ISSUER, audience=AUDIENCE)

    def make(partner_id: str) -> str:
        return issuer.issue(Principal("usr-faults", "partner", partner_id, frozenset({partner_id})))

    return make
