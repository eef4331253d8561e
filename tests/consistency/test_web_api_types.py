"""The web app's API types (web/src/api/schema.d.ts) are those of the gateway's OpenAPI document:
regenerated in-process (web/scripts/api_types.py, openapi-typescript from web/node_modules) and
compared with the committed file, so an API change cannot slip past the web app's type check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

WEB = Path(__file__).resolve().parents[2] / "web"
SCRIPT = WEB / "scripts" / "api_types.py"

if not (WEB / "node_modules" / ".bin" / "openapi-typescript").exists():
    pytest.skip("needs web/node_modules (cd web && npm ci)", allow_module_level=True)


def test_committed_api_types_equal_the_gateways_openapi_document() -> None:
    checked = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=300, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr[-2000:]


def test_the_api_types_name_the_public_operations() -> None:
    committed = (WEB / "src" / "api" / "schema.d.ts").read_text(encoding="utf-8")
    for path in ('"/api/v1/threads"', '"/api/v1/instances/{instance_id}"', '"/api/v1/reports/summary"'):
        assert path in committed, path
