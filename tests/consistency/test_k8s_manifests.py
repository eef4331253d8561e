"""The Kubernetes manifests (deploy/k8s) agree with the code: the KafkaTopics are the contracts'
catalogue (generated, not hand-copied), every service has its Deployment, Service, HPA, PDB and
NetworkPolicy, the env names are settings the code reads, the overlays size Kafka and MongoDB as
documented.

The rendered overlays come from `make k8s` (tools/k8s-validate: kustomize build plus strict schema
validation), which writes .cache/k8s/<overlay>.yaml; `make test` runs it first. Without those
files the tests that read them are skipped, saying so.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any, get_args

import pytest
import yaml

from contracts.topics import all_topic_partitions, topic
from servicekit.settings import PlatformSettings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
RENDERED = ROOT / ".cache" / "k8s"
OVERLAYS = ("dev", "prod")
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").exists())
# Env names the manifests set that are not pydantic settings (besides the OpenTelemetry SDK's
# OTEL_*): the pod name the gateway's consumer group is composed from.
NON_SETTINGS = {"POD_NAME"}

Resource = dict[str, Any]


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("k8s_generate", K8S / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rendered(overlay: str) -> list[Resource]:
    path = RENDERED / f"{overlay}.yaml"
    if not path.exists():
        pytest.skip(f"{path.relative_to(ROOT)} is missing: run `make k8s` (kustomize build + validation) first")
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def of_kind(resources: list[Resource], kind: str) -> dict[str, Resource]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


def settings_class(service: str) -> Any:
    return importlib.import_module(f"{service}.config").Settings


def default_port(service: str) -> int:
    return int(settings_class(service).model_fields["http_port"].default)


def container(deployment: Resource) -> Resource:
    containers: list[Resource] = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def env_of(resources: list[Resource], deployment: Resource) -> dict[str, Resource]:
    """Every env var the container gets: from its ConfigMaps (envFrom) and its own `env`."""
    config_maps = of_kind(resources, "ConfigMap")
    env: dict[str, Resource] = {}
    for source in container(deployment).get("envFrom", []):
        for name, value in config_maps[source["configMapRef"]["name"]]["data"].items():
            env[name] = {"name": name, "value": value}
    for item in container(deployment).get("env", []):
        env[item["name"]] = item
    return env


# --- generated topics -------------------------------------------------------------------------


def test_committed_topics_are_generated_from_the_catalogue() -> None:
    generator = load_generator()
    committed = (K8S / "base" / "kafka" / "topics.yaml").read_text()
    assert committed == generator.render_topics(), "run `uv run python deploy/k8s/generate.py`"


def test_generated_names_are_valid_kubernetes_names() -> None:
    generator = load_generator()
    assert generator.resource_name("instance.cancellation_requested") == "instance.cancellation-requested"
    with pytest.raises(ValueError, match="no valid Kubernetes name"):
        generator.resource_name("bad/topic")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rendered_kafka_topics_equal_the_catalogue(overlay: str) -> None:
    topics = of_kind(rendered(overlay), "KafkaTopic").values()
    names = [t["spec"]["topicName"] for t in topics]
    assert len(names) == len(set(names))
    assert {t["spec"]["topicName"]: t["spec"]["partitions"] for t in topics} == all_topic_partitions()
    assert {t["metadata"]["labels"]["strimzi.io/cluster"] for t in topics} == {"partnerapp"}


# --- Kafka and MongoDB sizes ------------------------------------------------------------------


@pytest.mark.parametrize(("overlay", "brokers", "min_insync"), [("dev", 1, 1), ("prod", 3, 2)])
def test_kafka_brokers_replication_and_min_insync(overlay: str, brokers: int, min_insync: int) -> None:
    resources = rendered(overlay)
    pools = of_kind(resources, "KafkaNodePool")
    assert sum(p["spec"]["replicas"] for p in pools.values()) == brokers
    kafka = of_kind(resources, "Kafka")["partnerapp"]["spec"]["kafka"]
    config = kafka["config"]
    assert config["default.replication.factor"] == brokers
    assert config["offsets.topic.replication.factor"] == brokers
    assert config["transaction.state.log.replication.factor"] == brokers
    assert config["min.insync.replicas"] == min_insync
    assert config["transaction.state.log.min.isr"] == min_insync
    assert config["auto.create.topics.enable"] is False
    for t in of_kind(resources, "KafkaTopic").values():
        assert t["spec"]["replicas"] == brokers, t["metadata"]["name"]
        assert t["spec"]["config"]["min.insync.replicas"] == min_insync, t["metadata"]["name"]
    # Only the partnerapp services reach the brokers (Strimzi writes the NetworkPolicy).
    (listener,) = kafka["listeners"]
    (peer,) = listener["networkPolicyPeers"]
    assert peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "service"
    platform = of_kind(resources, "ConfigMap")
    bootstrap = {cm["data"].get("PARTNERAPP_KAFKA_BOOTSTRAP_SERVERS") for cm in platform.values()} - {None}
    assert bootstrap == {f"partnerapp-kafka-bootstrap:{listener['port']}"}


@pytest.mark.parametrize(("overlay", "members"), [("dev", 1), ("prod", 3)])
def test_mongo_is_a_replica_set_of_the_overlays_size(overlay: str, members: int) -> None:
    resources = rendered(overlay)
    mongo = of_kind(resources, "StatefulSet")["mongo"]
    assert mongo["spec"]["replicas"] == members
    assert of_kind(resources, "Service")["mongo"]["spec"]["clusterIP"] == "None"
    command = container(mongo)["command"]
    assert command[command.index("--replSet") + 1] == "rs0"
    job_env = {e["name"]: e["value"] for e in container(of_kind(resources, "Job")["mongo-init"])["env"]}
    assert job_env["MONGO_MEMBERS"] == str(members)
    for name in SERVICES:
        url = env_of(resources, of_kind(resources, "Deployment")[name])["PARTNERAPP_MONGO_URL"]["value"]
        hosts = url.removeprefix("mongodb://").split("/")[0].split(",")
        assert hosts == [f"mongo-{i}.mongo:27017" for i in range(members)]
        assert url.endswith("?replicaSet=rs0")


# --- services ---------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_has_its_resources(overlay: str) -> None:
    resources = rendered(overlay)
    for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"):
        assert set(SERVICES) <= set(of_kind(resources, kind)), kind
    policies = of_kind(resources, "NetworkPolicy")
    assert policies["default-deny-ingress"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    for name in SERVICES:
        port = default_port(name)
        deployment = of_kind(resources, "Deployment")[name]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == name
        assert labels["app.kubernetes.io/part-of"] == "partnerapp"
        assert container(deployment)["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
        assert container(deployment)["image"].startswith(f"partnerapp/{name}:")
        assert container(deployment)["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container(deployment)["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
        service = of_kind(resources, "Service")[name]
        assert service["spec"]["ports"][0]["port"] == port
        assert service["spec"]["selector"] == {"app.kubernetes.io/name": name}
        hpa = of_kind(resources, "HorizontalPodAutoscaler")[name]
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert policies[name]["spec"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": name}}
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        assert "emptyDir" in volumes["tmp"]
        tmp = {"name": "tmp", "mountPath": "/tmp"}  # noqa: S108 - the pod's own emptyDir
        assert tmp in container(deployment)["volumeMounts"]


@pytest.mark.parametrize(("overlay", "min_replicas"), [("dev", 1), ("prod", 2)])
def test_autoscaling_and_disruption_budgets(overlay: str, min_replicas: int) -> None:
    resources = rendered(overlay)
    hpas = of_kind(resources, "HorizontalPodAutoscaler")
    pdbs = of_kind(resources, "PodDisruptionBudget")
    for name in SERVICES:
        assert hpas[name]["spec"]["minReplicas"] == min_replicas
        if overlay == "prod":
            assert pdbs[name]["spec"]["minAvailable"] == 1
    # Activity consumers beyond terminal.activity's partitions would sit idle.
    assert hpas["activity"]["spec"]["maxReplicas"] <= topic("terminal.activity").partitions
    if overlay == "prod":
        assert hpas["activity"]["spec"]["maxReplicas"] == topic("terminal.activity").partitions


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_env_names_are_settings_the_code_reads(overlay: str) -> None:
    resources = rendered(overlay)
    platform = {f"PARTNERAPP_{name.upper()}" for name in PlatformSettings.model_fields}
    for name in SERVICES:
        env = env_of(resources, of_kind(resources, "Deployment")[name])
        ours = {n for n in env if n.startswith("PARTNERAPP_")}
        assert ours <= platform, ours - platform
        prefix = settings_class(name).model_config["env_prefix"]
        own = {n for n in env if not n.startswith(("PARTNERAPP_", "OTEL_")) and n not in NON_SETTINGS}
        assert own <= {f"{prefix}{field.upper()}" for field in settings_class(name).model_fields}, own
        assert env[f"{prefix}HTTP_HOST"]["value"] == "0.0.0.0"  # noqa: S104 - listening in a pod
        assert env[f"{prefix}HTTP_PORT"]["value"] == str(default_port(name))
        assert env["OTEL_SERVICE_NAME"]["value"] == name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_gateway_reaches_each_service_and_has_a_consumer_group_per_replica(overlay: str) -> None:
    resources = rendered(overlay)
    env = env_of(resources, of_kind(resources, "Deployment")["gateway"])
    for name in SERVICES:
        if name != "gateway":
            assert env[f"GATEWAY_{name.upper()}_URL"]["value"] == f"http://{name}:{default_port(name)}"
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["GATEWAY_CONSUMER_GROUP"]["value"] == "gateway-$(POD_NAME)"
    names = [e["name"] for e in container(of_kind(resources, "Deployment")["gateway"])["env"]]
    assert names.index("POD_NAME") < names.index("GATEWAY_CONSUMER_GROUP"), "$(POD_NAME) must be defined first"
    activity = env_of(resources, of_kind(resources, "Deployment")["activity"])
    assert activity["ACTIVITY_INSTANCES_URL"]["value"] == f"http://instances:{default_port('instances')}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_keys_are_secret_files_and_only_the_gateway_signs_tokens(overlay: str) -> None:
    resources = rendered(overlay)
    key_files = {
        "PARTNERAPP_AUTH_PUBLIC_KEY_FILE": "partnerapp-auth-public-key",
        "GATEWAY_TOKEN_PRIVATE_KEY_FILE": "partnerapp-auth-private-key",
        "GATEWAY_VAPID_PRIVATE_KEY_FILE": "partnerapp-vapid-key",
        "INSTANCES_IMPERSONATION_KEY_FILE": "partnerapp-impersonation-key",
    }
    assert not of_kind(resources, "Secret"), "Secrets are created by the operator, never committed"
    for name in SERVICES:
        deployment = of_kind(resources, "Deployment")[name]
        env = env_of(resources, deployment)
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        mounts = {m["mountPath"]: m for m in container(deployment)["volumeMounts"]}
        secrets = {v["secret"]["secretName"] for v in volumes.values() if "secret" in v}
        for variable, secret in key_files.items():
            if variable not in env:
                continue
            path = Path(env[variable]["value"])
            mount = mounts[str(path.parent)]
            assert mount["readOnly"] is True
            assert volumes[mount["name"]]["secret"]["secretName"] == secret
        assert "PARTNERAPP_AUTH_PUBLIC_KEY_FILE" in env
        assert ("partnerapp-auth-private-key" in secrets) == (name == "gateway")
        assert ("partnerapp-vapid-key" in secrets) == (name == "gateway")
        assert ("partnerapp-impersonation-key" in secrets) == (name == "instances")
    assert "GATEWAY_TOKEN_PRIVATE_KEY_FILE" in env_of(resources, of_kind(resources, "Deployment")["gateway"])
    assert "INSTANCES_IMPERSONATION_KEY_FILE" in env_of(resources, of_kind(resources, "Deployment")["instances"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_let_in_only_the_callers(overlay: str) -> None:
    policies = of_kind(rendered(overlay), "NetworkPolicy")

    def callers(name: str) -> set[str]:
        return {
            peer["podSelector"]["matchLabels"].get("app.kubernetes.io/name", "<services>")
            for rule in policies[name]["spec"]["ingress"]
            for peer in rule.get("from", [])
            if "podSelector" in peer
        }

    assert policies["gateway"]["spec"]["ingress"] == [{"ports": [{"port": "http", "protocol": "TCP"}]}]
    assert callers("instances") == {"gateway", "activity"}
    assert callers("support") == {"gateway"}
    assert callers("reports") == {"gateway"}
    assert callers("activity") == {"gateway"}
    assert callers("mongo") == {"<services>", "mongo", "mongo-init"}


def test_observability_is_a_prod_component_with_the_compose_collector_config() -> None:
    prod, dev = rendered("prod"), rendered("dev")
    assert "otel-collector" in of_kind(prod, "Deployment")
    assert "otel-collector" not in of_kind(dev, "Deployment")
    for name in SERVICES:
        prod_env = env_of(prod, of_kind(prod, "Deployment")[name])
        assert prod_env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == "http://otel-collector:4318"
        assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in env_of(dev, of_kind(dev, "Deployment")[name])
    component = yaml.safe_load((K8S / "components" / "observability" / "collector.yaml").read_text())
    assert component == yaml.safe_load((ROOT / "deploy" / "otel" / "collector.yaml").read_text())


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlays_pick_a_namespace_and_tagged_images(overlay: str) -> None:
    resources = rendered(overlay)
    assert {r["metadata"]["namespace"] for r in resources} == {"partnerapp" if overlay == "prod" else "partnerapp-dev"}
    for name in SERVICES:
        image = container(of_kind(resources, "Deployment")[name])["image"]
        assert image.rsplit(":", 1)[1] not in ("", "latest")


@pytest.mark.parametrize(("overlay", "min_replicas"), [("dev", 1), ("prod", 2)])
def test_activity_runs_as_an_ingest_and_a_consumer_deployment_scaled_apart(overlay: str, min_replicas: int) -> None:
    resources = rendered(overlay)
    deployments = of_kind(resources, "Deployment")
    ingest, consumer = deployments["activity"], deployments["activity-consumer"]
    assert env_of(resources, ingest)["ACTIVITY_ROLE"]["value"] == "ingest"
    consumer_env = env_of(resources, consumer)
    assert consumer_env["ACTIVITY_ROLE"]["value"] == "consumer"
    assert set(get_args(settings_class("activity").model_fields["role"].annotation)) == {"ingest", "consumer", "all"}
    assert container(consumer)["image"] == container(ingest)["image"], "one image, two roles"
    own = {n for n in consumer_env if n.startswith("ACTIVITY_")}
    assert own <= {f"ACTIVITY_{field.upper()}" for field in settings_class("activity").model_fields}, own
    port = int(consumer_env["ACTIVITY_HTTP_PORT"]["value"])
    assert port != default_port("activity")
    assert container(consumer)["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
    assert container(consumer)["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert consumer["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] == "service"
    assert "replicas" not in consumer["spec"], "the HPA owns the replica count"
    hpa = of_kind(resources, "HorizontalPodAutoscaler")["activity-consumer"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "activity-consumer"
    assert hpa["spec"]["minReplicas"] == min_replicas
    # Consumers beyond terminal.activity's partitions would sit idle.
    assert hpa["spec"]["maxReplicas"] <= topic("terminal.activity").partitions
    assert "activity-consumer" in of_kind(resources, "PodDisruptionBudget")
    # Nobody calls the consumer: the gateway and terminals reach only the ingest's Service.
    assert "activity-consumer" not in of_kind(resources, "Service")
    assert of_kind(resources, "NetworkPolicy")["activity-consumer"]["spec"]["ingress"] == []
