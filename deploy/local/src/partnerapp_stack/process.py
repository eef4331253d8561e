"""Server processes the stack starts and stops through PID files, and the steps around them."""

from __future__ import annotations

import hashlib
import os
import pwd
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from partnerapp_stack.config import CACHE, ROOT


class StepFailed(RuntimeError):
    def __init__(self, step: str, detail: str, log: Path | None = None) -> None:
        tail = ""
        if log and log.exists():
            lines = log.read_text(errors="replace").splitlines()[-40:]
            tail = (
                f"\n--- last lines of {log.relative_to(ROOT) if log.is_relative_to(ROOT) else log} ---\n"
                + "\n".join(lines)
            )
        super().__init__(f"step '{step}' failed: {detail}{tail}")


def say(message: str) -> None:
    print(f"[stack] {message}", flush=True)


@dataclass(frozen=True)
class Managed:
    """A server process the stack starts and stops through its PID file."""

    name: str
    pid_file: Path
    log_file: Path
    marker: str  # a string its command line must contain, so a reused PID is never touched
    stop_signal: signal.Signals = signal.SIGTERM

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except FileNotFoundError:
            return None
        # An empty command line is a process between fork and exec (the java launcher re-execs
        # itself): still ours. A different one means the PID was reused: not ours.
        if cmdline and self.marker not in cmdline:
            return None
        state = process_state(pid)  # a zombie left by our own exit is not alive
        return None if state in (None, "Z") else pid

    def start(
        self,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,  # run as this system user (needs root)
    ) -> int:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            log.write(f"\n===== start {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(argv)}\n".encode())
            log.flush()
            process = subprocess.Popen(
                list(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=cwd,
                env={**os.environ, **(env or {})},
                start_new_session=True,  # outlives the command that started it; stopped by `down`
                user=user,
                group=pwd.getpwnam(user).pw_gid if user else None,
                extra_groups=[] if user else None,
            )
        self.pid_file.write_text(str(process.pid))
        return process.pid

    def stop(self, *, timeout: float = 20.0) -> bool:
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, self.stop_signal)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.pid() is not None:
            time.sleep(0.2)
        if self.pid() is not None:
            os.kill(pid, signal.SIGKILL)
            while self.pid() is not None:
                time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
        return True


def process_state(pid: int) -> str | None:
    """The state letter of a process (`Z`: a zombie), None when there is no such process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (FileNotFoundError, IndexError):
        return None


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_until(step: str, check: Callable[[], bool], *, timeout: float, process: Managed | None = None) -> None:
    deadline = time.monotonic() + timeout
    last_error = "not ready"
    while time.monotonic() < deadline:
        if process is not None and process.pid() is None:
            raise StepFailed(step, f"{process.name} exited during start-up", process.log_file)
        try:
            if check():
                return
        except Exception as exc:  # keep polling until the deadline; report the last reason
            last_error = f"{type(exc).__name__}: {exc}"
        time.sleep(0.5)
    raise StepFailed(step, f"not ready after {timeout:.0f}s ({last_error})", process.log_file if process else None)


def run_tool(
    step: str,
    argv: Sequence[str],
    *,
    cwd: Path,
    log: Path,
    env: dict[str, str] | None = None,
    user: str | None = None,  # run as this system user (needs root)
) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    say(f"{step}: {' '.join(argv[:3])} ... (output in {log.relative_to(CACHE.parent)})")
    with log.open("wb") as out:
        result = subprocess.run(
            list(argv),
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            check=False,
            user=user,
            group=pwd.getpwnam(user).pw_gid if user else None,
            extra_groups=[] if user else None,
        )
    if result.returncode != 0:
        raise StepFailed(step, f"exit code {result.returncode}", log)


def fingerprint(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]
