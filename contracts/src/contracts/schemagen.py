"""Generate the committed JSON Schemas of every event and the AsyncAPI 3.0 document of all
topics (`python -m contracts.schemagen`, or `make schemas`).

A test regenerates them in memory and fails when they differ from the committed files, so a
model change cannot slip out without its schema (and a reviewer sees the wire change).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from contracts.envelope import EventEnvelope
from contracts.topics import CATALOGUE

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


def asyncapi() -> dict[str, Any]:
    """Every topic as an AsyncAPI channel: partitions, key, owner and the payload's JSON Schema."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for spec in CATALOGUE:
        message = spec.payload.__name__
        channels[spec.name] = {
            "address": spec.name,
            "description": spec.description,
            "messages": {message: {"$ref": f"#/components/messages/{message}"}},
            "bindings": {"kafka": {"partitions": spec.partitions, "bindingVersion": "0.5.0"}},
        }
        operations[f"{spec.owner}_sends_{spec.name.replace('.', '_')}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{spec.name}"},
            "summary": f"Published by the {spec.owner} service",
        }
        messages[message] = {
            "name": spec.name,
            "title": f"{spec.name} v{spec.schema_version}",
            "contentType": "application/json",
            "payload": {"$ref": f"./{schema_file_name(spec.name, spec.schema_version)}"},
            "bindings": {
                "kafka": {
                    "key": {"type": "string", "description": f"the payload's {spec.key_field}"},
                    "bindingVersion": "0.5.0",
                }
            },
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "partnerapp events",
            "version": "1.0.0",
            "description": "Every Kafka topic of partnerapp: its owner (the only producer), partitions, "
            "partition key and envelope schema. Generated from contracts/src/contracts/topics.py.",
        },
        "defaultContentType": "application/json",
        "servers": {"local": {"host": "127.0.0.1:9092", "protocol": "kafka"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
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
