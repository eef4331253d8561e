"""Every public use case of the support service is listed in its module's handler table."""

from __future__ import annotations

import pytest

from servicekit.handlers import missing_from_table
from support.service_layer.commands import COMMAND_HANDLERS, CannedReplyCommands, SupportCommands
from support.service_layer.event_handlers import EVENT_HANDLERS, SupportEventHandlers
from support.service_layer.queries import QUERY_HANDLERS, CannedReplyQueries, SupportQueries

pytestmark = pytest.mark.unit


def test_no_use_case_is_left_out_of_its_table() -> None:
    assert missing_from_table(COMMAND_HANDLERS, SupportCommands) == []
    assert missing_from_table(COMMAND_HANDLERS, CannedReplyCommands) == []
    assert missing_from_table(QUERY_HANDLERS, SupportQueries) == []
    assert missing_from_table(QUERY_HANDLERS, CannedReplyQueries) == []
    assert missing_from_table(EVENT_HANDLERS, SupportEventHandlers) == []


def test_the_event_table_names_the_topics_support_consumes() -> None:
    assert set(EVENT_HANDLERS) == {
        "company.created",
        "company.updated",
        "instance.provisioned",
        "instance.extended",
        "license.added",
        "partner.updated",
        "instance.cancellation_requested",
        "license.revoked",
    }
