"""docker-compose, the Dockerfile and the local stack agree with the code: same services,
ports, env names, pinned Kafka version; health-gated start-up."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from partnerapp_stack import config as stack
from servicekit.pdf import FONT_FILES
from servicekit.settings import PlatformSettings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").exists())
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()  # one for the five services, told which by build arguments


def default_port(service: str) -> int:
    settings_class = importlib.import_module(f"{service}.config").Settings
    return int(settings_class.model_fields["http_port"].default)


def test_the_five_services_exist() -> None:
    assert SERVICES == ["activity", "gateway", "instances", "reports", "support"]


@pytest.mark.parametrize("service", SERVICES)
def test_compose_builds_and_exposes_each_service_on_its_port(service: str) -> None:
    entry = COMPOSE["services"][service]
    assert entry["build"]["dockerfile"] == "Dockerfile"
    args = entry["build"]["args"]
    port = default_port(service)
    assert entry["ports"] == [f"{port}:{port}"]
    assert stack.SERVICES[service] == port
    assert args["PORT"] == str(port)
    assert "EXPOSE ${PORT}" in DOCKERFILE
    assert "${ENV_PREFIX}_HTTP_HOST=0.0.0.0 ${ENV_PREFIX}_HTTP_PORT=${PORT}" in DOCKERFILE
    assert f"{args['ENV_PREFIX']}_" == importlib.import_module(f"{service}.config").Settings.model_config["env_prefix"]
    assert "USER 10001" in DOCKERFILE
    assert args["SERVICE"] == service
    assert 'CMD exec python -m "$SERVICE"' in DOCKERFILE
    assert 'uv sync --frozen --no-dev --no-editable --package "partnerapp-$SERVICE"' in DOCKERFILE


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
    assert f"ghcr.io/astral-sh/uv:{pinned.group(1)} " in DOCKERFILE


FONT_LIST = "tools/pdf-font-packages.txt"


def font_packages() -> list[str]:
    return (ROOT / FONT_LIST).read_text().split()


def renders_pdfs(service: str) -> bool:
    sources = (ROOT / "services" / service / "src").rglob("*.py")
    return any("servicekit.pdf" in path.read_text() for path in sources)


def test_the_font_list_is_the_packages_of_the_fonts_the_pdfs_embed() -> None:
    assert font_packages() == list(dict.fromkeys(font.package for font in FONT_FILES))


def test_the_images_of_the_services_that_render_pdfs_install_the_font_list() -> None:
    pdf_services = [service for service in SERVICES if renders_pdfs(service)]
    assert pdf_services == ["activity", "gateway", "instances"]
    for service in SERVICES:
        fonts = COMPOSE["services"][service]["build"]["args"].get("PDF_FONTS", "false")
        assert fonts == ("true" if service in pdf_services else "false"), service
    final_stage = DOCKERFILE.rsplit("\nFROM ", 1)[1]
    copied = re.search(rf"^COPY {re.escape(FONT_LIST)} (\S+)$", final_stage, re.MULTILINE)
    assert copied, f"the final stage copies {FONT_LIST}"
    install = f"xargs -a {copied.group(1)} apt-get install -y --no-install-recommends"
    assert 'if [ "$PDF_FONTS" = true ]; then' in final_stage
    assert install in final_stage.split('if [ "$PDF_FONTS" = true ]; then', 1)[1].split("fi\n", 1)[0]
    assert "rm -rf /var/lib/apt/lists/*" in final_stage
    # Built on the Debian release whose packages hold the file names servicekit.pdf looks for.
    assert re.findall(r"^FROM (\S+)", DOCKERFILE, re.MULTILINE) == ["python:3.11-slim-bookworm"] * 2


def bootstrap_up_as_root_without_packages(
    tmp_path: Path, *, installed: tuple[str, ...] = (), **env_vars: str
) -> list[list[str]]:
    """`tools/bootstrap.sh up` as root on a machine with Java and Maven but no other package
    (dpkg-query knows none, or only `installed`): the `apt-get install` calls it makes, without options."""
    stubs = tmp_path / "bin"
    stubs.mkdir(parents=True)
    calls = tmp_path / "apt-get.calls"
    known = " ".join(installed)
    scripts = {
        "dpkg-query": (
            f'for a in "$@"; do case " {known} " in *" $a "*) echo "install ok installed"; exit 0;; esac; done\n'
            "echo 'unknown ok not-installed'"
        ),
        "apt-get": f'echo "$*" >>{calls}',
        "id": "echo 0",
        "java": "true",
        "mvn": "true",
    }
    for name, body in scripts.items():
        (stubs / name).write_text(f"#!/bin/sh\n{body}\n")
        (stubs / name).chmod(0o755)
    inherited = {name: value for name, value in os.environ.items() if name != "PARTNERAPP_STORE_BACKEND"}
    env = {**inherited, "PATH": f"{stubs}{os.pathsep}{os.environ['PATH']}", **env_vars}

    done = subprocess.run(
        ["/bin/bash", "tools/bootstrap.sh", "up"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    lines = calls.read_text().splitlines() if calls.exists() else []
    installs = [line.split() for line in lines if " install " in f" {line} "]
    if installs:
        assert "update" in lines[0].split(), (
            "the package lists are updated before installing (a fresh machine has none)"
        )
    return [[word for word in call if not word.startswith("-")] for call in installs]


def test_bootstrap_installs_the_font_packages_and_postgresql_the_machine_lacks(tmp_path: Path) -> None:
    # PostgreSQL is FerretDB's default backend: a fresh machine gets Debian's server.
    installed = bootstrap_up_as_root_without_packages(tmp_path)
    assert installed == [["install", *font_packages(), "postgresql"]]
    named = bootstrap_up_as_root_without_packages(tmp_path / "named", PARTNERAPP_STORE_BACKEND="postgresql")
    assert named == installed


def test_bootstrap_leaves_an_installed_postgresql_alone(tmp_path: Path) -> None:
    installed = bootstrap_up_as_root_without_packages(tmp_path, installed=("postgresql",))
    assert installed == [["install", *font_packages()]]


def test_bootstrap_installs_no_postgresql_on_the_sqlite_fallback(tmp_path: Path) -> None:
    installed = bootstrap_up_as_root_without_packages(tmp_path, PARTNERAPP_STORE_BACKEND="sqlite")
    assert installed == [["install", *font_packages()]]


def test_the_scripts_import_packages_not_paths() -> None:
    # The local stack is a package of the workspace; the fault suite and the benchmarks import it
    # like any other, so no file reaches for a module by editing the import path.
    skipped = {".venv", "node_modules", ".cache", ".git"}
    sources = [path for path in ROOT.rglob("*.py") if not skipped & set(path.relative_to(ROOT).parts)]
    assert any(path.name == "harness.py" for path in sources)
    edits = [
        str(path.relative_to(ROOT)) for path in sources if re.search(r"sys\.path\.(insert|append)", path.read_text())
    ]
    assert edits == []


def test_activity_runs_as_its_ingest_and_consumer_roles_in_make_up_and_compose() -> None:
    processes = {process.name: process for process in stack.PROCESSES}
    assert {process.service for process in stack.PROCESSES} == set(SERVICES)
    ingest, consumer = processes["activity"], processes["activity-consumer"]
    assert (ingest.service, ingest.port, dict(ingest.env)) == (
        "activity",
        stack.SERVICES["activity"],
        {"ACTIVITY_ROLE": "ingest"},
    )
    assert (consumer.service, dict(consumer.env)) == ("activity", {"ACTIVITY_ROLE": "consumer"})
    ports = [process.port for process in stack.PROCESSES]
    assert len(ports) == len(set(ports)), "one port per process"
    compose = COMPOSE["services"]
    assert compose["activity"]["environment"]["ACTIVITY_ROLE"] == "ingest"
    assert compose["activity-consumer"]["environment"]["ACTIVITY_ROLE"] == "consumer"
    assert compose["activity-consumer"]["build"]["args"]["SERVICE"] == "activity"
    assert compose["activity-consumer"]["ports"] == [f"{consumer.port}:{consumer.port}"]
    assert compose["activity-consumer"]["build"]["args"]["PORT"] == str(consumer.port)
