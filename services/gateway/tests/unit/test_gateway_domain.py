"""The gateway's domain rules (users, password policy, login lockout, refresh tokens and sessions)
and its per-process rate limiter: pure logic, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.domain import rate_limit
from gateway.domain.model import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    AuthError,
    LoginGuard,
    RefreshToken,
    Session,
    User,
    WeakPassword,
    check_password_policy,
    hash_secret,
)
from gateway.domain.rate_limit import RateLimiter
from servicekit.errors import PartnerNotAllowed
from servicekit.i18n import FIELD_MESSAGES

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
LOCKOUT = timedelta(minutes=15)
EMAIL = "ana.lopez@example.com"


def user(partner_ids: tuple[str, ...] = ("ptn-1", "ptn-2")) -> User:
    return User(
        id="usr-ana",
        email=EMAIL,
        name="Ana",
        role="staff",
        partner_ids=partner_ids,
        password_hash="irrelevant",
    )


def session(secret: str, **overrides: object) -> Session:
    values: dict[str, object] = {
        "id": "ses_1",
        "user_id": "usr-ana",
        "partner_id": "ptn-1",
        "refresh_hash": hash_secret(secret),
        "expires_at": NOW + timedelta(days=14),
        "created_at": NOW,
    }
    values.update(overrides)
    return Session(**values)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ users


def test_acting_partner_defaults_to_the_first_associated_partner() -> None:
    assert user().acting_partner(None) == "ptn-1"


def test_acting_partner_is_the_requested_one_when_associated() -> None:
    assert user().acting_partner("ptn-2") == "ptn-2"


def test_acting_partner_refuses_a_partner_the_user_is_not_associated_with() -> None:
    with pytest.raises(PartnerNotAllowed):
        user().acting_partner("ptn-other")


# -------------------------------------------------------------------------- password policy


@pytest.mark.parametrize(
    "password",
    [
        "x" * (MIN_PASSWORD_LENGTH - 1),
        "x" * (MAX_PASSWORD_LENGTH + 1),
        "  ANA.Lopez@Example.com ",
    ],
    ids=["too-short", "too-long", "the-email-in-other-case"],
)
def test_password_policy_rejects_weak_passwords(password: str) -> None:
    with pytest.raises(WeakPassword) as refused:
        check_password_policy(password, email=EMAIL)
    spanish = FIELD_MESSAGES[f"password_{refused.value.rule}"]["es"]  # every rule is worded for Spanish readers too
    assert spanish.format(limit=refused.value.limit) != str(refused.value)


@pytest.mark.parametrize("length", [MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH])
def test_password_policy_accepts_the_length_bounds_without_composition_rules(length: int) -> None:
    check_password_policy("a" * length, email=EMAIL)  # no digit or symbol needed: length is what counts


# ------------------------------------------------------------------------------ login guard


def test_a_fresh_guard_is_not_locked() -> None:
    assert LoginGuard().locked(NOW) == 0


def test_failures_below_the_maximum_are_counted_without_locking() -> None:
    guard = LoginGuard()
    for expected in (1, 2, 3, 4):
        guard = guard.after_failure(NOW, max_failures=5, lockout=LOCKOUT)
        assert guard.failures == expected
        assert guard.locked(NOW) == 0


def test_the_failure_reaching_the_maximum_locks_for_the_lockout_and_resets_the_count() -> None:
    guard = LoginGuard(failures=4).after_failure(NOW, max_failures=5, lockout=LOCKOUT)

    assert guard == LoginGuard(failures=0, locked_until=NOW + LOCKOUT)
    assert guard.locked(NOW) == 15 * 60
    assert guard.locked(NOW + LOCKOUT - timedelta(seconds=1)) == 1


@pytest.mark.parametrize(
    ("left", "expected"),
    [(timedelta(milliseconds=200), 1), (timedelta(seconds=1, milliseconds=500), 2), (timedelta(seconds=30), 30)],
)
def test_locked_rounds_the_seconds_left_up(left: timedelta, expected: int) -> None:
    assert LoginGuard(locked_until=NOW + left).locked(NOW) == expected


def test_after_the_lock_ends_it_is_not_locked_and_failures_count_from_one_again() -> None:
    guard = LoginGuard(failures=3, locked_until=NOW)
    later = NOW + timedelta(seconds=1)

    assert guard.locked(NOW) == 0  # ends exactly at locked_until
    again = guard.after_failure(later, max_failures=5, lockout=LOCKOUT)
    assert again == LoginGuard(failures=1, locked_until=None)


# ---------------------------------------------------------------------------- refresh tokens


def test_a_new_refresh_token_round_trips_through_its_text() -> None:
    token = RefreshToken.new("ses_abc")
    text = str(token)

    assert text.startswith("prt_ses_abc.")
    assert RefreshToken.parse(text) == token


def test_new_refresh_tokens_have_distinct_unguessable_secrets() -> None:
    secrets = {RefreshToken.new("ses_abc").secret for _ in range(20)}
    assert len(secrets) == 20
    assert all(len(secret) >= 40 for secret in secrets)


@pytest.mark.parametrize(
    "text",
    ["", "ses_1.secret", "prt_ses_1", "prt_.secret", "prt_ses_1.", "prt_ses_1." + "s" * 200],
    ids=["empty", "no-prefix", "no-dot", "no-session", "no-secret", "too-long"],
)
def test_malformed_refresh_tokens_are_refused(text: str) -> None:
    with pytest.raises(AuthError):
        RefreshToken.parse(text)


# ---------------------------------------------------------------------------------- sessions


def test_the_current_refresh_secret_of_an_open_session_is_current() -> None:
    assert session("s0").check_refresh(RefreshToken("ses_1", "s0"), NOW) == "current"


def test_a_spent_secret_is_detected_as_replayed() -> None:
    rotated = session("s0").rotated(hash_secret("s1"), partner_id="ptn-1")

    assert rotated.check_refresh(RefreshToken("ses_1", "s0"), NOW) == "replayed"
    assert rotated.check_refresh(RefreshToken("ses_1", "s1"), NOW) == "current"


def test_an_unknown_secret_is_refused() -> None:
    with pytest.raises(AuthError, match="Invalid refresh token"):
        session("s0").check_refresh(RefreshToken("ses_1", "guessed"), NOW)


@pytest.mark.parametrize(
    "ended",
    [{"revoked_at": NOW - timedelta(minutes=1)}, {"expires_at": NOW}],
    ids=["revoked", "expired"],
)
def test_the_current_secret_of_an_ended_session_is_refused(ended: dict[str, object]) -> None:
    closed = session("s0", **ended)

    assert not closed.active(NOW)
    with pytest.raises(AuthError, match="ended"):
        closed.check_refresh(RefreshToken("ses_1", "s0"), NOW)


def test_rotation_replaces_the_hash_keeps_the_spent_one_and_switches_partner_without_mutating() -> None:
    original = session("s0")
    rotated = original.rotated(hash_secret("s1"), partner_id="ptn-2")

    assert rotated.refresh_hash == hash_secret("s1")
    assert rotated.spent_hashes == (hash_secret("s0"),)
    assert rotated.partner_id == "ptn-2"
    assert (rotated.id, rotated.user_id, rotated.expires_at) == (original.id, original.user_id, original.expires_at)
    assert original.refresh_hash == hash_secret("s0") and original.spent_hashes == ()


def test_rotation_remembers_only_the_last_twenty_spent_secrets() -> None:
    current = session("s0")
    for n in range(1, 22):
        current = current.rotated(hash_secret(f"s{n}"), partner_id="ptn-1")

    assert len(current.spent_hashes) == 20
    assert current.check_refresh(RefreshToken("ses_1", "s1"), NOW) == "replayed"
    with pytest.raises(AuthError):
        current.check_refresh(RefreshToken("ses_1", "s0"), NOW)  # forgotten: just invalid


# ------------------------------------------------------------------------------ rate limiter


def test_the_limiter_allows_up_to_the_limit_then_says_how_long_until_the_window_ends() -> None:
    limiter = RateLimiter(limit=3, window_seconds=60)

    assert [limiter.hit("key", 10.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.hit("key", 10.0) == 50
    assert limiter.hit("key", 59.2) == 1  # rounded up, never 0 while refused


def test_the_limiter_counts_again_from_zero_in_the_next_window() -> None:
    limiter = RateLimiter(limit=1, window_seconds=60)
    assert limiter.hit("key", 59.9) == 0.0
    assert limiter.hit("key", 59.95) > 0

    assert limiter.hit("key", 60.0) == 0.0
    assert limiter.hit("key", 61.0) == 59


def test_the_limiter_counts_each_key_on_its_own() -> None:
    limiter = RateLimiter(limit=1, window_seconds=10)
    assert limiter.hit("a", 1.0) == 0.0
    assert limiter.hit("b", 1.0) == 0.0
    assert limiter.hit("a", 1.0) == 9


def test_the_limiter_bounds_its_memory_under_a_flood_of_distinct_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rate_limit, "MAX_KEYS", 3)
    limiter = RateLimiter(limit=5, window_seconds=10)
    for n in range(10):
        limiter.hit(f"key-{n}", 1.0)

    assert len(limiter._windows) <= 3
