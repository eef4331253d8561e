"""Audit of what users did through the gateway: every changing call under `/api/v1`, with who
(user, acting partner), what (method and route template), on which id, and the result."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.service_layer.ports import AuditLog, AuditRecord
from servicekit.principal import Principal

log = logging.getLogger(__name__)

READ_METHODS = {"GET", "HEAD", "OPTIONS"}
# Logins are audited by the accounts use cases (with the outcome); terminals' traffic is not user activity.
NOT_AUDITED = ("/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/ingest", "/api/v1/device")


class AuditTrail:
    def __init__(self, app: ASGIApp, audit: AuditLog) -> None:
        self.app = app
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope["method"] in READ_METHODS
            or not path.startswith("/api/v1/")
            or path.startswith(NOT_AUDITED)
        ):
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            await self._record(scope, status)

    async def _record(self, scope: Scope, status: int) -> None:
        state: dict[str, Any] = scope.get("state", {})
        principal: Principal | None = state.get("principal")
        route = state.get("route") or getattr(scope.get("route"), "path", None) or scope["path"]
        target = state.get("target_id") or _last_path_param(scope)
        headers = dict(scope.get("headers") or [])
        correlation = headers.get(b"x-correlation-id", b"").decode(errors="replace")[:100] or None
        client = scope.get("client")
        try:
            await self.audit.record(
                AuditRecord(
                    at=datetime.now(UTC),
                    user_id=principal.user_id if principal else None,
                    partner_id=principal.partner_id if principal else None,
                    action=f"{scope['method']} {route}",
                    target_id=target,
                    status=status,
                    client=client[0] if client else None,
                    correlation_id=correlation,
                )
            )
        except Exception:  # the store being down must not turn a done action into an error
            log.exception("audit record lost for %s %s", scope["method"], route)


def _last_path_param(scope: Scope) -> str | None:
    params: dict[str, Any] = scope.get("path_params") or {}
    values = [str(value) for key, value in params.items() if key != "rest"]
    return values[-1] if values else None
