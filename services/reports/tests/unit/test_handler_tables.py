"""Every use case of the reports service is in its handler table, and each consumed topic's
handler takes the payload the topic catalogue says the topic carries."""

from __future__ import annotations

import types
import typing
from typing import Any

import pytest

from contracts.topics import topic
from reports.service_layer.commands import COMMAND_HANDLERS, ReportsCommands
from reports.service_layer.event_handlers import EVENT_HANDLERS, ReportsEventHandlers
from reports.service_layer.queries import QUERY_HANDLERS, ReportsQueries
from reports.service_layer.seats import SilentSeatQueries
from servicekit.handlers import InBatches, missing_from_table

pytestmark = pytest.mark.unit


def test_no_use_case_is_left_out_of_its_table() -> None:
    assert missing_from_table(COMMAND_HANDLERS, ReportsCommands) == []
    assert missing_from_table(QUERY_HANDLERS, ReportsQueries) == []
    assert missing_from_table(EVENT_HANDLERS, ReportsEventHandlers) == []
    assert missing_from_table(QUERY_HANDLERS, SilentSeatQueries) == []


def test_the_query_and_command_tables_name_each_use_case_by_its_method() -> None:
    assert {name: method.__name__ for name, method in QUERY_HANDLERS.items()} == {n: n for n in QUERY_HANDLERS}
    assert {name: method.__name__ for name, method in COMMAND_HANDLERS.items()} == {n: n for n in COMMAND_HANDLERS}


def _payloads(hint: Any) -> set[type]:
    """The payload classes of `EventEnvelope[P]` or `EventEnvelope[A | B]`."""
    (argument,) = hint.__pydantic_generic_metadata__["args"]
    return set(typing.get_args(argument)) if isinstance(argument, types.UnionType) else {argument}


@pytest.mark.parametrize("topic_name", sorted(EVENT_HANDLERS))
def test_each_topic_is_handled_with_the_payload_it_carries(topic_name: str) -> None:
    entry = EVENT_HANDLERS[topic_name]
    if isinstance(entry, InBatches):
        (items,) = typing.get_args(typing.get_type_hints(entry.method)["batch"])
        (payload,) = typing.get_args(items)
        handled = {payload}
    else:
        handled = _payloads(typing.get_type_hints(entry)["event"])
    assert topic(topic_name).payload in handled
