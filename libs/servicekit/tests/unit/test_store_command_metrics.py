"""The store commands a service sends are counted by name on its `/metrics`."""

from __future__ import annotations

from prometheus_client import generate_latest
from pymongo.monitoring import CommandStartedEvent

from servicekit.metrics import ServiceMetrics


def started(command: dict[str, object]) -> CommandStartedEvent:
    return CommandStartedEvent(command, "db", request_id=1, connection_id=("127.0.0.1", 27017), operation_id=1)


def test_each_command_started_is_counted_by_its_name() -> None:
    metrics = ServiceMetrics()

    for command in ({"find": "instances"}, {"find": "threads"}, {"count": "messages"}):
        metrics.store_commands.started(started(command))

    exposed = generate_latest(metrics.registry).decode()
    assert 'partnerapp_store_commands_total{command="find"} 2.0' in exposed
    assert 'partnerapp_store_commands_total{command="count"} 1.0' in exposed


def test_nothing_counted_before_the_first_command() -> None:
    exposed = generate_latest(ServiceMetrics().registry).decode()

    assert "partnerapp_store_commands_total{" not in exposed
