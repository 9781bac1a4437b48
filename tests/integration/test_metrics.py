"""/metrics after real deliveries under `notifier run`: counters from every process, added up."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import A, Stack
from tests.support.processes import settings_env, wait_until
from tests.support.redis_server import free_port

pytestmark = pytest.mark.integration


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
    except httpx.HTTPError:
        return False


def test_metrics_count_what_happened(stack: Callable[..., Stack]) -> None:
    port = free_port()
    s = stack(http_port=port, worker_count=2)
    s.sim.state.add_history(A, 10)
    s.spawn(["run"])
    wait_until(lambda: ready(port), 30, "/readyz to answer 200")
    health = subprocess.run([sys.executable, "-m", "notifier.cli", "health"], env=settings_env(s.settings),
                            capture_output=True, text=True, timeout=30)
    assert (health.returncode, health.stdout.strip()) == (0, "healthy")
    assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200

    done = [s.sim.state.add_image(A, 1) for _ in range(2)]
    s.sim.state.add_image(A, 9)
    got = s.receiver.wait_for(lambda got: len(got) == 3, 30)
    wait_until(lambda: scrape(port).get(("notifier_deliveries_total",
                                         (("outcome", "delivered"), ("sink_kind", "webhook")))) == 3,
               10, "the third delivery to be counted")
    m = scrape(port)
    assert m[("notifier_events_total", (("type", "image.completed"),))] == 2
    assert m[("notifier_events_total", (("type", "image.generating"),))] == 1
    assert m[("notifier_delivery_latency_seconds_count", (("sink_kind", "webhook"),))] == 3
    assert m[("notifier_upstream_requests_total", (("endpoint", "images"), ("outcome", "ok")))] >= 2
    assert m[("notifier_poll_cycle_duration_seconds_count", ())] >= 2
    assert m[("notifier_tracked_images", (("status", "GENERATING"),))] == 1
    assert m[("notifier_queue_depth", (("state", "queued"),))] == 0
    assert m[("notifier_failed_deliveries", ())] == 0
    delivered = {r.payload["data"]["image_id"] for r in got if r.payload}
    assert set(done) <= delivered
