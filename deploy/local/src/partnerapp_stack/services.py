"""The five services as processes (`python -m <service>`; activity as two, its ingest and consumer
roles), their environment and token keys."""

from __future__ import annotations

import functools
import sys
import urllib.error
import urllib.request
from pathlib import Path

from partnerapp_stack.config import (
    KAFKA_BOOTSTRAP,
    KEYS_DIR,
    MONGO_PORT,
    PROCESSES,
    ROOT,
    RUN_DIR,
    WEB_DIST,
    ServiceProcess,
)
from partnerapp_stack.process import Managed, say, wait_until


def dev_keys(name: str = "dev") -> tuple[Path, Path]:
    """A development key pair (`dev`: access tokens; `impersonation`: panel tokens), generated on
    first use and never committed."""
    private, public = KEYS_DIR / f"{name}-private.pem", KEYS_DIR / f"{name}-public.pem"
    if not (private.exists() and public.exists()):
        from servicekit.auth import generate_key_pair

        KEYS_DIR.mkdir(parents=True, exist_ok=True)
        private_pem, public_pem = generate_key_pair()
        private.write_text(private_pem)
        private.chmod(0o600)
        public.write_text(public_pem)
    return private, public


SIMULATOR = Managed("simulator", RUN_DIR / "simulator.pid", RUN_DIR / "simulator.log", "activity.entrypoints.simulator")


def service_process(process: ServiceProcess) -> Managed:
    """The process's PID file and log are named after it; its command line names the service's
    module (both activity roles run `-m activity`)."""
    name = process.name
    return Managed(name, RUN_DIR / f"{name}.pid", RUN_DIR / f"{name}.log", f"-m {process.service}")


def service_env(process: ServiceProcess) -> dict[str, str]:
    _, public = dev_keys()
    name = process.service
    env = {
        "PARTNERAPP_KAFKA_BOOTSTRAP_SERVERS": KAFKA_BOOTSTRAP,
        "PARTNERAPP_MONGO_URL": f"mongodb://127.0.0.1:{MONGO_PORT}/",
        "PARTNERAPP_AUTH_PUBLIC_KEY_FILE": str(public),
        f"{name.upper()}_HTTP_PORT": str(process.port),
        **process.env,
    }
    if name == "instances":
        env["INSTANCES_IMPERSONATION_KEY_FILE"] = str(dev_keys("impersonation")[0])
    if name == "gateway":
        env["GATEWAY_TOKEN_PRIVATE_KEY_FILE"] = str(dev_keys()[0])
        # Development: a partner tries webhooks against a receiver on this machine (http, loopback);
        # production keeps https-only and public addresses (the setting's default).
        env["GATEWAY_WEBHOOKS_ALLOW_PRIVATE"] = "true"
        if (WEB_DIST / "index.html").exists():
            env["GATEWAY_WEB_DIR"] = str(WEB_DIST)
    return env


def up() -> None:
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    for service in PROCESSES:
        process = service_process(service)
        if process.pid() is None:
            process.start([sys.executable, "-m", service.service], env=service_env(service), cwd=ROOT)
            say(f"{service.name}: started (pid {process.pid()})")
    for service in PROCESSES:
        wait_until(
            f"{service.name}: /readyz",
            functools.partial(ready, service.port),
            timeout=90,
            process=service_process(service),
        )
        say(f"{service.name}: ready on http://127.0.0.1:{service.port} (docs at /docs)")


def ready(port: int) -> bool:
    """Whether the service on `port` answers 200 on /readyz."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            return bool(response.status == 200)
    except urllib.error.HTTPError:
        return False
