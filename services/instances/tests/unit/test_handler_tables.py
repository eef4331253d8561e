"""Every public use case of the instances service is listed in its module's handler table."""

from __future__ import annotations

import pytest

from instances.service_layer.commands import COMMAND_HANDLERS, InstanceCommands
from instances.service_layer.event_handlers import EVENT_HANDLERS, InstanceEventHandlers
from instances.service_layer.queries import QUERY_HANDLERS, InstanceQueries
from servicekit.handlers import missing_from_table

pytestmark = pytest.mark.unit


def test_every_command_is_in_the_command_table() -> None:
    assert missing_from_table(COMMAND_HANDLERS, InstanceCommands) == []


def test_every_query_is_in_the_query_table() -> None:
    assert missing_from_table(QUERY_HANDLERS, InstanceQueries) == []


def test_the_service_consumes_no_topic() -> None:
    assert missing_from_table(EVENT_HANDLERS, InstanceEventHandlers) == []
    assert EVENT_HANDLERS == {}


def test_each_table_names_its_entries_after_their_methods() -> None:
    for table in (COMMAND_HANDLERS, QUERY_HANDLERS):
        assert all(name == method.__name__ for name, method in table.items())
