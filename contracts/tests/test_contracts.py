"""The contracts keep their promises: schemas committed, old payloads parse, catalogue sound."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from contracts import CATALOGUE, MalformedEvent, decode_envelope, envelope_for, ingest_keys, topic
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


@pytest.mark.parametrize("spec", CATALOGUE, ids=lambda s: s.name)
def test_every_topic_has_a_v1_fixture_that_still_parses_and_round_trips(spec: Any) -> None:
    raw = (FIXTURES / "v1" / f"{spec.name}.json").read_text()
    event = decode_envelope(raw.encode(), expected_type=spec.name)
    assert isinstance(event.data, spec.payload)
    # Parsed and written again, the fixture's fields come back as they were: none was dropped or
    # renamed, and the fixture holds no field the model does not know. (Optional fields added
    # since, such as instance.provisioned's `name`, are absent from an old message and stay unset.)
    assert event.model_dump(mode="json", exclude_unset=True) == json.loads(raw)
    assert event.subject == spec.key_of(event.data)


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


@pytest.mark.parametrize("expected_type", [None, "session.cleared"])
def test_unknown_schema_version_is_refused(expected_type: str | None) -> None:
    doc = json.loads((FIXTURES / "v1" / "session.cleared.json").read_text())
    doc["schema_version"] = 2
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
    assert document["asyncapi"] == "3.0.0"
    assert set(document["channels"]) == {spec.name for spec in CATALOGUE}
    for spec in CATALOGUE:
        channel = document["channels"][spec.name]
        assert channel["bindings"]["kafka"]["partitions"] == spec.partitions
        message = document["components"]["messages"][spec.payload.__name__]
        assert (SCHEMA_DIR / message["payload"]["$ref"].removeprefix("./")).exists()
        assert f"{spec.owner}_sends_{spec.name.replace('.', '_')}" in document["operations"]


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
