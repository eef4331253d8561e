"""The web app's API types from the gateway's public OpenAPI document (`make web-api-types`).

The five apps are built in-process, as the OpenAPI unit tests build them (no broker, no store, no
running stack); the gateway merges the services' documents into `/api/v1/openapi.json` as a client
reads it, and openapi-typescript (web/node_modules, pinned) turns it into `web/src/api/schema.d.ts`.
`--check` regenerates in memory and fails when the committed file differs (the drift test runs it).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx2
from pydantic import SecretStr

from activity.bootstrap import build_app as build_activity
from activity.config import Settings as ActivitySettings
from gateway.bootstrap import build_app as build_gateway
from gateway.config import Settings as GatewaySettings
from instances.bootstrap import build_app as build_instances
from instances.config import Settings as InstancesSettings
from reports.bootstrap import build_app as build_reports
from reports.config import Settings as ReportsSettings
from servicekit.auth import generate_key_pair
from servicekit.settings import PlatformSettings
from support.bootstrap import build_app as build_support
from support.config import Settings as SupportSettings

WEB = Path(__file__).resolve().parents[1]
SCHEMA = WEB / "src" / "api" / "schema.d.ts"
OPENAPI_TYPESCRIPT = WEB / "node_modules" / ".bin" / "openapi-typescript"
REGENERATE = "make web-api-types"
HEADER = (
    "// Generated from the gateway's /api/v1/openapi.json by web/scripts/api_types.py"
    f" (`{REGENERATE}`): do not edit.\n"
)


def public_document() -> dict[str, Any]:
    private, public = generate_key_pair()
    platform = PlatformSettings(auth_public_key=public)
    services = {
        "instances": build_instances(InstancesSettings(platform=platform)),
        "support": build_support(SupportSettings(platform=platform)),
        "reports": build_reports(ReportsSettings(platform=platform)),
        "activity": build_activity(ActivitySettings(platform=platform)),
    }
    gateway = build_gateway(
        GatewaySettings(platform=platform, token_private_key=SecretStr(private)),
        transports={name: httpx2.ASGITransport(app=app) for name, app in services.items()},
    )

    async def fetch() -> dict[str, Any]:
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=gateway), base_url="http://gateway") as client:
            response = await client.get("/api/v1/openapi.json")
            response.raise_for_status()
            document: dict[str, Any] = response.json()
            return document

    return asyncio.run(fetch())


def generate() -> str:
    """The TypeScript of the public document, as openapi-typescript writes it."""
    if not OPENAPI_TYPESCRIPT.exists():
        raise SystemExit("openapi-typescript not found: run `npm ci` in web/")
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "openapi.json"
        source.write_text(json.dumps(public_document(), indent=2, sort_keys=True), encoding="utf-8")
        target = Path(folder) / "schema.d.ts"
        subprocess.run(
            [str(OPENAPI_TYPESCRIPT), str(source), "--output", str(target)],
            check=True,
            capture_output=True,
            timeout=120,
        )
        return HEADER + target.read_text(encoding="utf-8")


def main(argv: list[str]) -> int:
    generated = generate()
    if "--check" in argv:
        if not SCHEMA.exists() or SCHEMA.read_text(encoding="utf-8") != generated:
            print(f"{SCHEMA.relative_to(WEB.parent)} differs from the gateway's OpenAPI document: run `{REGENERATE}`")
            return 1
        return 0
    SCHEMA.write_text(generated, encoding="utf-8")
    print(f"wrote {SCHEMA.relative_to(WEB.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
