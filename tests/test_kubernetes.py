"""deploy/kubernetes: every object valid for Kubernetes 1.33 and KEDA 2.20 (schemas vendored in tests/data/kubernetes,
no cluster, no network), and agreeing with the code: probe paths the ops server serves, its port, real settings
in the Secret, the queue key KEDA watches."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import fakeredis
import jsonschema
import pytest
import yaml
from prometheus_client import CollectorRegistry

from notifier.cli import _parser
from notifier.delivery.enqueue import make_queue
from notifier.ops.server import OpsServer
from notifier.runtime.settings import Settings, load_settings
from tests.conftest import ROOT
from tests.support.kustomize import containers, load, render

DEPLOY = ROOT / "deploy" / "kubernetes"
BASE, WITH_REDIS = DEPLOY / "base", DEPLOY / "with-redis"
SCHEMAS = ROOT / "tests" / "data" / "kubernetes"
KUBERNETES = json.loads((SCHEMAS / "kubernetes.json").read_text())
KEDA = json.loads((SCHEMAS / "keda.json").read_text())
SECRET = yaml.safe_load((DEPLOY / "secret.example.yaml").read_text())
# The redis scaler's parameters in KEDA v2.20.2 (pkg/scalers/redis_scaler.go, the `keda:"name=..."` tags).
KEDA_REDIS_PARAMETERS = {"address", "addresses", "username", "password", "sentinelUsername", "sentinelPassword",
                         "sentinelMaster", "host", "hosts", "port", "ports", "unsafeSsl", "listLength",
                         "activationListLength", "listName", "databaseIndex", "enableTLS"}


def validator(obj: dict[str, Any]) -> jsonschema.protocols.Validator:
    key = f"{obj['apiVersion']}/{obj['kind']}"
    if key in KUBERNETES["kinds"]:
        schema = {**KUBERNETES["kinds"][key], "$defs": KUBERNETES["$defs"]}
        schema.pop("$id", None)
        return jsonschema.Draft202012Validator(schema)
    if key in KEDA["kinds"]:
        # A CRD's openAPIV3Schema leaves metadata to the API server: ask for a name like it would.
        schema = copy.deepcopy(KEDA["kinds"][key])
        schema["properties"]["metadata"] = {"type": "object", "required": ["name"]}
        schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata", "spec"})
        return jsonschema.Draft7Validator(schema)
    raise AssertionError(f"no vendored schema for {key}: vendor it (scripts/vendor_kubernetes_schemas.py)")


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


RENDERED = {"base": render(BASE), "with-redis": render(WITH_REDIS)}


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_every_object_matches_its_schema(name: str) -> None:
    for obj in [*RENDERED[name], SECRET]:
        errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator(obj).iter_errors(obj)]
        assert not errors, f"{obj['kind']} {obj['metadata']['name']}: {errors}"


def test_the_schemas_catch_mistakes() -> None:
    objects = copy.deepcopy(RENDERED["with-redis"])
    poller = by_kind(objects, "Deployment")["notifier-poller"]
    poller["spec"]["replicas"] = "two"
    containers(poller)[0]["livenessProbe"]["httpGet"]["paht"] = "/healthz"  # strict: unknown fields refused
    scaled = by_kind(objects, "ScaledObject")["notifier-worker"]
    scaled["spec"]["minReplicaCount"] = "one"
    del scaled["spec"]["scaleTargetRef"]
    budget = by_kind(objects, "PodDisruptionBudget")["notifier-worker"]
    budget["spec"]["unhealthyPodEvictionPolicy"] = 1
    for obj, wrong in ((poller, 2), (scaled, 2), (budget, 1)):
        assert len(list(validator(obj).iter_errors(obj))) == wrong, obj["kind"]


def test_the_python_render_is_what_kubectl_builds() -> None:
    """Where kubectl or kustomize is installed, its build is the reference for tests/support/kustomize.py."""
    binary = shutil.which("kustomize") or shutil.which("kubectl")
    if binary is None:
        pytest.skip("neither kustomize nor kubectl here: only the Python render is checked")
    args = ["build"] if binary.endswith("kustomize") else ["kustomize"]
    for name, directory in (("base", BASE), ("with-redis", WITH_REDIS)):
        built = subprocess.run([binary, *args, str(directory)], capture_output=True, text=True, timeout=60,
                               check=True).stdout
        key = lambda o: (o["kind"], o["metadata"]["name"])  # noqa: E731
        assert sorted(yaml.safe_load_all(built), key=key) == sorted(RENDERED[name], key=key), name


def test_the_renderer_refuses_what_it_does_not_render(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: []\npatches: []\n")
    with pytest.raises(ValueError, match="patches"):
        load(tmp_path)


def test_selectors_labels_and_references_agree() -> None:
    objects = RENDERED["with-redis"]
    workloads = {**by_kind(objects, "Deployment"), **by_kind(objects, "StatefulSet")}
    assert set(workloads) == {"notifier-poller", "notifier-worker", "notifier-redis"}
    for name, workload in workloads.items():
        selector = workload["spec"]["selector"]["matchLabels"]
        assert selector.items() <= workload["spec"]["template"]["metadata"]["labels"].items(), name
        others = [n for n, w in workloads.items() if n != name
                  and selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()]
        assert not others, f"{name}'s selector also selects {others}"
    budgets = by_kind(objects, "PodDisruptionBudget")
    assert set(budgets) == {"notifier-poller", "notifier-worker"}
    for name, budget in budgets.items():
        assert budget["spec"]["selector"]["matchLabels"] == workloads[name]["spec"]["selector"]["matchLabels"]
    assert workloads["notifier-poller"]["spec"]["replicas"] == 2
    # KEDA's HPA owns the worker count: a fixed count in the Deployment would be reset by every apply.
    assert "replicas" not in workloads["notifier-worker"]["spec"]
    scaled = by_kind(objects, "ScaledObject")["notifier-worker"]
    assert scaled["spec"]["scaleTargetRef"]["name"] == "notifier-worker"
    assert scaled["spec"]["minReplicaCount"] >= 1, "RQ's scheduler and abandoned-job recovery run in workers"
    auth = by_kind(objects, "TriggerAuthentication")[scaled["spec"]["triggers"][0]["authenticationRef"]["name"]]
    secret_names = {auth["spec"]["secretTargetRef"][0]["name"]}
    for workload in workloads.values():
        for container in containers(workload):
            secret_names |= {e["secretRef"]["name"] for e in container.get("envFrom", [])}
            secret_names |= {e["valueFrom"]["secretKeyRef"]["name"] for e in container.get("env", [])
                             if "valueFrom" in e}
    assert secret_names == {SECRET["metadata"]["name"]}
    service = by_kind(objects, "Service")["notifier-redis"]
    assert service["spec"]["selector"] == workloads["notifier-redis"]["spec"]["selector"]["matchLabels"]
    assert all(o["metadata"]["namespace"] == "notifier" and o["metadata"]["labels"]["app.kubernetes.io/part-of"]
               == "notifier" for o in objects)


def _get(port: int, path: str) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
        return int(answer.status)


def test_probes_ports_commands_and_settings_are_the_codes() -> None:
    names = {f"NOTIFIER_{field.upper()}" for field in Settings.model_fields}
    defaults = Settings(_env_file=None)
    server = OpsServer("127.0.0.1", 0, live=lambda: True, ready=lambda: [], registry=CollectorRegistry()).start()
    try:
        for name, workload in by_kind(RENDERED["base"], "Deployment").items():
            (container,) = containers(workload)
            assert _parser().parse_args(container["args"]).command == name.removeprefix("notifier-")
            env = {e["name"]: e["value"] for e in container["env"]}
            assert set(env) <= names, f"{name}: not settings: {set(env) - names}"
            ports = {p["name"]: p["containerPort"] for p in container["ports"]}
            assert ports == {"ops": int(env.get("NOTIFIER_HTTP_PORT", defaults.http_port))}
            assert env["NOTIFIER_HTTP_HOST"] == "0.0.0.0", "on 127.0.0.1 the kubelet's probes cannot reach it"
            probes = {kind: container[kind]["httpGet"] for kind in ("livenessProbe", "readinessProbe")}
            assert probes["livenessProbe"]["path"] == "/healthz" and probes["readinessProbe"]["path"] == "/readyz"
            for probe in probes.values():
                assert probe["port"] == "ops"
                assert _get(server.port, probe["path"]) == 200  # a path the ops server serves, not a 404
    finally:
        server.stop()
    worker = by_kind(RENDERED["base"], "Deployment")["notifier-worker"]
    assert worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > defaults.delivery_job_timeout_s


def test_the_example_secret_holds_real_settings_that_load() -> None:
    values = SECRET["stringData"]
    names = {f"NOTIFIER_{field.upper()}" for field in Settings.model_fields}
    assert set(values) <= names, f"not settings: {set(values) - names}"
    settings = load_settings(_env_file=None, **{k.removeprefix("NOTIFIER_").lower(): v for k, v in values.items()})
    redis_url = urlsplit(settings.redis_url)
    service = by_kind(RENDERED["with-redis"], "Service")["notifier-redis"]
    assert (redis_url.hostname, redis_url.port) == (service["metadata"]["name"], service["spec"]["ports"][0]["port"])


def test_keda_watches_rqs_queue_of_that_redis() -> None:
    (trigger,) = by_kind(RENDERED["base"], "ScaledObject")["notifier-worker"]["spec"]["triggers"]
    assert trigger["type"] == "redis" and set(trigger["metadata"]) <= KEDA_REDIS_PARAMETERS
    queue = make_queue(fakeredis.FakeRedis(), Settings(_env_file=None))
    assert trigger["metadata"]["listName"] == queue.key  # RQ's list of queued job ids
    host, _, port = trigger["metadata"]["address"].partition(":")
    # KEDA's operator runs in its own namespace: the Service's name qualified with notifier's.
    assert host == "notifier-redis.notifier.svc.cluster.local" and int(port) == 6379
    auth = by_kind(RENDERED["base"], "TriggerAuthentication")["notifier-redis"]
    assert auth["spec"]["secretTargetRef"] == [{"parameter": "password", "name": "notifier",
                                                "key": "NOTIFIER_REDIS_PASSWORD"}]


def test_the_optional_redis_keeps_its_data_and_wants_the_password() -> None:
    redis_set = by_kind(RENDERED["with-redis"], "StatefulSet")["notifier-redis"]
    (container,) = containers(redis_set)
    script = container["command"][-1]
    assert "--appendonly yes" in script and "requirepass $NOTIFIER_REDIS_PASSWORD" in script
    assert "--dir /data" in script and {"name": "redis-data", "mountPath": "/data"} in container["volumeMounts"]
    assert "maxmemory-policy" not in script  # Redis's default, noeviction, is the one notifier needs
    (password,) = container["env"]
    assert password["valueFrom"]["secretKeyRef"] == {"name": "notifier", "key": "NOTIFIER_REDIS_PASSWORD"}
    assert redis_set["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "redis-data"
