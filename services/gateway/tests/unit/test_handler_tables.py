"""Every public use case of the gateway is listed in its module's table, and every notified
topic is subscribed: a newcomer finds a use case from its table, and none is left unwired."""

from __future__ import annotations

import pytest

from gateway.domain.notifications import NOTIFIED_TOPICS
from gateway.service_layer.commands import COMMAND_HANDLERS, GatewayCommands
from gateway.service_layer.event_handlers import EVENT_HANDLERS, GatewayEventHandlers
from gateway.service_layer.queries import QUERY_HANDLERS, GatewayQueries
from servicekit.handlers import InBatches, missing_from_table

pytestmark = pytest.mark.unit


def test_every_command_is_in_the_command_table() -> None:
    assert missing_from_table(COMMAND_HANDLERS, GatewayCommands) == []


def test_every_query_is_in_the_query_table() -> None:
    assert missing_from_table(QUERY_HANDLERS, GatewayQueries) == []


def test_every_event_handler_is_in_the_event_table() -> None:
    assert missing_from_table(EVENT_HANDLERS, GatewayEventHandlers) == []


def test_the_event_table_subscribes_each_notified_topic_in_batches() -> None:
    assert sorted(EVENT_HANDLERS) == sorted(NOTIFIED_TOPICS)
    assert all(isinstance(entry, InBatches) and not entry.with_offsets for entry in EVENT_HANDLERS.values())


def test_a_table_names_each_use_case_by_its_method() -> None:
    for table in (COMMAND_HANDLERS, QUERY_HANDLERS):
        assert all(name == method.__name__ for name, method in table.items())
