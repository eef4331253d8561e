"""`/healthz` (the process is alive) and `/readyz` (it can do its work: Kafka and Mongo reachable)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

ReadinessCheck = Callable[[], Awaitable[Mapping[str, Any]]]
"""Returns details; raising (or timing out) means not ready."""

CHECK_TIMEOUT_SECONDS = 3.0
_READINESS = {
    "type": "object",
    "required": ["status", "service", "checks"],
    "properties": {
        "status": {"enum": ["ready", "not-ready"]},
        "service": {"type": "string"},
        "checks": {"type": "object", "description": "Per check: `ok`, and the time taken or the error."},
    },
}


def health_router(service: str, checks: Mapping[str, ReadinessCheck]) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @router.get(
        "/readyz",
        summary="Readiness: Kafka and the store are reachable",
        responses={
            200: {"content": {"application/json": {"schema": _READINESS}}},
            # The same report, for probes and operators: not a problem document.
            503: {"description": "Not ready", "content": {"application/json": {"schema": _READINESS}}},
        },
    )
    async def readyz() -> JSONResponse:
        results = await asyncio.gather(*(_run(check) for check in checks.values()))
        details = dict(zip(checks, results, strict=True))
        ready = all(result["ok"] for result in results)
        return JSONResponse(
            {"status": "ready" if ready else "not-ready", "service": service, "checks": details},
            status_code=200 if ready else 503,
        )

    return router


async def _run(check: ReadinessCheck) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        details = await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
    except Exception as exc:  # any failure means "not ready"; say which
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1), **details}
