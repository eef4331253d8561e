"""Where the local stack puts PostgreSQL's data: under the cache, unless the server's user
cannot enter the cache (root runs the server as `postgres`)."""

from __future__ import annotations

import pwd
from pathlib import Path

import pytest

from partnerapp_stack import postgres

pytestmark = pytest.mark.unit


def as_root_with_a_postgres_user(monkeypatch: pytest.MonkeyPatch, home: Path, *, uid: int = 54321) -> None:
    # By default a uid and gid that own nothing here: the user enters only what is open to others.
    entry = pwd.struct_passwd(("postgres", "x", uid, uid, "", str(home), "/bin/sh"))
    monkeypatch.setattr(postgres.os, "geteuid", lambda: 0)
    monkeypatch.setattr(postgres.pwd, "getpwnam", lambda name: entry)


def test_a_non_root_user_keeps_the_server_under_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres.os, "geteuid", lambda: 1000)
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    assert postgres.server_dir(closed / ".cache") == closed / ".cache" / "postgres"


def test_as_root_a_cache_the_postgres_user_can_enter_holds_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The user owns the directories above the cache (as the test's own user does).
    as_root_with_a_postgres_user(monkeypatch, tmp_path / "home", uid=tmp_path.stat().st_uid)
    assert postgres.server_dir(tmp_path / ".cache") == tmp_path / ".cache" / "postgres"


def test_as_root_a_closed_cache_sends_the_server_to_the_users_home_one_per_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    as_root_with_a_postgres_user(monkeypatch, home)
    closed = tmp_path / "root"
    closed.mkdir(mode=0o700)

    first, second = postgres.server_dir(closed / "a" / ".cache"), postgres.server_dir(closed / "b" / ".cache")

    assert first.parent == second.parent == home / "partnerapp"
    assert first != second
    assert postgres.server_dir(closed / "a" / ".cache") == first
