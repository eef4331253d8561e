"""Generate the committed JSON Schemas of every event and the AsyncAPI 3.1 document of all
topics (`python -m contracts.schemagen`, or `make schemas`; `make asyncapi` checks the document
with the official AsyncAPI parser).

A test regenerates them in memory and fails when they differ from the committed files, so a
model change cannot slip out without its schema (and a reviewer sees the wire change).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from contracts.envelope import CONTENT_TYPE, ENVELOPE_FORM, EventEnvelope
from contracts.topics import CATALOGUE, DEADLETTER_HEADERS, DEADLETTER_PARTITIONS, DEADLETTER_TOPIC

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"
ASYNCAPI_FILE = "asyncapi.json"


def schema_file_name(topic_name: str, version: int) -> str:
    return f"{topic_name}.v{version}.schema.json"


def generate() -> dict[str, dict[str, Any]]:
    schemas: dict[str, dict[str, Any]] = {}
    for spec in CATALOGUE:
        model = EventEnvelope[spec.payload]  # type: ignore[name-defined]
        schema = model.model_json_schema(mode="serialization")
        schema["title"] = f"{spec.name} v{spec.schema_version}"
        schema["description"] = spec.description
        schema["$id"] = f"urn:partnerapp:event:{spec.name}:v{spec.schema_version}"
        schemas[schema_file_name(spec.name, spec.schema_version)] = schema
    schemas[ASYNCAPI_FILE] = asyncapi()
    return schemas


KAFKA_BINDING = "0.5.0"

# Headers every record may carry besides its own: trace context set per hop by FastStream's
# OpenTelemetry middleware (W3C Trace Context and Baggage) and FastStream's correlation id.
_HOP_HEADERS: dict[str, dict[str, Any]] = {
    "traceparent": {"type": "string", "description": "W3C trace context of the sending span."},
    "tracestate": {"type": "string", "description": "W3C trace state, when there is one."},
    "baggage": {"type": "string", "description": "W3C baggage, when there is any."},
    "correlation_id": {
        "type": "string",
        "description": "FastStream's correlation id of the send: an event's `correlationid`, else its `id`.",
    },
}


def _event_headers() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "Structured mode of the CloudEvents Kafka binding: the event's attributes are in the "
        "value, so no `ce_` header is sent.",
        "required": ["content-type"],
        "properties": {
            "content-type": {"type": "string", "const": CONTENT_TYPE},
            **_HOP_HEADERS,
        },
        "additionalProperties": False,
    }


def _deadletter_headers() -> dict[str, Any]:
    return {
        "type": "object",
        "required": [*DEADLETTER_HEADERS, "content-type"],
        "properties": {
            **{name: {"type": "string", "description": text} for name, text in DEADLETTER_HEADERS.items()},
            "content-type": {
                "type": "string",
                "description": f"The original record's content-type (`{CONTENT_TYPE}` for an event of this "
                "platform; empty when it had none), kept so that a replay is the same record.",
            },
            **_HOP_HEADERS,
        },
        "additionalProperties": False,
    }


def asyncapi() -> dict[str, Any]:
    """Every topic as an AsyncAPI channel: partitions, key, owner, headers and the envelope's JSON Schema."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for spec in CATALOGUE:
        message = spec.payload.__name__
        channels[spec.name] = {
            "address": spec.name,
            "description": spec.description,
            "messages": {message: {"$ref": f"#/components/messages/{message}"}},
            "bindings": {"kafka": {"partitions": spec.partitions, "bindingVersion": KAFKA_BINDING}},
        }
        operations[f"{spec.owner}_sends_{spec.name.replace('.', '_')}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{spec.name}"},
            "summary": f"Published by the {spec.owner} service",
            "messages": [{"$ref": f"#/channels/{spec.name}/messages/{message}"}],
        }
        messages[message] = {
            "name": spec.name,
            "title": f"{spec.name} v{spec.schema_version}",
            "summary": spec.description,
            "contentType": CONTENT_TYPE,
            "headers": {"$ref": "#/components/schemas/EventHeaders"},
            "payload": {"$ref": f"./{schema_file_name(spec.name, spec.schema_version)}"},
            "bindings": {
                "kafka": {
                    "key": {"type": "string", "description": f"the payload's {spec.key_field}"},
                    "bindingVersion": KAFKA_BINDING,
                }
            },
        }
    channels[DEADLETTER_TOPIC] = {
        "address": DEADLETTER_TOPIC,
        "description": "Records a consumer could never handle. Key, value and content-type are the original "
        "record's (the value byte for byte, which need not be an event); the dlq- headers say where it "
        "came from and why it failed.",
        "messages": {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}},
        "bindings": {"kafka": {"partitions": DEADLETTER_PARTITIONS, "bindingVersion": KAFKA_BINDING}},
    }
    operations["consumers_send_deadletter"] = {
        "action": "send",
        "channel": {"$ref": f"#/channels/{DEADLETTER_TOPIC}"},
        "summary": "Written by any service's consumer",
        "messages": [{"$ref": f"#/channels/{DEADLETTER_TOPIC}/messages/DeadLetter"}],
    }
    messages["DeadLetter"] = {
        "name": DEADLETTER_TOPIC,
        "title": "dead letter",
        "summary": "A record that could not be handled, as it was read.",
        # What the platform's producers wrote; a record from elsewhere keeps its own (header content-type).
        "contentType": CONTENT_TYPE,
        "headers": {"$ref": "#/components/schemas/DeadLetterHeaders"},
        "payload": {
            "description": "The original record's value, byte for byte: the event a producer of this platform "
            "wrote (an envelope of the original topic's schema, or of another topic's when it was misplaced), "
            "or whatever a foreign producer wrote."
        },
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "the original record's key"},
                "bindingVersion": KAFKA_BINDING,
            }
        },
    }
    return {
        "asyncapi": "3.1.0",
        "info": {
            "title": "partnerapp events",
            "version": f"{ENVELOPE_FORM}.0.0",
            "description": "Every Kafka topic of partnerapp: its owner (the only producer), partitions, "
            "partition key, headers and envelope schema. Every event is a CloudEvents 1.0 event in the "
            "structured mode of the Kafka binding. Generated from contracts/src/contracts/topics.py.",
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {"local": {"host": "127.0.0.1:9092", "protocol": "kafka"}},
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": {"EventHeaders": _event_headers(), "DeadLetterHeaders": _deadletter_headers()},
        },
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> int:
    SCHEMA_DIR.mkdir(exist_ok=True)
    wanted = generate()
    for stale in SCHEMA_DIR.glob("*.json"):
        if stale.name not in wanted:
            stale.unlink()
    for name, schema in wanted.items():
        (SCHEMA_DIR / name).write_text(render(schema))
    print(f"wrote {len(wanted) - 1} schemas and {ASYNCAPI_FILE} to {SCHEMA_DIR.name}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
