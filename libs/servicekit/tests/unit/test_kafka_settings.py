"""The Kafka settings a service is started with: several brokers, and the request timeout."""

from __future__ import annotations

import pytest

from servicekit.kafka import create_broker
from servicekit.settings import PlatformSettings

pytestmark = pytest.mark.unit


def test_several_brokers_reach_the_broker_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARTNERAPP_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19192, 127.0.0.1:19194,127.0.0.1:19196,")
    platform = PlatformSettings()
    assert platform.kafka_bootstrap_list == ["127.0.0.1:19192", "127.0.0.1:19194", "127.0.0.1:19196"]
    broker = create_broker(platform, client_id="test")
    assert broker._connection_kwargs["bootstrap_servers"] == platform.kafka_bootstrap_list


def test_the_request_timeout_is_shorter_than_aiokafkas_and_reaches_the_clients(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert PlatformSettings().kafka_request_timeout_ms == 15_000
    monkeypatch.setenv("PARTNERAPP_KAFKA_REQUEST_TIMEOUT_MS", "5000")
    broker = create_broker(PlatformSettings(), client_id="test")
    assert broker._connection_kwargs["request_timeout_ms"] == 5000
