"""Screens composed from several services (ARCHITECTURE §2): the calls run in parallel, each
optional part has its own deadline, and a part that fails is flagged, not fatal."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

TERMINALS_PER_VIEW = 10
LICENSES_PER_VIEW = 50
INSTANCES_PER_THREAD_VIEW = 50


class BackendUnavailable(Exception):
    """The service did not answer (down, timed out, or answered 5xx)."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"{service}: {reason}")
        self.service = service
        self.reason = reason


class BackendRefused(Exception):
    """The service answered 4xx: the caller's problem (e.g. 404 for another partner's id), passed on as is."""

    def __init__(self, service: str, status: int, problem: Mapping[str, Any]) -> None:
        super().__init__(f"{service} answered {status}")
        self.service = service
        self.status = status
        self.problem = problem


class Backends(Protocol):
    async def get_json(
        self,
        service: str,
        path: str,
        *,
        token: str,
        params: Mapping[str, str | int] | None = None,
        language: str | None = None,
    ) -> Any:
        """The JSON body of a 2xx answer; BackendRefused on 4xx; BackendUnavailable otherwise.
        `language` (an Accept-Language value) is the one the texts of the answer are wanted in."""


@dataclass
class Degraded:
    part: str
    service: str
    reason: str


@dataclass
class View:
    parts: dict[str, Any] = field(default_factory=dict)
    degraded: list[Degraded] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            **self.parts,
            "degraded": [{"part": d.part, "service": d.service, "reason": d.reason} for d in self.degraded],
        }


class Views:
    def __init__(self, backends: Backends, *, optional_timeout: float) -> None:
        self._backends = backends
        self._optional_timeout = optional_timeout

    async def instance(self, token: str, instance_id: str, language: str | None = None) -> View:
        """Instance + its licenses + the company thread's unread count + its terminals' last activity."""
        instance = await self._backends.get_json(
            "instances", f"/v1/instances/{instance_id}", token=token, language=language
        )
        view = View(parts={"instance": instance, "licenses": None, "thread": None, "terminals": None})

        async def licenses_and_terminals() -> None:
            page = await self._optional(
                view,
                "licenses",
                "instances",
                self._backends.get_json(
                    "instances",
                    f"/v1/instances/{instance_id}/licenses",
                    token=token,
                    language=language,
                    params={"limit": LICENSES_PER_VIEW},
                ),
            )
            if page is None:
                view.degraded.append(Degraded("terminals", "instances", "licenses unavailable"))
                return
            view.parts["licenses"] = page
            serials = [item["serial"] for item in page.get("items", []) if item.get("serial")][:TERMINALS_PER_VIEW]
            view.parts["terminals"] = await self._terminals(view, token, serials, language)

        async def thread() -> None:
            found = await self._optional(
                view,
                "thread",
                "support",
                self._backends.get_json(
                    "support", f"/v1/threads/thr-{instance['company_id']}", token=token, language=language
                ),
                missing_is_none=True,
            )
            view.parts["thread"] = _thread_header(found) if found else None

        await asyncio.gather(licenses_and_terminals(), thread())
        return view

    async def thread(self, token: str, thread_id: str, language: str | None = None) -> View:
        """Thread header (R-12, R-14): the thread + its company + the company's instances with their licenses."""
        thread = await self._backends.get_json("support", f"/v1/threads/{thread_id}", token=token, language=language)
        view = View(parts={"thread": thread, "company": None, "instances": None})
        company_id = thread["company_id"]
        company, instances = await asyncio.gather(
            self._optional(
                view,
                "company",
                "instances",
                self._backends.get_json("instances", f"/v1/companies/{company_id}", token=token, language=language),
            ),
            self._optional(
                view,
                "instances",
                "instances",
                self._backends.get_json(
                    "instances",
                    "/v1/instances",
                    token=token,
                    language=language,
                    params={"company_id": company_id, "limit": INSTANCES_PER_THREAD_VIEW},
                ),
            ),
        )
        view.parts["company"] = company
        view.parts["instances"] = instances
        return view

    async def _terminals(
        self, view: View, token: str, serials: list[str], language: str | None
    ) -> list[dict[str, Any]] | None:
        if not serials:
            return []
        found = await asyncio.gather(
            *(
                self._optional(
                    view,
                    "terminals",
                    "activity",
                    self._backends.get_json(
                        "activity", f"/v1/activity/terminals/{serial}", token=token, language=language
                    ),
                    missing_is_none=True,
                    flag=False,
                )
                for serial in serials
            ),
            return_exceptions=True,
        )
        failed = [item for item in found if isinstance(item, BaseException)]
        if failed:
            view.degraded.append(Degraded("terminals", "activity", _reason(failed[0])))
            return None
        return [item for item in found if isinstance(item, dict)]

    async def _optional(
        self,
        view: View,
        part: str,
        service: str,
        call: Awaitable[T],
        *,
        missing_is_none: bool = False,
        flag: bool = True,
    ) -> T | None:
        """The part's value, or None with the part flagged when its service fails or is late.

        With `flag=False` the failure is raised for the caller to summarise (one flag for many calls).
        """
        try:
            return await asyncio.wait_for(call, self._optional_timeout)
        except BackendRefused as refused:
            if refused.status == 404 and missing_is_none:
                return None
            if not flag:
                raise
            view.degraded.append(Degraded(part, service, f"answered {refused.status}"))
        except (BackendUnavailable, TimeoutError) as failure:
            if not flag:
                raise
            view.degraded.append(Degraded(part, service, _reason(failure)))
        return None


def _reason(failure: BaseException) -> str:
    if isinstance(failure, TimeoutError):
        return "timed out"
    if isinstance(failure, BackendUnavailable):
        return failure.reason
    if isinstance(failure, BackendRefused):
        return f"answered {failure.status}"
    return type(failure).__name__


def _thread_header(thread: Mapping[str, Any]) -> dict[str, Any]:
    return {key: thread.get(key) for key in ("id", "company_name", "unread", "message_count", "last_message")}
