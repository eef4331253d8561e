"""Run a service's ASGI app with uvicorn (the `python -m <service>` entry point)."""

from __future__ import annotations

import logging

import uvicorn
from fastapi import FastAPI

from servicekit.settings import ServiceSettings


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_level="info", access_log=False)
