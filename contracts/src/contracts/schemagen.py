"""Generate the committed JSON Schemas of every event (`python -m contracts.schemagen`).

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
    return schemas


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> int:
    SCHEMA_DIR.mkdir(exist_ok=True)
    wanted = generate()
    for stale in SCHEMA_DIR.glob("*.schema.json"):
        if stale.name not in wanted:
            stale.unlink()
    for name, schema in wanted.items():
        (SCHEMA_DIR / name).write_text(render(schema))
    print(f"wrote {len(wanted)} schemas to {SCHEMA_DIR.name}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
