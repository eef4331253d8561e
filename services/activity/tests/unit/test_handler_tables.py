"""The handler tables name every use case, and each event handler takes the payload its topic carries."""

from __future__ import annotations

import typing
from types import UnionType
from typing import Any

import pytest

from activity.service_layer.commands import COMMAND_HANDLERS, ActivityCommands
from activity.service_layer.event_handlers import EVENT_HANDLERS, ActivityEventHandlers
from activity.service_layer.field_operations import FieldCommands, FieldQueries
from activity.service_layer.queries import QUERY_HANDLERS, ActivityQueries
from activity.service_layer.remote_actions import RemoteActionQueries
from contracts.topics import topic
from servicekit.handlers import InBatches, missing_from_table

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("table", "owner"),
    [
        (COMMAND_HANDLERS, ActivityCommands),
        (QUERY_HANDLERS, ActivityQueries),
        (EVENT_HANDLERS, ActivityEventHandlers),
        (COMMAND_HANDLERS, FieldCommands),
        (QUERY_HANDLERS, FieldQueries),
        (QUERY_HANDLERS, RemoteActionQueries),
    ],
    ids=["commands", "queries", "event_handlers", "field_commands", "field_queries", "remote_action_queries"],
)
def test_every_public_use_case_is_in_its_table(table: Any, owner: type[Any]) -> None:
    assert missing_from_table(table, owner) == []


def _payloads(annotation: Any) -> set[type[Any]]:
    """The payload classes of `EventEnvelope[P]` (P may be a union), or of a list of them."""
    if typing.get_origin(annotation) is list:
        (annotation,) = typing.get_args(annotation)
    (payload,) = annotation.__pydantic_generic_metadata__["args"]
    return set(typing.get_args(payload)) if isinstance(payload, UnionType) else {payload}


@pytest.mark.parametrize("topic_name", sorted(EVENT_HANDLERS))
def test_each_event_handler_takes_its_topics_payload(topic_name: str) -> None:
    entry = EVENT_HANDLERS[topic_name]
    method = entry.method if isinstance(entry, InBatches) else entry
    hints = typing.get_type_hints(method)
    (event_annotation,) = (hint for name, hint in hints.items() if name != "return")
    assert topic(topic_name).payload in _payloads(event_annotation)
    assert (typing.get_origin(event_annotation) is list) == isinstance(entry, InBatches), "batches take lists"


def test_telemetry_is_taken_in_batches_and_the_rest_one_by_one() -> None:
    batched = {name for name, entry in EVENT_HANDLERS.items() if isinstance(entry, InBatches)}
    assert batched == {"terminal.activity"}
    assert set(EVENT_HANDLERS) == {
        "terminal.activity",
        "license.added",
        "license.released",
        "license.revoked",
        "session.cleared",
        "instance.ingest_key_rotated",
        "license.impersonated",
    }
