"""Run a service's ASGI app with uvicorn (the `python -m <service>` entry point)."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from servicekit.logs import configure_logging
from servicekit.settings import ServiceSettings


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    configure_logging(app.state.runtime.name)
    uvicorn.run(
        app, host=settings.http_host, port=settings.http_port, log_level="info", access_log=False, log_config=None
    )
