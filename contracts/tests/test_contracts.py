"""The contracts keep their promises: schemas committed, old payloads parse, catalogue sound."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from cloudevents.core.bindings import kafka
from cloudevents.core.exceptions import CloudEventValidationError
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from contracts import (
    CATALOGUE,
    DEADLETTER_HEADERS,
    DEADLETTER_TOPIC,
    ENVELOPE_FORM,
    KAFKA_HEADERS,
    MalformedEvent,
    all_topic_partitions,
    decode_envelope,
    envelope_for,
    ingest_keys,
    topic,
)
from contracts.schemagen import SCHEMA_DIR, generate, render

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SERVICES = {"instances", "support", "reports", "activity", "gateway"}


def test_committed_schemas_equal_the_models() -> None:
    wanted = generate()
    committed = {p.name: p.read_text() for p in SCHEMA_DIR.glob("*.json")}
    assert sorted(committed) == sorted(wanted), "run `make schemas` and commit the result"
    for name, schema in wanted.items():
        assert committed[name] == render(schema), f"{name} differs from its model: run `make schemas`"


@pytest.mark.parametrize("expected_type", [None, "known"], ids=["by-envelope-type", "by-topic"])
@pytest.mark.parametrize("spec", CATALOGUE, ids=lambda s: s.name)
def test_every_topic_has_a_fixture_of_each_envelope_form_and_both_parse(spec: Any, expected_type: str | None) -> None:
    topic_name = spec.name if expected_type else None
    old = (FIXTURES / "v1" / f"{spec.name}.json").read_text()
    new = (FIXTURES / f"v{ENVELOPE_FORM}" / f"{spec.name}.json").read_text()
    from_old = decode_envelope(old.encode(), expected_type=topic_name)
    from_new = decode_envelope(new.encode(), expected_type=topic_name)
    assert isinstance(from_new.data, spec.payload)
    assert from_old == from_new, "the rename of the extension attributes changed no value"
    assert from_new.subject == spec.key_of(from_new.data)
    # Parsed and written again, a fixture of the current form comes back as it was: none of its
    # fields was dropped or renamed, and it holds none the model does not know. (Optional fields
    # added since, such as instance.provisioned's `name`, are absent from an old message and stay
    # unset.) An old-form message is written in the current form.
    assert from_new.model_dump(mode="json", exclude_unset=True) == json.loads(new)
    assert from_old.model_dump(mode="json", exclude_unset=True) == json.loads(new)


def test_the_old_fixtures_use_the_old_names_and_the_new_ones_only_the_new() -> None:
    # Guards the versioned rename itself: v1 must stay as it was written, or the test above
    # would no longer prove that old records on the topics still parse.
    for spec in CATALOGUE:
        old = json.loads((FIXTURES / "v1" / f"{spec.name}.json").read_text())
        new = json.loads((FIXTURES / f"v{ENVELOPE_FORM}" / f"{spec.name}.json").read_text())
        assert {"schema_version", "correlation_id", "causation_id"} <= set(old)
        assert not {"schema_version", "correlation_id", "causation_id"} & set(new)
        assert "schemaversion" in new


@pytest.mark.parametrize("spec", CATALOGUE, ids=lambda s: s.name)
def test_every_event_as_produced_is_a_cloudevent_by_the_official_sdk(spec: Any) -> None:
    """The Kafka record a producer writes (value and headers) parses with the CloudEvents SDK;
    the SDK's own validation refuses extension names that are not lower-case letters and digits."""
    data = decode_envelope((FIXTURES / "v1" / f"{spec.name}.json").read_bytes()).data
    for event in (
        envelope_for(data, source=spec.owner),
        envelope_for(data, source=spec.owner, correlation_id=uuid.uuid4(), causation_id=uuid.uuid4()),
    ):
        record = kafka.KafkaMessage(
            headers=dict(KAFKA_HEADERS), key=event.subject.encode(), value=event.to_json_bytes()
        )
        parsed = kafka.from_kafka(record, JSONFormat(), CloudEvent)
        assert (parsed.get_id(), parsed.get_type(), parsed.get_source()) == (str(event.id), spec.name, spec.owner)
        assert parsed.get_subject() == event.subject
        assert parsed.get_time() == event.time
        assert parsed.get_extension("schemaversion") == spec.schema_version
        correlation = parsed.get_extension("correlationid")
        assert correlation == (str(event.correlation_id) if event.correlation_id else None)
        assert parsed.get_data() == json.loads(event.to_json_bytes())["data"]


def test_the_sdk_refuses_the_old_envelope_form() -> None:
    """Why the rename: envelope form 1 is no CloudEvent (its extension names are illegal)."""
    raw = (FIXTURES / "v1" / "session.cleared.json").read_bytes()
    record = kafka.KafkaMessage(headers=dict(KAFKA_HEADERS), key=None, value=raw)
    with pytest.raises(CloudEventValidationError, match="schema_version"):
        kafka.from_structured(record, JSONFormat(), CloudEvent)


def test_consumers_ignore_unknown_fields() -> None:
    doc = json.loads((FIXTURES / "v1" / "license.revoked.json").read_text())
    doc["data"]["added_in_a_later_minor_version"] = {"x": 1}
    doc["extension_attribute"] = "ce-extension"
    event = decode_envelope(json.dumps(doc).encode(), expected_type="license.revoked")
    assert event.data.reason == "Employee left the company."


def test_fixed_topic_names_are_in_the_catalogue() -> None:
    names = {spec.name for spec in CATALOGUE}
    assert {"instance.provisioned", "license.revoked", "session.cleared", "message.posted"} <= names


@pytest.mark.parametrize("spec", CATALOGUE, ids=lambda s: s.name)
def test_catalogue_entries_are_sound(spec: Any) -> None:
    assert re.fullmatch(r"[a-z]+\.[a-z_]+", spec.name)
    assert spec.owner in SERVICES
    assert spec.key_field in spec.payload.model_fields
    assert spec.partitions >= 1


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"\x00\xff not json", "not an event envelope"),
        (b'{"id": "x"}', "not an event envelope"),
        (b"[]", "not an event envelope"),
    ],
)
def test_garbage_is_malformed(raw: bytes, why: str) -> None:
    with pytest.raises(MalformedEvent, match=why):
        decode_envelope(raw)


def test_envelope_type_must_match_the_topic_it_was_read_from() -> None:
    raw = (FIXTURES / "v1" / "license.revoked.json").read_bytes()
    with pytest.raises(MalformedEvent, match=r"on topic 'license\.added'"):
        decode_envelope(raw, expected_type="license.added")


# With the topic known, a consumer decodes in one pass; what fails that pass is explained by the
# step-by-step path, so the reasons are the same either way.
@pytest.mark.parametrize("expected_type", [None, "terminal.activity"])
def test_invalid_payload_names_the_field(expected_type: str | None) -> None:
    doc = json.loads((FIXTURES / "v1" / "terminal.activity.json").read_text())
    doc["data"]["battery_pct"] = 250
    with pytest.raises(MalformedEvent, match="battery_pct"):
        decode_envelope(json.dumps(doc).encode(), expected_type=expected_type)


@pytest.mark.parametrize("form", ["v1", f"v{ENVELOPE_FORM}"])
@pytest.mark.parametrize("expected_type", [None, "session.cleared"])
def test_unknown_schema_version_is_refused(expected_type: str | None, form: str) -> None:
    doc = json.loads((FIXTURES / form / "session.cleared.json").read_text())
    doc["schema_version" if form == "v1" else "schemaversion"] = 2
    with pytest.raises(MalformedEvent, match="schema_version 2"):
        decode_envelope(json.dumps(doc).encode(), expected_type=expected_type)


def test_an_unknown_topic_is_malformed_not_an_error() -> None:
    raw = (FIXTURES / "v1" / "session.cleared.json").read_bytes()
    with pytest.raises(MalformedEvent, match=r"on topic 'no\.such_topic'"):
        decode_envelope(raw, expected_type="no.such_topic")


def test_envelope_for_takes_type_and_subject_from_the_catalogue() -> None:
    raw = (FIXTURES / "v1" / "session.cleared.json").read_bytes()
    data = decode_envelope(raw).data
    event = envelope_for(data, source="instances")
    assert event.type == "session.cleared"
    assert event.subject == data.instance_id
    assert event.time.utcoffset() is not None
    assert topic("session.cleared").payload is type(data)
    assert decode_envelope(event.to_json_bytes()) == event


def test_ingest_keys_name_their_instance_and_hash_stably() -> None:
    key = ingest_keys.compose("ins-7f3a.v2", "s3cr3t")
    assert ingest_keys.instance_of(key) == "ins-7f3a.v2"
    assert ingest_keys.digest(key) == ingest_keys.digest(key)
    assert len(ingest_keys.digest(key)) == 64
    for malformed in ("", "pik_", "pik_.x", "ins-1.secret", "pik_nodot"):
        assert ingest_keys.instance_of(malformed) is None


def test_asyncapi_names_every_topic_with_its_owner_partitions_and_schema() -> None:
    document = json.loads((SCHEMA_DIR / "asyncapi.json").read_text())
    assert document["asyncapi"] == "3.1.0"
    assert set(document["channels"]) == set(all_topic_partitions())
    for spec in CATALOGUE:
        channel = document["channels"][spec.name]
        assert channel["bindings"]["kafka"]["partitions"] == spec.partitions
        message = document["components"]["messages"][spec.payload.__name__]
        assert message["contentType"] == "application/cloudevents+json" == dict(KAFKA_HEADERS)["content-type"].decode()
        assert (SCHEMA_DIR / message["payload"]["$ref"].removeprefix("./")).exists()
        assert f"{spec.owner}_sends_{spec.name.replace('.', '_')}" in document["operations"]
    dead = document["components"]["schemas"]["DeadLetterHeaders"]
    assert set(DEADLETTER_HEADERS) <= set(dead["required"])
    assert (
        document["channels"][DEADLETTER_TOPIC]["bindings"]["kafka"]["partitions"]
        == all_topic_partitions()[DEADLETTER_TOPIC]
    )


@pytest.mark.parametrize(
    "name", ["terminal.activity", "license.added", "license.released", "license.revoked", "session.cleared"]
)
def test_every_serial_in_an_event_reads_and_writes_in_its_canonical_form(name: str) -> None:
    """A producer sending `sn-1` and one sending `SN-1` name the same terminal: consumers see one form."""
    raw = json.loads((FIXTURES / "v1" / f"{name}.json").read_text())
    raw["data"]["serial"] = "sn-ab.c:1_x"
    event = decode_envelope(json.dumps(raw).encode(), expected_type=name)
    assert event.data.serial == "SN-AB.C:1_X", "an event of an older producer is read canonically"
    built = type(event.data)(**{**event.data.model_dump(), "serial": "Sn-Ab.c:1_x"})
    assert built.serial == "SN-AB.C:1_X", "a producer building the payload writes the canonical form"
    assert json.loads(envelope_for(built, source="test").to_json_bytes())["data"]["serial"] == "SN-AB.C:1_X"
