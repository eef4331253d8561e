"""HTTP clients of the backing services (one pooled httpx2 client each)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx2
from opentelemetry.propagate import inject

from gateway.service_layer.ports import BackendRefused, BackendUnavailable

SERVICES = ("instances", "support", "reports", "activity")


class HttpBackends:
    def __init__(
        self,
        base_urls: Mapping[str, str],
        *,
        timeout: float,
        transports: Mapping[str, httpx2.AsyncBaseTransport] | None = None,
    ) -> None:
        transports = transports or {}
        limits = httpx2.Limits(max_connections=200, max_keepalive_connections=50)
        self.clients = {
            name: httpx2.AsyncClient(
                base_url=url.rstrip("/"), timeout=timeout, transport=transports.get(name), limits=limits
            )
            for name, url in base_urls.items()
        }

    def client(self, service: str) -> httpx2.AsyncClient:
        return self.clients[service]

    async def get_json(
        self,
        service: str,
        path: str,
        *,
        token: str,
        params: Mapping[str, str | int | Sequence[str]] | None = None,
        language: str | None = None,
    ) -> Any:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if language:
            headers["Accept-Language"] = language
        inject(headers)  # W3C trace context: the service's span is a child of the gateway's
        try:
            response = await self.clients[service].get(path, params=dict(params or {}), headers=headers)
        except httpx2.TimeoutException as exc:
            raise BackendUnavailable(service, "timed out") from exc
        except httpx2.TransportError as exc:
            raise BackendUnavailable(service, f"unreachable ({type(exc).__name__})") from exc
        if response.status_code >= 500:
            raise BackendUnavailable(service, f"answered {response.status_code}")
        if response.status_code >= 400:
            raise BackendRefused(service, response.status_code, _problem(response))
        return response.json()

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()


def _problem(response: httpx2.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"status": response.status_code, "title": response.reason_phrase}
    return body if isinstance(body, dict) else {"status": response.status_code, "detail": body}
