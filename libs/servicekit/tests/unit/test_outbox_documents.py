from __future__ import annotations

import uuid

import pytest

from contracts import envelope_for
from contracts.events.common import Actor
from contracts.events.instances import SessionCleared
from servicekit.outbox import OUTBOX_FIELD, PENDING_FIELD, new_document_with_outbox, with_outbox

pytestmark = pytest.mark.unit


def event():  # type: ignore[no-untyped-def]
    data = SessionCleared(
        instance_id="ins-1", partner_id="ptn-1", session_epoch=2, cleared_by=Actor(user_id="u", role="partner")
    )
    return envelope_for(data, source="instances", event_id=uuid.uuid4())


def test_with_outbox_adds_events_to_the_same_update() -> None:
    e = event()
    update = with_outbox({"$set": {"session_epoch": 2}, "$inc": {"version": 1}}, [e])
    assert update["$inc"] == {"version": 1}
    assert update["$set"]["session_epoch"] == 2
    assert update["$set"][f"{OUTBOX_FIELD}.{e.id}"]["type"] == "session.cleared"
    assert update["$set"][PENDING_FIELD] is True


def test_with_outbox_without_events_leaves_the_update_alone() -> None:
    assert with_outbox({"$set": {"a": 1}}, []) == {"$set": {"a": 1}}


def test_with_outbox_does_not_mutate_its_input() -> None:
    original = {"$set": {"a": 1}}
    with_outbox(original, [event()])
    assert original == {"$set": {"a": 1}}


def test_new_document_carries_its_first_events() -> None:
    e = event()
    document = new_document_with_outbox({"_id": "ins-1"}, [e])
    assert document[PENDING_FIELD] is True
    assert list(document[OUTBOX_FIELD]) == [str(e.id)]
    assert new_document_with_outbox({"_id": "x"}, [])[PENDING_FIELD] is False
