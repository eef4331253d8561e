"""Composition root of the activity service: the one place adapters are chosen and wired."""

from __future__ import annotations

from fastapi import FastAPI

from activity.adapters.mongo_repository import INDEXES, MongoActivityRepository
from activity.config import Settings
from activity.entrypoints import consumers, http
from servicekit.runtime import ServiceRuntime
from servicekit.telemetry import Telemetry

SERVICE = "activity"


def build_app(settings: Settings | None = None, *, telemetry: Telemetry | None = None) -> FastAPI:
    settings = settings or Settings()
    runtime = ServiceRuntime.create(SERVICE, settings, telemetry=telemetry)
    repository = MongoActivityRepository(runtime.db)
    runtime.indexes.extend(INDEXES)
    consumers.register(runtime.consumer, repository)
    return runtime.create_app(title="partnerapp activity", routers=[http.router(repository)])
