"""docker-compose.yml is valid Compose (the spec's own schema, as `docker compose config` checks) and sane."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import jsonschema
import pytest
import yaml

from notifier.runtime.settings import load_settings
from tests.conftest import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
# The schema declares draft 2019-09 (with a trailing '#' that jsonschema does not look up by itself).
VALIDATOR = jsonschema.Draft201909Validator(json.loads((ROOT / "tests" / "data" / "compose_spec.json").read_text()))


def test_matches_the_compose_spec_schema() -> None:
    VALIDATOR.validate(COMPOSE)


def test_schema_check_would_catch_a_mistake() -> None:
    broken = {**COMPOSE, "services": {**COMPOSE["services"], "worker": {**COMPOSE["services"]["worker"],
                                                                        "deploy": {"replicas": "two"}}}}
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(broken)


def test_stack_shape() -> None:
    services = COMPOSE["services"]
    redis = services["redis"]
    assert "--appendonly" in redis["command"] and redis["volumes"] == ["redis-data:/data"]
    # A password from .env, required: compose refuses to start without one.
    assert redis["command"][redis["command"].index("--requirepass") + 1].startswith("${REDIS_PASSWORD:?")
    assert "PONG" in " ".join(redis["healthcheck"]["test"])
    assert services["poller"]["command"] == ["poller"] and "deploy" not in services["poller"]
    assert services["worker"]["command"] == ["worker"] and services["worker"]["deploy"]["replicas"] >= 2
    dashboard = services["dashboard"]
    assert dashboard["profiles"] == ["dashboard"] and dashboard["build"] == "docker/dashboard"
    assert "pip" not in json.dumps(dashboard)  # built from pins, nothing installed at start
    for name in ("poller", "worker"):
        assert services[name]["env_file"] == ".env"
        assert services[name]["environment"]["NOTIFIER_REDIS_URL"] == "redis://redis:6379/0"
        assert services[name]["environment"]["NOTIFIER_REDIS_PASSWORD"].startswith("${REDIS_PASSWORD:?")
        assert services[name]["healthcheck"]["test"][:3] == ["CMD", "notifier", "health"]
        assert services[name]["environment"]["NOTIFIER_HTTP_HOST"] == "0.0.0.0"


def test_env_example_is_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, value = line.split("=", 1)
            monkeypatch.setenv(name, value)
    settings = load_settings(_env_file=None)
    assert settings.require_token()


def test_dockerfile_passes_hadolint() -> None:
    done = subprocess.run([str(Path(sys.executable).parent / "hadolint"), "Dockerfile"], cwd=ROOT, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_dashboard_is_pinned() -> None:
    lines = [line.strip() for line in (ROOT / "docker" / "dashboard" / "requirements.txt").read_text().splitlines()]
    pins = [line for line in lines if line and not line.startswith("#")]
    assert pins and all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][A-Za-z0-9.]*", pin) for pin in pins), pins
    assert "rq-dashboard==0.9.0" in pins
    rq_pin = next(pin for pin in pins if pin.startswith("rq=="))
    assert rq_pin == f"rq=={metadata.version('rq')}"  # the dashboard reads jobs as the workers write them
    dockerfile = (ROOT / "docker" / "dashboard" / "Dockerfile").read_text()
    assert "--no-deps -r /tmp/requirements.txt" in dockerfile
    done = subprocess.run([str(Path(sys.executable).parent / "hadolint"), "docker/dashboard/Dockerfile"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_monitoring_profile_provisions_prometheus_and_grafana_with_the_dashboard() -> None:
    services = COMPOSE["services"]
    prometheus, grafana = services["prometheus"], services["grafana"]
    assert prometheus["profiles"] == ["monitoring"] and grafana["profiles"] == ["monitoring"]
    for service in (prometheus, grafana):
        assert re.fullmatch(r"[a-z/]+:v?\d+\.\d+\.\d+", service["image"]), service["image"]  # pinned
        assert all(port.startswith("127.0.0.1:") for port in service["ports"])
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in [*prometheus["volumes"], *grafana["volumes"]]}
    config = yaml.safe_load((ROOT / mounts["/etc/prometheus/prometheus.yml"]).read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["notifier-poller"]["static_configs"][0]["targets"] == ["poller:8080"]
    assert jobs["notifier-worker"]["dns_sd_configs"][0]["names"] == ["worker"]
    provisioning = ROOT / mounts["/etc/grafana/provisioning"]
    source = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"][0]
    assert source["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((provisioning / "dashboards" / "notifier.yml").read_text())["providers"][0]
    dashboards = ROOT / mounts[provider["options"]["path"]]
    dashboard = json.loads((dashboards / "notifier.json").read_text())
    assert {panel["datasource"]["uid"] for panel in dashboard["panels"]} == {source["uid"]}
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{provider['options']['path']}/notifier.json"
    # Without the profile nothing of it starts: the default stack is what it was.
    assert all("monitoring" not in service.get("profiles", []) for name, service in services.items()
               if name not in ("prometheus", "grafana"))
