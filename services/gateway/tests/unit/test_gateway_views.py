"""Composed screens (GatewayQueries.instance_view, .thread_view) against a fake of the backends: required parts
fail the view, optional parts degrade it, one call per service, and the calls run in parallel. No I/O."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import pytest

from gateway.service_layer.ports import BackendRefused, BackendUnavailable
from gateway.service_layer.queries import (
    INSTANCES_PER_THREAD_VIEW,
    LICENSES_PER_VIEW,
    TERMINALS_PER_VIEW,
    GatewayQueries,
)
from gateway.service_layer.testing import use_cases

pytestmark = pytest.mark.unit


def views(backends: Any, *, optional_timeout: float) -> GatewayQueries:
    return use_cases(backends=backends, optional_timeout=optional_timeout).queries


TOKEN = "access-token"
INSTANCE = {"id": "ins-1", "company_id": "cmp-1", "partner_id": "ptn-1"}
THREAD = {
    "id": "thr-cmp-1",
    "company_id": "cmp-1",
    "company_name": "Acme",
    "unread": 2,
    "message_count": 7,
    "last_message": {"preview": "hello"},
    "partner_id": "ptn-1",
    "internal_note": "not for the header",
}
COMPANY = {"id": "cmp-1", "name": "Acme"}
INSTANCES_PAGE = {"items": [INSTANCE], "next_cursor": None}

Answer = Any  # a value, an exception to raise, or an async callable producing the value


def licenses(*serials: str | None) -> dict[str, Any]:
    return {"items": [{"id": f"lic-{n}", "serial": serial} for n, serial in enumerate(serials)], "next_cursor": None}


def terminal(serial: str) -> dict[str, Any]:
    return {"serial": serial, "last_seen": "2026-03-10T09:00:00+00:00"}


def unavailable(service: str) -> BackendUnavailable:
    return BackendUnavailable(service, "answered 503")


def refused(service: str, status: int) -> BackendRefused:
    return BackendRefused(service, status, {"status": status})


async def hang() -> Any:
    await asyncio.Event().wait()  # never answers: only the deadline ends it


class Rendezvous:
    """Answers only once `parties` calls are in flight together: sequential calls would time out."""

    def __init__(self, parties: int) -> None:
        self.parties = parties
        self.arrived = 0
        self.everyone = asyncio.Event()

    def answer(self, value: Any) -> Callable[[], Awaitable[Any]]:
        async def call() -> Any:
            self.arrived += 1
            if self.arrived == self.parties:
                self.everyone.set()
            await self.everyone.wait()
            return value

        return call


class FakeBackends:
    def __init__(self, answers: Mapping[tuple[str, str], Answer]) -> None:
        self.answers = dict(answers)
        self.calls: list[tuple[str, str, str, dict[str, Any]]] = []
        self.languages: list[str | None] = []

    async def get_json(
        self,
        service: str,
        path: str,
        *,
        token: str,
        params: Mapping[str, str | int | Sequence[str]] | None = None,
        language: str | None = None,
    ) -> Any:
        self.calls.append((service, path, token, dict(params or {})))
        self.languages.append(language)
        answer = self.answers.get((service, path), refused(service, 404))
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            return await answer()
        return copy.deepcopy(answer)

    def paths(self, service: str) -> list[str]:
        return [path for called, path, _, _ in self.calls if called == service]


def overview(page: dict[str, Any]) -> dict[str, Any]:
    return {"instance": INSTANCE, "licenses": page}


def terminals(*serials: str) -> dict[str, Any]:
    return {"items": [terminal(serial) for serial in serials], "next_cursor": None}


OVERVIEW = ("instances", "/v1/instances/ins-1/overview")
TERMINALS = ("activity", "/v1/activity/terminals")


def instance_answers(**overrides: Answer) -> dict[tuple[str, str], Answer]:
    answers: dict[tuple[str, str], Answer] = {
        OVERVIEW: overview(licenses("SER-1", None, "SER-2")),
        ("support", "/v1/threads/thr-cmp-1"): THREAD,
        TERMINALS: terminals("SER-2", "SER-1"),  # last seen first: the view keeps the licenses' order
    }
    keys = {"instance": OVERVIEW, "thread": ("support", "/v1/threads/thr-cmp-1"), "terminals": TERMINALS}
    answers.update({keys[name]: value for name, value in overrides.items()})
    return answers


def thread_answers(**overrides: Answer) -> dict[tuple[str, str], Answer]:
    answers: dict[tuple[str, str], Answer] = {
        ("support", "/v1/threads/thr-cmp-1"): THREAD,
        ("instances", "/v1/companies/cmp-1"): COMPANY,
        ("instances", "/v1/instances"): INSTANCES_PAGE,
    }
    keys = {
        "thread": ("support", "/v1/threads/thr-cmp-1"),
        "company": ("instances", "/v1/companies/cmp-1"),
        "instances": ("instances", "/v1/instances"),
    }
    answers.update({keys[name]: value for name, value in overrides.items()})
    return answers


def degraded(view: Any) -> set[tuple[str, str, str]]:
    return {(d.part, d.service, d.reason) for d in view.degraded}


# ---------------------------------------------------------------------------- instance view


async def test_instance_view_composes_every_part_when_all_services_answer() -> None:
    backends = FakeBackends(instance_answers())

    view = await views(backends, optional_timeout=1.0).instance_view(TOKEN, "ins-1")

    assert view.parts["instance"] == INSTANCE
    assert view.parts["licenses"] == licenses("SER-1", None, "SER-2")
    assert view.parts["thread"] == {
        k: THREAD[k] for k in ("id", "company_name", "unread", "message_count", "last_message")
    }
    assert view.parts["terminals"] == [terminal("SER-1"), terminal("SER-2")]  # the seat without terminal is skipped
    assert view.as_json()["degraded"] == []
    assert {token for _, _, token, _ in backends.calls} == {TOKEN}  # the caller's token is passed on


async def test_instance_view_is_one_call_per_service_whatever_the_number_of_terminals() -> None:
    serials = [f"SER-{n}" for n in range(TERMINALS_PER_VIEW)]
    backends = FakeBackends(instance_answers(instance=overview(licenses(*serials)), terminals=terminals(*serials)))

    view = await views(backends, optional_timeout=1.0).instance_view(TOKEN, "ins-1")

    assert len(view.parts["terminals"]) == TERMINALS_PER_VIEW
    assert [(service, path, params) for service, path, _, params in backends.calls if service != "support"] == [
        ("instances", "/v1/instances/ins-1/overview", {"license_limit": LICENSES_PER_VIEW}),
        ("activity", "/v1/activity/terminals", {"serial": serials, "limit": TERMINALS_PER_VIEW}),
    ]
    assert backends.paths("support") == ["/v1/threads/thr-cmp-1"]


@pytest.mark.parametrize("failure", [refused("instances", 404), refused("instances", 403), unavailable("instances")])
async def test_instance_view_fails_when_the_instance_itself_fails(failure: Exception) -> None:
    backends = FakeBackends(instance_answers(instance=failure))

    with pytest.raises(type(failure)):
        await views(backends, optional_timeout=1.0).instance_view(TOKEN, "ins-1")
    assert backends.paths("support") == [] and backends.paths("activity") == []


async def test_the_instance_is_not_held_to_the_optional_deadline() -> None:
    async def slow_instance() -> Any:
        await asyncio.sleep(0.05)
        return overview(licenses())

    view = await views(FakeBackends(instance_answers(instance=slow_instance)), optional_timeout=0.01).instance_view(
        TOKEN, "ins-1"
    )

    assert view.parts["instance"] == INSTANCE


async def test_a_slow_instance_stretches_the_optional_parts_deadline_up_to_a_cap() -> None:
    """On a busy machine every call is slow alike: the optional parts are given as long as twice
    what the instance took (at most three times the configured deadline), not dropped for it."""

    async def slow_instance() -> Any:
        await asyncio.sleep(0.1)
        return overview(licenses("SER-1"))

    async def slow_thread() -> Any:
        await asyncio.sleep(0.05)  # later than the configured 0.02, within twice the instance's 0.1
        return THREAD

    answers = instance_answers(instance=slow_instance, thread=slow_thread, terminals=terminals("SER-1"))
    view = await views(FakeBackends(answers), optional_timeout=0.02).instance_view(TOKEN, "ins-1")

    assert view.degraded == [] and view.parts["thread"] is not None

    hung = instance_answers(instance=slow_instance, thread=hang)
    started = asyncio.get_running_loop().time()
    view = await views(FakeBackends(hung), optional_timeout=0.02).instance_view(TOKEN, "ins-1")

    assert degraded(view) == {("thread", "support", "timed out")}
    assert asyncio.get_running_loop().time() - started < 0.1 + 0.06 + 0.05, "capped at 3 x 0.02 after the instance"


async def test_a_missing_thread_is_none_without_degrading_the_view() -> None:
    view = await views(
        FakeBackends(instance_answers(thread=refused("support", 404))), optional_timeout=1.0
    ).instance_view(TOKEN, "ins-1")

    assert view.parts["thread"] is None
    assert view.degraded == []


@pytest.mark.parametrize(
    ("failure", "reason"),
    [(refused("support", 403), "answered 403"), (unavailable("support"), "answered 503"), (hang, "timed out")],
    ids=["refused", "unavailable", "late"],
)
async def test_a_failing_thread_is_none_and_flagged(failure: Answer, reason: str) -> None:
    view = await views(FakeBackends(instance_answers(thread=failure)), optional_timeout=0.02).instance_view(
        TOKEN, "ins-1"
    )

    assert view.parts["thread"] is None
    assert degraded(view) == {("thread", "support", reason)}
    assert view.parts["terminals"] == [terminal("SER-1"), terminal("SER-2")]


async def test_an_unknown_terminal_is_skipped_without_degrading() -> None:
    view = await views(
        FakeBackends(instance_answers(terminals=terminals("SER-2"))), optional_timeout=1.0
    ).instance_view(TOKEN, "ins-1")

    assert view.parts["terminals"] == [terminal("SER-2")]
    assert view.degraded == []


@pytest.mark.parametrize(
    ("failure", "reason"),
    [(unavailable("activity"), "answered 503"), (refused("activity", 403), "answered 403"), (hang, "timed out")],
    ids=["down", "refused", "late"],
)
async def test_terminals_failing_are_flagged_once(failure: Answer, reason: str) -> None:
    backends = FakeBackends(instance_answers(terminals=failure))

    view = await views(backends, optional_timeout=0.02).instance_view(TOKEN, "ins-1")

    assert view.parts["terminals"] is None
    assert [(d.part, d.service, d.reason) for d in view.degraded] == [("terminals", "activity", reason)]
    assert view.parts["licenses"] is not None and view.parts["thread"] is not None


async def test_terminals_are_asked_for_at_most_the_first_few_serials_and_none_without_serials() -> None:
    serials = [f"SER-{n}" for n in range(TERMINALS_PER_VIEW + 5)]
    backends = FakeBackends(instance_answers(instance=overview(licenses(*serials, serials[0]))))

    await views(backends, optional_timeout=1.0).instance_view(TOKEN, "ins-1")

    ((_, _, _, params),) = [call for call in backends.calls if call[0] == "activity"]
    assert params == {"serial": serials[:TERMINALS_PER_VIEW], "limit": TERMINALS_PER_VIEW}

    none = FakeBackends(instance_answers(instance=overview(licenses(None))))
    assert (await views(none, optional_timeout=1.0).instance_view(TOKEN, "ins-1")).parts["terminals"] == []
    assert none.paths("activity") == []


async def test_instance_view_asks_for_the_thread_and_the_terminals_in_parallel() -> None:
    parts = Rendezvous(2)
    backends = FakeBackends(
        instance_answers(thread=parts.answer(THREAD), terminals=parts.answer(terminals("SER-1", "SER-2")))
    )

    view = await views(backends, optional_timeout=2.0).instance_view(TOKEN, "ins-1")

    assert view.degraded == []  # sequential calls would each have waited out the deadline
    assert view.parts["terminals"] == [terminal("SER-1"), terminal("SER-2")]


# ------------------------------------------------------------------------------ thread view


async def test_thread_view_composes_the_thread_its_company_and_its_instances() -> None:
    backends = FakeBackends(thread_answers())

    view = await views(backends, optional_timeout=1.0).thread_view(TOKEN, "thr-cmp-1")

    assert view.as_json() == {"thread": THREAD, "company": COMPANY, "instances": INSTANCES_PAGE, "degraded": []}
    assert (
        "instances",
        "/v1/instances",
        TOKEN,
        {"company_id": "cmp-1", "limit": INSTANCES_PER_THREAD_VIEW},
    ) in backends.calls


async def test_every_part_is_asked_in_the_readers_language() -> None:
    thread_backends, instance_backends = FakeBackends(thread_answers()), FakeBackends(instance_answers())

    await views(thread_backends, optional_timeout=1.0).thread_view(TOKEN, "thr-cmp-1", "en-GB,en;q=0.9")
    await views(instance_backends, optional_timeout=1.0).instance_view(TOKEN, "ins-1", "es")

    assert set(thread_backends.languages) == {"en-GB,en;q=0.9"} and len(thread_backends.languages) == 3
    assert set(instance_backends.languages) == {"es"} and len(instance_backends.languages) == len(
        instance_backends.calls
    )


@pytest.mark.parametrize("failure", [refused("support", 404), unavailable("support")])
async def test_thread_view_fails_when_the_thread_itself_fails(failure: Exception) -> None:
    backends = FakeBackends(thread_answers(thread=failure))

    with pytest.raises(type(failure)):
        await views(backends, optional_timeout=1.0).thread_view(TOKEN, "thr-cmp-1")
    assert backends.paths("instances") == []


async def test_thread_view_degrades_each_failing_optional_part_on_its_own() -> None:
    view = await views(
        FakeBackends(thread_answers(company=refused("instances", 404), instances=hang)), optional_timeout=0.02
    ).thread_view(TOKEN, "thr-cmp-1")

    assert view.parts["thread"] == THREAD
    assert view.parts["company"] is None and view.parts["instances"] is None
    assert len(view.degraded) == 2
    assert degraded(view) == {("company", "instances", "answered 404"), ("instances", "instances", "timed out")}


async def test_thread_view_asks_company_and_instances_in_parallel() -> None:
    both = Rendezvous(2)
    backends = FakeBackends(thread_answers(company=both.answer(COMPANY), instances=both.answer(INSTANCES_PAGE)))

    view = await views(backends, optional_timeout=2.0).thread_view(TOKEN, "thr-cmp-1")

    assert view.degraded == []
    assert (view.parts["company"], view.parts["instances"]) == (COMPANY, INSTANCES_PAGE)
