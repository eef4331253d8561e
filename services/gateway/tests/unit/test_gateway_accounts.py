"""The accounts use cases (login, refresh rotation, logout, per-call authentication, profile,
password, user creation) against in-memory fakes of the ports and a controllable clock: no I/O."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.domain.model import (
    AccountLocked,
    AuthError,
    Language,
    LoginGuard,
    RefreshToken,
    Session,
    SessionEnded,
    User,
    WeakPassword,
    hash_secret,
)
from gateway.service_layer.commands import LoginPolicy
from gateway.service_layer.ports import AuditRecord
from gateway.service_layer.testing import use_cases
from servicekit.errors import PartnerNotAllowed
from servicekit.principal import Principal

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
PASSWORD = "correct horse battery"
ANA = "usr-ana"  # partner user of ptn-1
SAM = "usr-sam"  # staff user of ptn-1 and ptn-2


# ---------------------------------------------------------------------- fakes of the ports


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class FakeUsers:
    """Finds by e-mail case-insensitively, like the Mongo repository (it stores e-mails lowercased)."""

    def __init__(self) -> None:
        self.by_id: dict[str, User] = {}
        self.updates: list[tuple[str, dict[str, Any]]] = []

    async def get(self, user_id: str) -> User | None:
        return self.by_id.get(user_id)

    async def by_email(self, email: str) -> User | None:
        wanted = email.strip().lower()
        return next((user for user in self.by_id.values() if user.email == wanted), None)

    async def add(self, user: User) -> bool:
        if user.id in self.by_id or await self.by_email(user.email) is not None:
            return False
        self.by_id[user.id] = user
        return True

    async def update(self, user_id: str, changes: Mapping[str, Any]) -> User | None:
        self.updates.append((user_id, dict(changes)))
        user = self.by_id.get(user_id)
        if user is None:
            return None
        values = dict(changes)
        if "language" in values:
            values["language"] = Language(values["language"])
        self.by_id[user_id] = replace(user, **values)
        return self.by_id[user_id]


class FakeSessions:
    def __init__(self) -> None:
        self.by_id: dict[str, Session] = {}
        self.yield_on_get = False

    async def add(self, session: Session) -> None:
        self.by_id[session.id] = session

    async def get(self, session_id: str) -> Session | None:
        found = self.by_id.get(session_id)
        if self.yield_on_get:
            await asyncio.sleep(0)  # lets concurrent callers read the same version
        return found

    async def rotate(self, session: Session, *, expected_hash: str) -> bool:
        stored = self.by_id.get(session.id)
        if stored is None or stored.refresh_hash != expected_hash or stored.revoked_at is not None:
            return False
        self.by_id[session.id] = replace(
            stored,
            refresh_hash=session.refresh_hash,
            spent_hashes=session.spent_hashes,
            partner_id=session.partner_id,
        )
        return True

    async def revoke(self, session_id: str, *, reason: str, at: datetime) -> None:
        stored = self.by_id.get(session_id)
        if stored is not None and stored.revoked_at is None:
            self.by_id[session_id] = replace(stored, revoked_at=at, revoked_reason=reason)

    async def revoke_user(self, user_id: str, *, reason: str, at: datetime, keep: str | None = None) -> int:
        ids = [s.id for s in self.by_id.values() if s.user_id == user_id and s.revoked_at is None and s.id != keep]
        for session_id in ids:
            await self.revoke(session_id, reason=reason, at=at)
        return len(ids)


class FakeGuards:
    def __init__(self) -> None:
        self.by_key: dict[str, LoginGuard] = {}

    async def get(self, key: str) -> LoginGuard:
        return self.by_key.get(key, LoginGuard())

    async def put(self, key: str, guard: LoginGuard) -> None:
        self.by_key[key] = guard

    async def clear(self, key: str) -> None:
        self.by_key.pop(key, None)


class FakeHasher:
    """`v2$<password>`; anything else is an outdated hash that verifies but needs rehashing."""

    def __init__(self) -> None:
        self.verified: list[str] = []

    def hash(self, password: str) -> str:
        return f"v2${password}"

    def verify(self, password_hash: str, password: str) -> bool:
        self.verified.append(password_hash)
        return password_hash.partition("$")[2] == password

    def needs_rehash(self, password_hash: str) -> bool:
        return not password_hash.startswith("v2$")


class FakeTokens:
    ttl_seconds = 600

    def __init__(self) -> None:
        self.issued: list[tuple[Principal, str]] = []

    def issue(self, principal: Principal, *, session_id: str) -> str:
        self.issued.append((principal, session_id))
        return f"access-{len(self.issued)}"


class FakeAudit:
    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    async def record(self, entry: AuditRecord) -> None:
        self.records.append(entry)

    async def search(self, query: Any) -> Any:
        raise NotImplementedError

    def actions(self) -> list[str]:
        return [record.action for record in self.records]


class World:
    def __init__(self) -> None:
        self.clock = Clock()
        self.users = FakeUsers()
        self.sessions = FakeSessions()
        self.guards = FakeGuards()
        self.hasher = FakeHasher()
        self.tokens = FakeTokens()
        self.audit = FakeAudit()
        accounts = use_cases(
            users=self.users,
            sessions=self.sessions,
            guards=self.guards,
            hasher=self.hasher,
            tokens=self.tokens,
            audit=self.audit,
            policy=LoginPolicy(max_failures=3, lockout=timedelta(minutes=15), refresh_ttl=timedelta(days=14)),
            clock=self.clock,
        )
        self.commands, self.queries = accounts.commands, accounts.queries
        for user in (
            User(ANA, "ana@example.com", "Ana", "partner", ("ptn-1",), f"v2${PASSWORD}"),
            User(SAM, "sam@vendor.example", "Sam", "staff", ("ptn-1", "ptn-2"), f"v2${PASSWORD}"),
        ):
            self.users.by_id[user.id] = user

    def session_of(self, refresh_token: str) -> Session:
        return self.sessions.by_id[RefreshToken.parse(refresh_token).session_id]

    def principal(self, user_id: str, partner_id: str, role: str = "partner") -> Principal:
        return Principal(user_id=user_id, role=role, partner_id=partner_id)  # type: ignore[arg-type]


@pytest.fixture
def world() -> World:
    return World()


async def login(world: World, email: str = "ana@example.com", password: str = PASSWORD, partner: str | None = None):
    return await world.commands.login(email, password, partner_id=partner, client="10.0.0.1")


# ----------------------------------------------------------------------------------- login


async def test_login_opens_a_session_and_issues_tokens_for_the_acting_partner(world: World) -> None:
    tokens = await login(world, email="  ANA@Example.com ")

    session = world.session_of(tokens.refresh_token)
    assert (session.user_id, session.partner_id) == (ANA, "ptn-1")
    assert session.expires_at == NOW + timedelta(days=14)
    assert session.refresh_hash == hash_secret(RefreshToken.parse(tokens.refresh_token).secret)
    assert (tokens.partner_id, tokens.user.id, tokens.expires_in) == ("ptn-1", ANA, 600)
    principal, session_id = world.tokens.issued[-1]
    assert (principal.user_id, principal.role, principal.partner_id, session_id) == (
        ANA,
        "partner",
        "ptn-1",
        session.id,
    )
    assert (principal.name, principal.language) == ("Ana", "es")  # the OIDC `name` and `locale` claims
    assert world.audit.records[-1].action == "login"
    assert world.audit.records[-1].target_id == session.id
    assert world.audit.records[-1].client == "10.0.0.1"


async def test_a_staff_user_may_log_in_acting_for_another_associated_partner(world: World) -> None:
    tokens = await login(world, email="sam@vendor.example", partner="ptn-2")

    assert tokens.partner_id == "ptn-2"
    assert world.tokens.issued[-1][0].partner_ids == frozenset({"ptn-1", "ptn-2"})


async def test_login_for_a_partner_not_associated_is_refused_without_a_session(world: World) -> None:
    with pytest.raises(PartnerNotAllowed):
        await login(world, partner="ptn-2")
    assert world.sessions.by_id == {}


@pytest.mark.parametrize(
    ("email", "password"),
    [("ana@example.com", "wrong password!"), ("nobody@example.com", PASSWORD)],
    ids=["wrong-password", "unknown-email"],
)
async def test_a_failed_login_says_the_same_whatever_was_wrong(world: World, email: str, password: str) -> None:
    with pytest.raises(AuthError) as refused:
        await login(world, email=email, password=password)

    assert type(refused.value) is AuthError
    assert str(refused.value) == "Wrong e-mail or password."
    assert world.audit.records[-1].action == "login.failed" and world.audit.records[-1].status == 401
    assert world.sessions.by_id == {}


async def test_an_unknown_email_is_checked_against_a_decoy_hash(world: World) -> None:
    world.hasher.verified.clear()
    with pytest.raises(AuthError):
        await login(world, email="nobody@example.com", password=PASSWORD)

    assert world.hasher.verified == [world.hasher.hash("decoy-password-never-valid")]


async def test_a_disabled_user_cannot_log_in_even_with_the_right_password(world: World) -> None:
    world.users.by_id[ANA] = replace(world.users.by_id[ANA], active=False)

    with pytest.raises(AuthError):
        await login(world)
    assert world.audit.records[-1].user_id == ANA and world.audit.records[-1].action == "login.failed"


async def test_repeated_failures_lock_the_email_even_against_the_right_password(world: World) -> None:
    for email in ("ana@example.com", "ANA@example.com"):  # the same address whatever its case
        with pytest.raises(AuthError):
            await login(world, email=email, password="wrong password!")
    with pytest.raises(AccountLocked) as locked:
        await login(world, password="wrong password!")
    assert locked.value.retry_after_seconds == 15 * 60

    world.clock.advance(timedelta(minutes=5))
    world.hasher.verified.clear()
    with pytest.raises(AccountLocked) as still:
        await login(world)
    assert still.value.retry_after_seconds == 10 * 60
    assert world.hasher.verified == []  # refused before any password check
    assert world.audit.records[-1].action == "login.locked" and world.audit.records[-1].status == 429


async def test_the_lock_ends_after_the_lockout(world: World) -> None:
    for _ in range(3):
        with pytest.raises(AuthError):
            await login(world, password="wrong password!")

    world.clock.advance(timedelta(minutes=15))
    tokens = await login(world)
    assert tokens.user.id == ANA


async def test_an_unknown_email_is_locked_too_so_lockout_reveals_nothing(world: World) -> None:
    for _ in range(2):
        with pytest.raises(AuthError):
            await login(world, email="nobody@example.com")
    with pytest.raises(AccountLocked):
        await login(world, email="nobody@example.com")


async def test_a_successful_login_clears_the_failure_count(world: World) -> None:
    for _ in range(2):
        with pytest.raises(AuthError):
            await login(world, password="wrong password!")
    await login(world)

    for _ in range(2):
        with pytest.raises(AuthError) as refused:
            await login(world, password="wrong password!")
        assert not isinstance(refused.value, AccountLocked)


async def test_an_outdated_hash_is_upgraded_at_a_successful_login(world: World) -> None:
    world.users.by_id[ANA] = replace(world.users.by_id[ANA], password_hash=f"v1${PASSWORD}")

    await login(world)

    assert world.users.by_id[ANA].password_hash == f"v2${PASSWORD}"


# --------------------------------------------------------------------------------- refresh


async def test_refresh_rotates_the_token_and_keeps_the_session(world: World) -> None:
    first = await login(world)
    world.clock.advance(timedelta(minutes=10))

    second = await world.commands.refresh(first.refresh_token)

    assert second.refresh_token != first.refresh_token
    assert RefreshToken.parse(second.refresh_token).session_id == RefreshToken.parse(first.refresh_token).session_id
    assert world.tokens.issued[-1][1] == world.session_of(first.refresh_token).id
    third = await world.commands.refresh(second.refresh_token)
    assert third.partner_id == "ptn-1"


async def test_replaying_a_spent_refresh_token_closes_the_whole_session(world: World) -> None:
    first = await login(world)
    second = await world.commands.refresh(first.refresh_token)

    with pytest.raises(SessionEnded):
        await world.commands.refresh(first.refresh_token)

    session = world.session_of(first.refresh_token)
    assert session.revoked_at == NOW and session.revoked_reason == "refresh token replayed"
    assert world.audit.records[-1].action == "refresh.replayed" and world.audit.records[-1].user_id == ANA
    with pytest.raises(AuthError):
        await world.commands.refresh(second.refresh_token)  # the thief's (or the user's) fresh one is dead too


async def test_refresh_may_switch_the_acting_partner_and_the_switch_sticks(world: World) -> None:
    first = await login(world, email="sam@vendor.example")

    switched = await world.commands.refresh(first.refresh_token, partner_id="ptn-2")
    kept = await world.commands.refresh(switched.refresh_token)

    assert (switched.partner_id, kept.partner_id) == ("ptn-2", "ptn-2")
    assert world.session_of(first.refresh_token).partner_id == "ptn-2"


async def test_refresh_to_a_partner_not_associated_is_refused_and_the_token_stays_usable(world: World) -> None:
    first = await login(world)

    with pytest.raises(PartnerNotAllowed):
        await world.commands.refresh(first.refresh_token, partner_id="ptn-2")
    assert (await world.commands.refresh(first.refresh_token)).partner_id == "ptn-1"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda text: "not-a-token",
        lambda text: text.replace("prt_ses_", "prt_ses_x"),  # unknown session
        lambda text: text[:-4] + "AAAA",  # wrong secret
    ],
    ids=["malformed", "unknown-session", "wrong-secret"],
)
async def test_refresh_with_an_invalid_token_is_refused_without_closing_the_session(world: World, tamper) -> None:
    first = await login(world)

    with pytest.raises(AuthError):
        await world.commands.refresh(tamper(first.refresh_token))
    assert world.session_of(first.refresh_token).revoked_at is None


async def test_refresh_after_the_session_expired_is_refused(world: World) -> None:
    first = await login(world)
    world.clock.advance(timedelta(days=14))

    with pytest.raises(AuthError, match="ended"):
        await world.commands.refresh(first.refresh_token)


async def test_refresh_of_a_disabled_user_is_refused(world: World) -> None:
    first = await login(world)
    world.users.by_id[ANA] = replace(world.users.by_id[ANA], active=False)

    with pytest.raises(SessionEnded):
        await world.commands.refresh(first.refresh_token)


async def test_two_concurrent_refreshes_of_one_token_have_one_winner(world: World) -> None:
    first = await login(world)
    world.sessions.yield_on_get = True

    results = await asyncio.gather(
        world.commands.refresh(first.refresh_token), world.commands.refresh(first.refresh_token), return_exceptions=True
    )

    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1 and len(losers) == 1
    assert type(losers[0]) is AuthError and "concurrently" in str(losers[0])
    assert world.session_of(first.refresh_token).refresh_hash == hash_secret(
        RefreshToken.parse(winners[0].refresh_token).secret
    )


# ---------------------------------------------------------------------------------- logout


async def test_logout_closes_the_callers_session(world: World) -> None:
    tokens = await login(world)
    session_id = world.session_of(tokens.refresh_token).id

    await world.commands.logout(session_id, user_id=ANA)

    assert world.sessions.by_id[session_id].revoked_reason == "logout"
    with pytest.raises(AuthError):
        await world.commands.refresh(tokens.refresh_token)


async def test_logout_of_someone_elses_session_does_nothing(world: World) -> None:
    tokens = await login(world)
    session_id = world.session_of(tokens.refresh_token).id

    await world.commands.logout(session_id, user_id=SAM)

    assert world.sessions.by_id[session_id].revoked_at is None


# ---------------------------------------------------------------------------- authenticate


async def test_authenticate_returns_the_principal_with_the_users_current_partners(world: World) -> None:
    tokens = await login(world, email="sam@vendor.example")
    session_id = world.session_of(tokens.refresh_token).id

    principal = await world.queries.authenticate({"sid": session_id}, world.principal(SAM, "ptn-1", "staff"))

    # Name and language as the user's now (OIDC `name`/`locale`), whatever the token said.
    assert principal == Principal(SAM, "staff", "ptn-1", frozenset({"ptn-1", "ptn-2"}), name="Sam", language="es")


@pytest.mark.parametrize(
    "change",
    ["no-sid", "logged-out", "expired", "other-users-session", "partner-removed", "role-changed", "disabled"],
)
async def test_authenticate_refuses_once_the_session_or_the_association_is_gone(world: World, change: str) -> None:
    tokens = await login(world, email="sam@vendor.example")
    session_id = world.session_of(tokens.refresh_token).id
    claims: dict[str, Any] = {"sid": session_id}
    principal = world.principal(SAM, "ptn-2", "staff")
    sam = world.users.by_id[SAM]
    if change == "no-sid":
        claims = {}
    elif change == "logged-out":
        await world.commands.logout(session_id, user_id=SAM)
    elif change == "expired":
        world.clock.advance(timedelta(days=15))
    elif change == "other-users-session":
        principal = world.principal(ANA, "ptn-1")
    elif change == "partner-removed":
        world.users.by_id[SAM] = replace(sam, partner_ids=("ptn-1",))
    elif change == "role-changed":
        world.users.by_id[SAM] = replace(sam, role="partner")
    elif change == "disabled":
        world.users.by_id[SAM] = replace(sam, active=False)

    with pytest.raises(SessionEnded):
        await world.queries.authenticate(claims, principal)


# ------------------------------------------------------------------------- profile, password


async def test_update_profile_changes_only_what_was_given_and_stamps_the_time(world: World) -> None:
    world.clock.advance(timedelta(hours=1))

    updated = await world.commands.update_profile(ANA, name="Ana María", phone=None, language=Language.EN)

    assert (updated.name, updated.language, updated.email) == ("Ana María", Language.EN, "ana@example.com")
    assert updated.updated_at == NOW + timedelta(hours=1)


async def test_update_profile_with_an_empty_phone_clears_it(world: World) -> None:
    world.users.by_id[ANA] = replace(world.users.by_id[ANA], phone="+34 600 000 000")

    updated = await world.commands.update_profile(ANA, name=None, phone="", language=None)

    assert updated.phone is None


async def test_update_profile_without_changes_writes_nothing(world: World) -> None:
    same = await world.commands.update_profile(ANA, name=None, phone=None, language=None)

    assert same == world.users.by_id[ANA]
    assert world.users.updates == []


async def test_change_password_ends_every_other_session_and_swaps_the_password(world: World) -> None:
    here = world.session_of((await login(world)).refresh_token).id
    elsewhere = world.session_of((await login(world)).refresh_token).id

    await world.commands.change_password(ANA, current=PASSWORD, new="a brand new passphrase", session_id=here)

    assert world.sessions.by_id[here].revoked_at is None
    assert world.sessions.by_id[elsewhere].revoked_reason == "password changed"
    with pytest.raises(AuthError):
        await login(world)
    assert (await login(world, password="a brand new passphrase")).user.id == ANA


@pytest.mark.parametrize(
    ("current", "new", "error"),
    [("wrong password!", "a brand new passphrase", AuthError), (PASSWORD, "short", WeakPassword)],
    ids=["wrong-current", "weak-new"],
)
async def test_change_password_refused_changes_nothing(world: World, current: str, new: str, error: type) -> None:
    session_id = world.session_of((await login(world)).refresh_token).id

    with pytest.raises(error):
        await world.commands.change_password(ANA, current=current, new=new, session_id=None)

    assert world.users.by_id[ANA].password_hash == f"v2${PASSWORD}"
    assert world.sessions.by_id[session_id].revoked_at is None


# ----------------------------------------------------------------------------- create user


async def test_create_user_stores_a_normalised_email_and_only_a_hash(world: World) -> None:
    created = await world.commands.create_user(
        user_id="usr-eva",
        email=" Eva@Example.COM ",
        name="Eva",
        role="partner",
        partner_ids=("ptn-3",),
        password=PASSWORD,
    )

    eva = world.users.by_id["usr-eva"]
    assert created is True
    assert (eva.email, eva.role, eva.partner_ids, eva.created_at) == ("eva@example.com", "partner", ("ptn-3",), NOW)
    assert eva.password_hash == world.hasher.hash(PASSWORD)


async def test_create_user_is_idempotent_on_an_existing_email(world: World) -> None:
    created = await world.commands.create_user(
        user_id="usr-ana-2",
        email="ANA@example.com",
        name="Ana",
        role="partner",
        partner_ids=("ptn-1",),
        password=PASSWORD,
    )

    assert created is False
    assert "usr-ana-2" not in world.users.by_id


@pytest.mark.parametrize(
    ("role", "partner_ids"),
    [("partner", ("ptn-1", "ptn-2")), ("partner", ()), ("staff", ()), ("admin", ("ptn-1",))],
    ids=["partner-with-two", "partner-with-none", "staff-with-none", "unknown-role"],
)
async def test_create_user_refuses_an_impossible_role_or_partner_set(
    world: World, role: str, partner_ids: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError, match="partner"):
        await world.commands.create_user(
            user_id="usr-x", email="x@example.com", name="X", role=role, partner_ids=partner_ids, password=PASSWORD
        )
    assert "usr-x" not in world.users.by_id


async def test_create_user_refuses_a_weak_password(world: World) -> None:
    with pytest.raises(WeakPassword):
        await world.commands.create_user(
            user_id="usr-x", email="x@example.com", name="X", role="staff", partner_ids=("ptn-1",), password="short"
        )
