"""PostgreSQL, FerretDB's default backend: Debian's server binaries, data and socket under the cache."""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import signal
import subprocess
from pathlib import Path

from partnerapp_stack.config import CACHE, POSTGRES_PORT
from partnerapp_stack.process import Managed, StepFailed, port_open, process_state, run_tool, say, wait_until

POSTGRES_DIR = CACHE / "postgres"  # PID file and logs, always


def _traversable(directory: Path, uid: int, gid: int) -> bool:
    info = directory.stat()
    if info.st_uid == uid:
        return bool(info.st_mode & 0o100)
    if info.st_gid == gid:
        return bool(info.st_mode & 0o010)
    return bool(info.st_mode & 0o001)


def server_dir(cache: Path) -> Path:
    """Where the server's data and socket directories go: `<cache>/postgres`, unless the server must
    run as the `postgres` user (we are root) and that user cannot enter the cache (e.g. a clone
    under /root); then a directory of this cache's own under that user's home."""
    own = cache / "postgres"
    if os.geteuid() != 0:
        return own
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        return own  # `up` names the missing user
    existing = next(path for path in (cache, *cache.parents) if path.exists())
    if all(_traversable(path, entry.pw_uid, entry.pw_gid) for path in (existing, *existing.parents)):
        return own
    return Path(entry.pw_dir) / "partnerapp" / hashlib.sha256(str(cache).encode()).hexdigest()[:12]


SERVER_DIR = server_dir(CACHE)
POSTGRES_DATA = SERVER_DIR / "data"
POSTGRES_SOCKETS = SERVER_DIR / "run"  # its unix socket, so it never touches /var/run/postgresql
POSTGRES_DB = "ferretdb"
POSTGRES = Managed(
    "postgres",
    POSTGRES_DIR / "postgres.pid",
    POSTGRES_DIR / "postgres.log",
    f"-D {POSTGRES_DATA}",
    stop_signal=signal.SIGINT,  # "fast" shutdown: does not wait for clients to disconnect
)


# glibc raises its mmap threshold (to 32 MB) after the first large block is freed, and its trim
# threshold to twice that: from then on a backend's large query buffers come from its heap and are
# kept after the query. Backends live as long as FerretDB's pool, so their private memory crept up
# for as long as the soak ran (+8 % after warm-up in an 8-minute soak with 16 of them, +2 % with
# these thresholds; memory contexts showed ~5 MB of ~9 MB in use). Fixed thresholds give such
# blocks back when they are freed.
FIXED_MALLOC_THRESHOLDS = {"MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_TRIM_THRESHOLD_": "262144"}


def bindir() -> Path:
    """The directory of `initdb` and `postgres`: `pg_config --bindir`, else the newest
    `/usr/lib/postgresql/*/bin` (preferring the version the data directory was made with)."""
    candidates: list[Path] = []
    made_with = POSTGRES_DATA / "PG_VERSION"
    if made_with.exists():
        candidates.append(Path("/usr/lib/postgresql") / made_with.read_text().strip() / "bin")
    if shutil.which("pg_config"):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False).stdout.strip()
        if found:
            candidates.append(Path(found))
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "postgres").exists():
            return candidate
    raise StepFailed(
        "postgres: find server binaries",
        "initdb and postgres not found (pg_config --bindir, /usr/lib/postgresql/*/bin); "
        "install Debian's `postgresql` package (apt-get install postgresql)",
    )


def _version_key(binaries: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in binaries.parent.name.split(".") if part.isdigit())


def system_user() -> str | None:
    """initdb and postgres refuse to run as root: as root they run as the `postgres` system user."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise StepFailed(
            "postgres: system user",
            "as root, PostgreSQL runs as the `postgres` user, which does not exist; "
            "install Debian's `postgresql` package (it creates the user)",
        ) from None
    return "postgres"


def _owned_by(path: Path, user: str | None, *, mode: int) -> None:
    """Create `path` (if missing) for `user`: PostgreSQL must own its data and socket directories."""
    path.mkdir(parents=True, exist_ok=True)
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)
        unreachable = [parent for parent in path.parents if not _traversable(parent, entry.pw_uid, entry.pw_gid)]
        if unreachable:
            raise StepFailed(
                "postgres: directories",
                f"the {user} user cannot enter {unreachable[0]}; "
                "point PARTNERAPP_CACHE_DIR at a directory it can reach (e.g. under /tmp)",
            )
    path.chmod(mode)


def init(binaries: Path, user: str | None) -> None:
    if (POSTGRES_DATA / "PG_VERSION").exists():
        return
    staging = POSTGRES_DATA.with_name(POSTGRES_DATA.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    _owned_by(staging, user, mode=0o700)
    # Trust authentication, no password: acceptable only because this is a local development and
    # benchmark server that listens on 127.0.0.1 and on a socket inside the cache directory.
    argv = [
        str(binaries / "initdb"), "-D", str(staging), "-A", "trust", "-U", "postgres",
        "-E", "UTF8", "--locale=C", "--no-instructions",
    ]  # fmt: skip
    run_tool("postgres: initdb (once)", argv, cwd=SERVER_DIR, log=POSTGRES_DIR / "initdb.log", user=user)
    staging.rename(POSTGRES_DATA)


def up() -> None:
    if POSTGRES.pid() is None and port_open(POSTGRES_PORT):
        say(f"postgres: something already listens on {POSTGRES_PORT}; using it as is")
    elif POSTGRES.pid() is None:
        binaries, user = bindir(), system_user()
        relocated = () if SERVER_DIR == POSTGRES_DIR else (SERVER_DIR.parent,)
        for directory in (POSTGRES_DIR, *relocated, SERVER_DIR):
            directory.mkdir(parents=True, exist_ok=True)
            directory.chmod(0o755)  # whatever the umask: the server's user must enter it
        init(binaries, user)
        _previous_postmaster_reaped()
        _owned_by(POSTGRES_SOCKETS, user, mode=0o700)
        argv = [
            str(binaries / "postgres"), "-D", str(POSTGRES_DATA), "-p", str(POSTGRES_PORT),
            "-k", str(POSTGRES_SOCKETS), "-c", "listen_addresses=127.0.0.1",
        ]  # fmt: skip
        POSTGRES.start(argv, cwd=SERVER_DIR, user=user, env=FIXED_MALLOC_THRESHOLDS)
        say(f"postgres: started (pid {POSTGRES.pid()}), waiting for 127.0.0.1:{POSTGRES_PORT}")
    wait_until(
        "postgres: accepting connections",
        lambda: psql("SELECT 1") == "1",
        timeout=60,
        process=POSTGRES if POSTGRES.pid() else None,
    )
    try:
        created = psql(f"SELECT 1 FROM pg_database WHERE datname = '{POSTGRES_DB}'") != "1"  # noqa: S608 (a constant)
        if created:
            psql(f'CREATE DATABASE "{POSTGRES_DB}"')
    except RuntimeError as exc:
        raise StepFailed(f"postgres: create database {POSTGRES_DB}", str(exc), POSTGRES.log_file) from exc
    say(f"postgres: ready on 127.0.0.1:{POSTGRES_PORT} (database {POSTGRES_DB}{' created' if created else ''})")


def _previous_postmaster_reaped() -> None:
    """After a SIGKILL, `postmaster.pid` still names the old server, and PostgreSQL refuses to start
    while that PID exists, even as a zombie its new parent (PID 1) has not reaped yet: wait for it."""
    try:
        old = int((POSTGRES_DATA / "postmaster.pid").read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return
    wait_until("postgres: previous server reaped", lambda: process_state(old) != "Z", timeout=30)


def psql(sql: str) -> str:
    """One statement through psql as the superuser; its output, trimmed."""
    argv = [
        shutil.which("psql") or str(bindir() / "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
        "-h", "127.0.0.1", "-p", str(POSTGRES_PORT), "-U", "postgres", "-d", "postgres", "-c", sql,
    ]  # fmt: skip
    result = subprocess.run(
        argv, capture_output=True, text=True, env={**os.environ, "PGCONNECT_TIMEOUT": "5"}, timeout=30, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip() or f"psql exit code {result.returncode}")
    return result.stdout.strip()
