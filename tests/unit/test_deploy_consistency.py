"""docker-compose, the Dockerfiles and the local stack agree with the code: same services,
ports, env names, pinned Kafka version; health-gated start-up."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from servicekit.settings import PlatformSettings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").exists())
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
sys.path.insert(0, str(ROOT / "deploy" / "local"))
import stack  # noqa: E402


def default_port(service: str) -> int:
    settings_class = importlib.import_module(f"{service}.config").Settings
    return int(settings_class.model_fields["http_port"].default)


def test_the_five_services_exist() -> None:
    assert SERVICES == ["activity", "gateway", "instances", "reports", "support"]


@pytest.mark.parametrize("service", SERVICES)
def test_compose_builds_and_exposes_each_service_on_its_port(service: str) -> None:
    entry = COMPOSE["services"][service]
    assert entry["build"]["dockerfile"] == f"services/{service}/Dockerfile"
    port = default_port(service)
    assert entry["ports"] == [f"{port}:{port}"]
    assert stack.SERVICES[service] == port
    dockerfile = (ROOT / "services" / service / "Dockerfile").read_text()
    assert f"EXPOSE {port}" in dockerfile
    assert "USER 10001" in dockerfile
    assert f'CMD ["python", "-m", "{service}"]' in dockerfile


@pytest.mark.parametrize("service", SERVICES)
def test_services_start_only_after_healthy_dependencies(service: str) -> None:
    depends = COMPOSE["services"][service]["depends_on"]
    assert depends["kafka"]["condition"] == "service_healthy"
    assert depends["mongo"]["condition"] == "service_healthy"
    assert depends["kafka-topics"]["condition"] == "service_completed_successfully"


def test_compose_env_names_are_settings_the_code_reads() -> None:
    known = {f"PARTNERAPP_{name.upper()}" for name in PlatformSettings.model_fields}
    for service in SERVICES:
        env = COMPOSE["services"][service]["environment"]
        ours = {name for name in env if name.startswith("PARTNERAPP_")}
        assert ours <= known, ours - known
        own = {name for name in env if not name.startswith(("PARTNERAPP_", "OTEL_"))}
        settings: Any = importlib.import_module(f"{service}.config").Settings
        prefix = settings.model_config["env_prefix"]
        assert own <= {f"{prefix}{field.upper()}" for field in settings.model_fields}, own


def test_the_gateway_reaches_every_service_by_its_compose_name() -> None:
    env = COMPOSE["services"]["gateway"]["environment"]
    for service in SERVICES:
        if service != "gateway":
            assert env[f"GATEWAY_{service.upper()}_URL"] == f"http://{service}:{default_port(service)}"
    assert "auth_private_key" in COMPOSE["services"]["gateway"]["secrets"]
    assert all("auth_private_key" not in COMPOSE["services"][s].get("secrets", []) for s in SERVICES if s != "gateway")


def test_compose_runs_the_pinned_kafka_version() -> None:
    pom = (ROOT / "deploy" / "local" / "kafka" / "pom.xml").read_text()
    match = re.search(r"<kafka.version>([\d.]+)</kafka.version>", pom)
    assert match is not None
    assert COMPOSE["services"]["kafka"]["image"] == f"apache/kafka:{match.group(1)}"
    assert COMPOSE["services"]["kafka"]["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_mongo_is_a_replica_set_and_the_services_say_so() -> None:
    assert "--replSet" in COMPOSE["services"]["mongo"]["command"]
    assert COMPOSE["services"]["gateway"]["environment"]["PARTNERAPP_MONGO_URL"].endswith("replicaSet=rs0")


def test_uv_is_pinned_once_for_the_makefile_and_the_images() -> None:
    pinned = re.search(r'^UV_VERSION="([0-9.]+)"$', (ROOT / "tools" / "bootstrap.sh").read_text(), re.MULTILINE)
    assert pinned, "tools/bootstrap.sh pins uv"
    for service in SERVICES:
        dockerfile = (ROOT / "services" / service / "Dockerfile").read_text()
        assert f"ghcr.io/astral-sh/uv:{pinned.group(1)} " in dockerfile, service
