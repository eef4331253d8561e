"""Composition root of the support service: the one place adapters are chosen and wired."""

from __future__ import annotations

from fastapi import FastAPI

from servicekit.runtime import ServiceRuntime
from servicekit.telemetry import Telemetry
from support.config import Settings

SERVICE = "support"


def build_app(settings: Settings | None = None, *, telemetry: Telemetry | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = ServiceRuntime.create(SERVICE, settings, telemetry=telemetry)
    return runtime.create_app(title="partnerapp support")
