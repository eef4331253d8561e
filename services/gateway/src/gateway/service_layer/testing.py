"""For tests only: the gateway's use-case objects built on the fakes a test gives, the ports it
does not reach left as `Unused` (any use of one fails the test, naming it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from gateway.domain.notifications import LiveStreams
from gateway.service_layer.access import AccessAnnouncer, AccessCache, AccessFeed, AnnouncedSessions, AnnouncedUsers
from gateway.service_layer.commands import GatewayCommands
from gateway.service_layer.event_handlers import GatewayEventHandlers
from gateway.service_layer.queries import GatewayQueries


class Unused:
    """A port the test does not expect to be used."""

    def __init__(self, port: str) -> None:
        self._port = port

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"this test does not expect the {self._port} port to be used ({name})")


class _NoHashing:
    """The commands hash a decoy password when built; a test of anything but logins needs no hasher."""

    def hash(self, password: str) -> str:
        return f"unused${password}"

    def verify(self, password_hash: str, password: str) -> bool:
        raise AssertionError("this test does not expect passwords to be checked")

    def needs_rehash(self, password_hash: str) -> bool:
        raise AssertionError("this test does not expect passwords to be checked")


@dataclass(frozen=True)
class UseCases:
    commands: GatewayCommands
    queries: GatewayQueries
    events: GatewayEventHandlers
    live: LiveStreams
    access: AccessCache
    access_feed: AccessFeed | None
    """With an `access_changes` port: the feed a test polls (bootstrap polls it on a timer)."""


_COMMAND_PORTS = ("users", "sessions", "guards", "tokens", "audit", "push_subscriptions", "notification_log")
_QUERY_PORTS = ("users", "sessions", "partners", "backends", "audit", "notification_log", "catalogue")


def use_cases(
    *,
    push: Any = None,
    optional_timeout: float = 1.0,
    vapid_public_key: str = "",
    clock: Any = None,
    policy: Any = None,
    access_changes: Any = None,
    monotonic: Any = None,
    **ports: Any,
) -> UseCases:
    """`ports` by the use cases' keyword names (`users=`, `backends=`, `notification_log=`...), as
    `bootstrap.build_app` wires them; `push` is the event handlers' push sender (none by default).

    With `access_changes` (an AccessChangeLog) the users and sessions are announced and the
    per-call check answers from memory once the feed is polled, as bootstrap wires them; without
    it every check reads the `users` and `sessions` fakes. `monotonic` is the cache's clock."""
    unknown = set(ports) - {*_COMMAND_PORTS, *_QUERY_PORTS, "hasher"}
    if unknown:
        raise TypeError(f"no such port: {sorted(unknown)}")

    def port(name: str) -> Any:
        return ports.get(name, Unused(name))

    timing: dict[str, Any] = {"clock": clock} if clock is not None else {}
    access = AccessCache(**({"monotonic": monotonic} if monotonic is not None else {}))
    access_feed = None
    if access_changes is not None:
        announcer = AccessAnnouncer(access_changes, access, **timing)
        ports["users"] = AnnouncedUsers(port("users"), announcer)
        ports["sessions"] = AnnouncedSessions(port("sessions"), announcer)
        access_feed = AccessFeed(access_changes, access, **timing)
    live = LiveStreams()
    commands = GatewayCommands(
        **{name: port(name) for name in _COMMAND_PORTS},
        hasher=ports.get("hasher", _NoHashing()),
        policy=policy,
        **timing,
    )
    queries = GatewayQueries(
        **{name: port(name) for name in _QUERY_PORTS},
        live=live,
        vapid_public_key=vapid_public_key,
        optional_timeout=optional_timeout,
        access=access,
        **timing,
    )
    events = GatewayEventHandlers(cast(Any, port("notification_log")), live, push, **timing)
    return UseCases(commands, queries, events, live, access, access_feed)
