from __future__ import annotations

import json
import uuid

import pytest

from contracts import envelope_for
from contracts.events.common import Actor
from contracts.events.instances import SessionCleared
from servicekit.outbox import (
    OUTBOX_FIELD,
    PENDING_FIELD,
    TRACE_FIELD,
    decode_envelope_dict,
    new_document_with_outbox,
    with_outbox,
)

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


def test_the_outbox_stores_the_current_envelope_form_and_still_relays_the_old_one() -> None:
    # An outbox entry written before the rename of the extension attributes may still be pending
    # when the new code starts: the relay must read it, and publish it in the current form.
    e = event()
    stored = new_document_with_outbox({"_id": "ins-1"}, [e])[OUTBOX_FIELD][str(e.id)]
    assert stored["schemaversion"] == 1
    assert not {"schema_version", "correlation_id", "causation_id", "correlationid"} & set(stored)
    old_form = {k: v for k, v in stored.items() if k != "schemaversion"}
    old_form |= {"schema_version": 1, "correlation_id": None, "causation_id": None, TRACE_FIELD: {"traceparent": "x"}}
    relayed = decode_envelope_dict(old_form)
    assert relayed == e
    assert json.loads(relayed.to_json_bytes()) == json.loads(e.to_json_bytes()) == stored
