"""The instances service's HTTP API, as the activity service uses it (R-43: release a license).

Calls carry the caller's own access token, so the instances service applies its own partner
scoping and audit to the very user who asked.
"""

from __future__ import annotations

from typing import Any

import httpx2

from activity.service_layer.ports import InstancesUnavailable, LicenseRef, Released


class HttpInstancesClient:
    def __init__(self, base_url: str, *, transport: httpx2.AsyncBaseTransport | None = None, timeout: float = 5.0):
        self._client = httpx2.AsyncClient(base_url=base_url, transport=transport, timeout=timeout)

    async def close(self) -> None:
        await self._client.aclose()

    async def license_of(self, token: str, instance_id: str, pin: str) -> LicenseRef | None:
        """The instance's active license with this PIN, if any."""
        response = await self._call(
            "GET", f"/v1/instances/{instance_id}/licenses", token, params={"q": pin, "status": "active", "limit": 100}
        )
        if response.status_code == 404:
            return None
        for item in response.json()["items"]:
            if item["pin"] == pin:
                return LicenseRef(item["id"], item["status"], item["serial"])
        return None

    async def release(self, token: str, instance_id: str, license_id: str, reason: str | None) -> Released:
        body: dict[str, Any] = {"reason": reason} if reason else {}
        response = await self._call(
            "POST", f"/v1/instances/{instance_id}/licenses/{license_id}/release", token, json=body
        )
        return Released(response.status_code, response.json())

    async def _call(self, method: str, path: str, token: str, **kwargs: Any) -> httpx2.Response:
        try:
            response = await self._client.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
        except httpx2.HTTPError as exc:
            raise InstancesUnavailable(str(exc)) from exc
        if response.status_code >= 500:
            raise InstancesUnavailable(f"instances answered {response.status_code}")
        return response
