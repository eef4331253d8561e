"""The per-call check from memory (service_layer.access): two replicas on one store and one
change log, each with its own cache and a controllable monotonic clock, and fakes that count the
store reads. No I/O, no timers: a test polls a replica's feed itself."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.domain.model import Session, SessionEnded, User
from gateway.service_layer.access import AccessAnnouncer, AccessCache, AnnouncedSessions
from gateway.service_layer.ports import AccessChange
from gateway.service_layer.testing import UseCases, use_cases
from servicekit.principal import Principal

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
SAM = "usr-sam"  # staff of ptn-1 and ptn-2
PASSWORD = "correct horse battery"
BOUND = 1.0


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


class Store:
    """The users and sessions every replica shares, counting the reads."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {
            SAM: User(SAM, "sam@vendor.example", "Sam", "staff", ("ptn-1", "ptn-2"), f"v2${PASSWORD}")
        }
        self.sessions: dict[str, Session] = {}
        self.reads = 0

    def open_session(self, session_id: str) -> str:
        self.sessions[session_id] = Session(session_id, SAM, "ptn-1", "hash", NOW + timedelta(days=14), NOW)
        return session_id


class FakeUsers:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def get(self, user_id: str) -> User | None:
        self._store.reads += 1
        return self._store.users.get(user_id)

    async def by_email(self, email: str) -> User | None:
        raise AssertionError("no login here")

    async def add(self, user: User) -> bool:
        raise AssertionError("no user is created here")

    async def update(self, user_id: str, changes: dict[str, Any]) -> User | None:
        user = self._store.users.get(user_id)
        if user is None:
            return None
        self._store.users[user_id] = replace(user, **changes)
        return self._store.users[user_id]


class FakeSessions:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def add(self, session: Session) -> None:
        self._store.sessions[session.id] = session

    async def get(self, session_id: str) -> Session | None:
        self._store.reads += 1
        return self._store.sessions.get(session_id)

    async def rotate(self, session: Session, *, expected_hash: str) -> bool:
        raise AssertionError("no refresh here")

    async def revoke(self, session_id: str, *, reason: str, at: datetime) -> None:
        found = self._store.sessions.get(session_id)
        if found is not None and found.revoked_at is None:
            self._store.sessions[session_id] = replace(found, revoked_at=at, revoked_reason=reason)

    async def revoke_user(self, user_id: str, *, reason: str, at: datetime, keep: str | None = None) -> int:
        ended = [s.id for s in self._store.sessions.values() if s.user_id == user_id and s.id != keep]
        for session_id in ended:
            await self.revoke(session_id, reason=reason, at=at)
        return len(ended)


class FakeChangeLog:
    def __init__(self) -> None:
        self.changes: list[AccessChange] = []
        self.stalled = False

    async def record(self, change: AccessChange) -> None:
        self.changes.append(change)

    async def recent(self) -> list[AccessChange]:
        if self.stalled:
            raise ConnectionError("the store does not answer")
        return list(self.changes)

    async def forget_before(self, moment: datetime) -> int:
        kept = [change for change in self.changes if change.at >= moment]
        forgotten, self.changes = len(self.changes) - len(kept), kept
        return forgotten


class Hasher:
    def hash(self, password: str) -> str:
        return f"v2${password}"

    def verify(self, password_hash: str, password: str) -> bool:
        return password_hash == f"v2${password}"

    def needs_rehash(self, password_hash: str) -> bool:
        return False


class Replica:
    def __init__(self, store: Store, log: FakeChangeLog, clock: Clock) -> None:
        self.monotonic = Monotonic()
        self.use_cases: UseCases = use_cases(
            users=FakeUsers(store),
            sessions=FakeSessions(store),
            hasher=Hasher(),
            access_changes=log,
            monotonic=self.monotonic,
            clock=clock,
        )
        self.commands = self.use_cases.commands

    async def poll(self) -> None:
        feed = self.use_cases.access_feed
        assert feed is not None
        await feed.poll()

    async def check(self, session_id: str, partner_id: str = "ptn-1") -> Principal:
        """A token for `partner_id` (its only partner when ptn-1, both otherwise)."""
        partners = frozenset({"ptn-1"} if partner_id == "ptn-1" else {"ptn-1", partner_id})
        principal = Principal(SAM, "staff", partner_id, partners)
        return await self.use_cases.queries.authenticate({"sid": session_id}, principal)

    async def refuses(self, session_id: str, partner_id: str = "ptn-1") -> bool:
        try:
            await self.check(session_id, partner_id)
        except SessionEnded:
            return True
        return False


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def log() -> FakeChangeLog:
    return FakeChangeLog()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def a(store: Store, log: FakeChangeLog, clock: Clock) -> Replica:
    return Replica(store, log, clock)


@pytest.fixture
def b(store: Store, log: FakeChangeLog, clock: Clock) -> Replica:
    return Replica(store, log, clock)


# ----------------------------------------------------------------------------- from memory


async def test_a_current_replica_answers_the_check_from_memory_with_no_store_read(store: Store, b: Replica) -> None:
    session_id = store.open_session("ses-1")
    await b.poll()
    await b.check(session_id)  # the first call fills the memory
    reads = store.reads

    for _ in range(20):
        assert (await b.check(session_id)).partner_ids == {"ptn-1", "ptn-2"}

    assert store.reads == reads


async def test_before_its_first_poll_a_replica_reads_the_store_on_every_call(store: Store, b: Replica) -> None:
    session_id = store.open_session("ses-1")
    await b.check(session_id)
    reads = store.reads

    await b.check(session_id)

    assert store.reads == reads + 2


async def test_a_session_expired_by_time_is_refused_from_memory(store: Store, b: Replica, clock: Clock) -> None:
    session_id = store.open_session("ses-1")
    await b.poll()
    await b.check(session_id)
    reads = store.reads

    clock.now += timedelta(days=15)

    assert await b.refuses(session_id)
    assert store.reads == reads


# ------------------------------------------------------------------- changes, every replica


async def test_a_logout_on_one_replica_is_refused_there_at_once_and_by_the_other_at_its_next_poll(
    store: Store, a: Replica, b: Replica
) -> None:
    session_id = store.open_session("ses-1")
    for replica in (a, b):
        await replica.poll()
        await replica.check(session_id)

    await a.commands.logout(session_id, user_id=SAM)

    assert await a.refuses(session_id), "read-your-own-writes"
    await b.poll()
    assert await b.refuses(session_id)


async def test_a_removed_partner_and_a_password_change_reach_every_replica(
    store: Store, a: Replica, b: Replica
) -> None:
    this_device, other_device = store.open_session("ses-1"), store.open_session("ses-2")
    for replica in (a, b):
        await replica.poll()
        for session_id in (this_device, other_device):
            await replica.check(session_id, "ptn-2")

    await a.commands.change_password(SAM, current=PASSWORD, new="a brand new passphrase", session_id=this_device)
    await b.poll()

    for replica in (a, b):
        assert await replica.refuses(other_device, "ptn-2"), "the other sessions end"
        assert not await replica.refuses(this_device, "ptn-2"), "this session goes on"

    await a.commands._users.update(SAM, {"partner_ids": ("ptn-1",)})  # an admin's change
    await b.poll()

    for replica in (a, b):
        assert await replica.refuses(this_device, "ptn-2")
        assert not await replica.refuses(this_device, "ptn-1")


async def test_a_change_recorded_before_its_write_keeps_the_key_out_of_memory_until_the_write_lands(
    store: Store, log: FakeChangeLog, b: Replica
) -> None:
    """A writer that crashed between its record and its write, or whose write is slow, leaves no
    replica with the old grant in memory."""
    session_id = store.open_session("ses-1")
    await b.poll()
    await b.check(session_id)
    await log.record(AccessChange("acc-1", "session_ended", None, session_id, NOW))  # ... the write not yet done
    await b.poll()
    assert not await b.refuses(session_id)  # from the store: still open

    store.sessions[session_id] = replace(store.sessions[session_id], revoked_at=NOW)  # the write lands, unannounced

    assert await b.refuses(session_id)


# ------------------------------------------------------------------------------- fail safe


async def test_a_replica_whose_feed_stalls_reads_the_store_once_past_the_bound(
    store: Store, log: FakeChangeLog, b: Replica
) -> None:
    session_id = store.open_session("ses-1")
    await b.poll()
    await b.check(session_id)
    log.stalled = True
    await b.poll()  # fails: the memory is still within the bound ...
    reads = store.reads
    await b.check(session_id)
    assert store.reads == reads

    b.monotonic.now += BOUND + 0.01  # ... and then no longer
    store.sessions[session_id] = replace(store.sessions[session_id], revoked_at=NOW)  # a change it cannot learn of

    assert await b.refuses(session_id)
    assert store.reads == reads + 2

    log.stalled = False
    await b.poll()
    reads = store.reads
    assert await b.refuses(session_id)
    assert store.reads == reads, "current again: from memory (what the store said while stalled is kept)"


async def test_a_feed_silent_longer_than_the_log_keeps_changes_starts_afresh(store: Store, b: Replica) -> None:
    session_id = store.open_session("ses-1")
    await b.poll()
    await b.check(session_id)
    b.monotonic.now += 120  # the log may have dropped what this replica missed

    await b.poll()
    reads = store.reads
    await b.check(session_id)

    assert store.reads == reads + 2


# ------------------------------------------------------------------------------ the memory


def test_a_store_read_that_began_before_a_change_is_not_kept() -> None:
    cache = AccessCache(monotonic=Monotonic())
    session = Session("ses-1", SAM, "ptn-1", "hash", NOW + timedelta(days=1), NOW)
    epoch = cache.epoch

    cache.forget(session_id="ses-1")
    cache.keep(epoch=epoch, session=session)

    assert cache.session("ses-1") is None


def test_a_user_change_forgets_the_user_and_all_their_sessions() -> None:
    cache = AccessCache(monotonic=Monotonic())
    sessions = [Session(f"ses-{n}", SAM, "ptn-1", "hash", NOW + timedelta(days=1), NOW) for n in (1, 2)]
    user = User(SAM, "sam@vendor.example", "Sam", "staff", ("ptn-1",), "v2$x")
    for session in sessions:
        cache.keep(epoch=cache.epoch, session=session, user=user)

    cache.forget(user_id=SAM)

    assert (cache.user(SAM), cache.session("ses-1"), cache.session("ses-2")) == (None, None, None)


async def test_a_session_this_replica_opens_is_in_its_memory_at_once() -> None:
    cache = AccessCache(monotonic=Monotonic())
    sessions = AnnouncedSessions(FakeSessions(Store()), AccessAnnouncer(FakeChangeLog(), cache))
    session = Session("ses-1", SAM, "ptn-1", "hash", NOW + timedelta(days=1), NOW)

    await sessions.add(session)

    assert cache.session("ses-1") == session


async def test_every_change_is_recorded_before_and_after_its_write(
    store: Store, log: FakeChangeLog, a: Replica
) -> None:
    session_id = store.open_session("ses-1")

    await a.commands.logout(session_id, user_id=SAM)

    assert [(c.kind, c.session_id) for c in log.changes] == [("session_ended", session_id)] * 2
    assert len({c.id for c in log.changes}) == 2


async def test_the_log_is_pruned_to_its_retention(log: FakeChangeLog, a: Replica, clock: Clock) -> None:
    await log.record(AccessChange("acc-old", "user_changed", SAM, None, NOW - timedelta(minutes=2)))
    await log.record(AccessChange("acc-new", "user_changed", SAM, None, NOW))
    feed = a.use_cases.access_feed
    assert feed is not None

    assert await feed.prune() == 1
    assert [c.id for c in log.changes] == ["acc-new"]
