"""The per-call check's data (sessions and users) held in this replica's memory, kept current
by a change log that every replica reads, and failing safe to the store.

Why a change log in the gateway's own store, read by every replica every `poll` seconds with ONE
query, rather than a Kafka topic: the signal is the gateway's alone (no other service needs it, so
no new contract), a poll that succeeded proves at once how current a replica is (everything
recorded before the poll began is applied), and the store's cost is constant, a few tiny reads a
second per replica, whatever the request rate.

Staleness bound (`staleness_bound`, 1 s by default): a replica answers from memory only while its
last successful poll BEGAN at most that long ago; otherwise (the log unreachable, slow or
stalled) it reads the store on every call, as it did before the cache. So a change recorded at t
is applied by every replica answering from memory after t + bound.

Writes (`AccessAnnouncer`): a change is recorded BEFORE the store write and again after it. A
replica that sees a record forgets that session or user and reads it from the store for `hold`
seconds, so a crash between the record and the write (or between the write and the second
record) cannot leave an old grant in any replica's memory; the second record covers a write
slower than the hold. The writing replica forgets the key at once (read-your-own-writes), and a
new or rotated session goes into its memory directly. A read that began before a change was
applied is not kept (`epoch`). A session's expiry is checked against the clock from memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from gateway.domain.model import Session, User
from gateway.service_layer.ports import (
    AccessChange,
    AccessChangeKind,
    AccessChangeLog,
    SessionRepository,
    UserRepository,
)

log = logging.getLogger(__name__)

STALENESS_BOUND_SECONDS = 1.0
HOLD_SECONDS = 10.0
"""How long a replica reads a changed key from the store: longer than any write takes."""
LOG_RETENTION = timedelta(minutes=1)
"""How long the log keeps a change: far more than a poll's gap while a replica is current."""
ENTRY_MAX_AGE_SECONDS = 300.0
"""Defence in depth: an entry is re-read this often even without a change (an operator's edit
straight in the store is seen within it)."""
MAX_ENTRIES = 20_000
"""Per kind; the least recently used go first."""

V = TypeVar("V")


class AccessCache:
    """This replica's sessions and users for the per-call check; no I/O (AccessFeed polls)."""

    def __init__(
        self,
        *,
        staleness_bound: float = STALENESS_BOUND_SECONDS,
        hold: float = HOLD_SECONDS,
        log_retention: timedelta = LOG_RETENTION,
        entry_max_age: float = ENTRY_MAX_AGE_SECONDS,
        max_entries: int = MAX_ENTRIES,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.staleness_bound = staleness_bound
        self.monotonic = monotonic
        self._hold = hold
        self._log_retention = log_retention.total_seconds()
        self._entry_max_age = entry_max_age
        self._max_entries = max_entries
        self._sessions: OrderedDict[str, tuple[Session, float]] = OrderedDict()
        self._users: OrderedDict[str, tuple[User, float]] = OrderedDict()
        self._held: dict[tuple[str, str], float] = {}
        self._seen: frozenset[str] = frozenset()
        self._current_as_of: float | None = None
        self.epoch = 0
        """Changes whenever something is forgotten: a store read that began before keeps nothing."""

    @property
    def current(self) -> bool:
        """Whether every change recorded more than `staleness_bound` ago is applied here."""
        as_of = self._current_as_of
        return as_of is not None and self.monotonic() - as_of <= self.staleness_bound

    def session(self, session_id: str) -> Session | None:
        return self._fresh(self._sessions, session_id)

    def user(self, user_id: str) -> User | None:
        return self._fresh(self._users, user_id)

    def keep(self, *, epoch: int, session: Session | None = None, user: User | None = None) -> None:
        """Remember what the store answered to a read that began at `epoch`, unless something was
        forgotten since or the key is held."""
        if epoch != self.epoch:
            return
        now = self.monotonic()
        if user is not None and not self._is_held("user", user.id, now):
            self._put(self._users, user.id, user, now)
        if (
            session is not None
            and not self._is_held("session", session.id, now)
            and not self._is_held("user", session.user_id, now)
        ):
            self._put(self._sessions, session.id, session, now)

    def forget(self, *, user_id: str | None = None, session_id: str | None = None) -> None:
        """A session, or a user with all their sessions, is read from the store next time."""
        self.epoch += 1
        if session_id is not None:
            self._sessions.pop(session_id, None)
            return
        if user_id is not None:
            self._users.pop(user_id, None)
            for gone in [key for key, (session, _) in self._sessions.items() if session.user_id == user_id]:
                del self._sessions[gone]

    def polled(self, changes: Iterable[AccessChange], *, started: float) -> None:
        """Apply what a poll that began at `started` (monotonic) read: the whole log."""
        now = self.monotonic()
        previous = self._current_as_of
        if previous is None or started - previous > self._log_retention / 2:
            # The log may have dropped changes this replica never saw: start afresh.
            self._clear()
        kept: set[str] = set()
        for change in changes:
            kept.add(change.id)
            if change.id in self._seen:
                continue
            session_id = change.session_id if change.kind == "session_ended" else None
            self.forget(user_id=change.user_id, session_id=session_id)
            if session_id is not None:
                self._held["session", session_id] = now + self._hold
            elif change.user_id is not None:
                self._held["user", change.user_id] = now + self._hold
        self._seen = frozenset(kept)  # a change the log no longer returns will not come back
        self._held = {key: until for key, until in self._held.items() if until > now}
        self._current_as_of = started

    def _clear(self) -> None:
        self.epoch += 1
        self._sessions.clear()
        self._users.clear()

    def _is_held(self, kind: str, key: str, now: float) -> bool:
        return self._held.get((kind, key), 0.0) > now

    def _fresh(self, entries: OrderedDict[str, tuple[V, float]], key: str) -> V | None:
        found = entries.get(key)
        if found is None:
            return None
        value, loaded_at = found
        if self.monotonic() - loaded_at > self._entry_max_age:
            del entries[key]
            return None
        entries.move_to_end(key)
        return value

    def _put(self, entries: OrderedDict[str, tuple[V, float]], key: str, value: V, now: float) -> None:
        entries[key] = (value, now)
        entries.move_to_end(key)
        while len(entries) > self._max_entries:
            entries.popitem(last=False)


class AccessFeed:
    """Keeps an AccessCache current: `poll` every fraction of the bound, `prune` now and then."""

    def __init__(
        self,
        changes: AccessChangeLog,
        cache: AccessCache,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._changes = changes
        self._cache = cache
        self._clock = clock
        self._failing = False

    async def poll(self) -> None:
        """One read of the log. A failed or late one (a poll slower than the bound cannot make the
        replica current) leaves the cache to go stale: calls then read the store."""
        started = self._cache.monotonic()
        try:
            async with asyncio.timeout(self._cache.staleness_bound):
                changes = await self._changes.recent()
        except Exception as exc:  # said once per outage, not five times a second
            if not self._failing:
                log.warning("access change log unreadable (%r): the per-call check reads the store", exc)
            self._failing = True
            return
        if self._failing:
            log.info("access change log readable again: the per-call check answers from memory")
        self._failing = False
        self._cache.polled(changes, started=started)

    async def prune(self) -> int:
        return await self._changes.forget_before(self._clock() - LOG_RETENTION)


class AccessAnnouncer:
    """Tells every replica about a write that may end a grant (see the module's docstring)."""

    def __init__(
        self,
        changes: AccessChangeLog,
        cache: AccessCache,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._changes = changes
        self.cache = cache
        self._clock = clock

    @asynccontextmanager
    async def changing(
        self, kind: AccessChangeKind, *, user_id: str | None, session_id: str | None = None
    ) -> AsyncIterator[None]:
        await self._record(kind, user_id, session_id)
        forget_session = session_id if kind == "session_ended" else None
        self.cache.forget(user_id=user_id, session_id=forget_session)
        try:
            yield
        finally:
            self.cache.forget(user_id=user_id, session_id=forget_session)
            await self._record(kind, user_id, session_id)

    async def _record(self, kind: AccessChangeKind, user_id: str | None, session_id: str | None) -> None:
        change = AccessChange(f"acc_{uuid.uuid4().hex}", kind, user_id, session_id, self._clock())
        await self._changes.record(change)


class AnnouncedUsers:
    """A UserRepository whose changes every replica learns of (a new user is in nobody's memory)."""

    def __init__(self, users: UserRepository, announcer: AccessAnnouncer) -> None:
        self._users = users
        self._announcer = announcer

    async def get(self, user_id: str) -> User | None:
        return await self._users.get(user_id)

    async def by_email(self, email: str) -> User | None:
        return await self._users.by_email(email)

    async def add(self, user: User) -> bool:
        return await self._users.add(user)

    async def update(self, user_id: str, changes: Mapping[str, Any]) -> User | None:
        async with self._announcer.changing("user_changed", user_id=user_id):
            return await self._users.update(user_id, changes)


class AnnouncedSessions:
    """A SessionRepository whose ended sessions every replica learns of; a session this replica
    opens or rotates goes into its memory at once."""

    def __init__(self, sessions: SessionRepository, announcer: AccessAnnouncer) -> None:
        self._sessions = sessions
        self._announcer = announcer

    async def add(self, session: Session) -> None:
        cache = self._announcer.cache
        epoch = cache.epoch
        await self._sessions.add(session)
        cache.keep(epoch=epoch, session=session)

    async def get(self, session_id: str) -> Session | None:
        return await self._sessions.get(session_id)

    async def rotate(self, session: Session, *, expected_hash: str) -> bool:
        # Not announced: a rotation changes the refresh secret and the acting partner, which the
        # per-call check does not read (the access token carries the partner).
        cache = self._announcer.cache
        epoch = cache.epoch
        rotated = await self._sessions.rotate(session, expected_hash=expected_hash)
        if rotated:
            cache.keep(epoch=epoch, session=session)
        return rotated

    async def revoke(self, session_id: str, *, reason: str, at: datetime) -> None:
        async with self._announcer.changing("session_ended", user_id=None, session_id=session_id):
            await self._sessions.revoke(session_id, reason=reason, at=at)

    async def revoke_user(self, user_id: str, *, reason: str, at: datetime, keep: str | None = None) -> int:
        async with self._announcer.changing("user_changed", user_id=user_id):
            return await self._sessions.revoke_user(user_id, reason=reason, at=at, keep=keep)
