"""The Grafana dashboard (docker/grafana/dashboards/notifier.json) asks only for metrics the code exports."""

from __future__ import annotations

import json
import re

import fakeredis
from prometheus_client import generate_latest

from notifier.ops.metrics import serving_registry
from notifier.state.keys import Keys
from tests.conftest import ROOT

DASHBOARD = json.loads((ROOT / "docker" / "grafana" / "dashboards" / "notifier.json").read_text())
_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def exported() -> set[str]:
    """Every series name ``/metrics`` can show, read from what the code registers (not a list kept here)."""
    text = generate_latest(serving_registry(fakeredis.FakeRedis(), Keys("t"), "q")).decode()
    names = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE):
        base = name.removesuffix("_total") if kind == "counter" else name
        names.update(base + suffix for suffix in _SUFFIXES.get(kind, ("",)))
    return names


def queries() -> list[str]:
    return [target["expr"] for panel in DASHBOARD["panels"] for target in panel["targets"]]


def test_every_query_names_a_metric_the_code_exports() -> None:
    names = exported()
    assert {"notifier_generation_seconds_bucket", "notifier_outcomes_total"} <= names
    for expr in queries():
        used = set(re.findall(r"\bnotifier_[a-z_]+\b", expr))
        assert used, expr
        assert used <= names, (expr, used - names)


def test_the_check_would_catch_a_misspelt_metric() -> None:
    assert "notifier_outcome_total" not in exported()


def test_the_generation_metrics_are_on_the_dashboard() -> None:
    joined = "\n".join(queries())
    assert "notifier_generation_seconds_bucket" in joined and "notifier_outcomes_total" in joined
    assert 'outcome="moderated"' in joined
