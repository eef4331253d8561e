"""Composition root of the instances service: the one place adapters are chosen and wired."""

from __future__ import annotations

from fastapi import FastAPI

from instances.config import Settings
from servicekit.runtime import ServiceRuntime
from servicekit.telemetry import Telemetry

SERVICE = "instances"


def build_app(settings: Settings | None = None, *, telemetry: Telemetry | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = ServiceRuntime.create(SERVICE, settings, telemetry=telemetry)
    return runtime.create_app(title="partnerapp instances")
