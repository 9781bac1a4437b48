"""Prometheus metrics.

Counters and histograms are kept by the process that does the work; under
``notifier run`` every child writes them to ``PROMETHEUS_MULTIPROC_DIR`` (set
by the supervisor) and the supervisor's ``/metrics`` adds them up with
prometheus-client's multiprocess collector. Gauges that describe shared state
(tracked images, queue depth, failed deliveries) are read from Redis at
scrape time by the serving process, so they are right however many processes
run; two round trips whatever the number of accounts, and the answer is kept
for ``GAUGE_CACHE_S`` so that frequent scrapes cost Redis nothing more.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import redis
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import REGISTRY, Collector

from notifier.state.keys import Keys

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60, 300, 1800, 7200)
GENERATION_BUCKETS = (5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 900, 1800, 3600, 7200)
GAUGE_CACHE_S = 5.0


@dataclass(frozen=True)
class Metrics:
    upstream_requests: Counter
    poll_duration: Histogram
    events: Counter
    deliveries: Counter
    delivery_latency: Histogram
    generation: Histogram
    outcomes: Counter


@cache
def metrics() -> Metrics:
    """The process's metrics, made on first use (not at import)."""
    return Metrics(
        upstream_requests=Counter(
            "notifier_upstream_requests", "Requests to the upstream API.", ["endpoint", "outcome"]
        ),
        poll_duration=Histogram(
            "notifier_poll_cycle_duration_seconds", "Time to poll one account once.",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        ),
        events=Counter("notifier_events", "Events emitted (status changes).", ["type"]),
        deliveries=Counter(
            "notifier_deliveries", "Delivery tries by outcome: delivered, retry, rate_limited, failed.",
            ["sink_kind", "outcome"],
        ),
        delivery_latency=Histogram(
            "notifier_delivery_latency_seconds", "From detecting a change to the sink's acknowledgment.",
            ["sink_kind"], buckets=LATENCY_BUCKETS,
        ),
        generation=Histogram(
            "notifier_generation_seconds", "From an item's creation to its final status (timing.total_s).",
            ["media", "model", "outcome"], buckets=GENERATION_BUCKETS,
        ),
        outcomes=Counter(
            "notifier_outcomes", "Items that ended, by how: completed, moderated, failed, deleted, unknown, expired.",
            ["media", "model", "outcome"],
        ),
    )


def observe_final(event: Any) -> None:
    """Count an event that ends an item (final, or expired) in the generation metrics; others are ignored."""
    from notifier.ops.generation import labels_of

    labels = labels_of(event.type, event.data)
    if labels is None:
        return
    metrics().outcomes.labels(*labels).inc()
    timing = event.data.get("timing")
    total = timing.get("total_s") if isinstance(timing, dict) else None
    if isinstance(total, int | float) and labels[2] != "expired":
        metrics().generation.labels(*labels).observe(float(total))


class RedisStateCollector(Collector):
    """Shared state, read from Redis at scrape time (at most once per ``cache_s``)."""

    def __init__(self, client: redis.Redis, keys: Keys, queue_name: str, *, cache_s: float = GAUGE_CACHE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._redis = client
        self._keys = keys
        self._queue = queue_name
        self._cache_s = cache_s
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, list[GaugeMetricFamily]] | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:  # concurrent scrapes wait for one read instead of each reading
            now = self._clock()
            if self._cached is None or now - self._cached[0] >= self._cache_s:
                self._cached = (now, self._read())
            families = self._cached[1]
        yield from families

    def _read(self) -> list[GaugeMetricFamily]:
        accounts: list[bytes] = self._redis.zrange(self._keys.accounts(), 0, -1)  # type: ignore[assignment]
        with self._redis.pipeline(transaction=False) as pipe:
            for account in accounts:
                pipe.hvals(self._keys.tracked(account.decode()))
            pipe.llen(f"rq:queue:{self._queue}")
            pipe.zcard(f"rq:scheduled:{self._queue}")
            pipe.zcard(f"rq:wip:{self._queue}")
            pipe.zcard(f"rq:failed:{self._queue}")
            *per_account, queued, scheduled, started, failed_count = pipe.execute()
        tracked = GaugeMetricFamily("notifier_tracked_images", "Images tracked (not final yet) by status.",
                                    labels=["status"])
        by_status: Tally[str] = Tally()
        for values in per_account:
            for raw in values:
                by_status[json.loads(raw)[0]] += 1
        for status, count in sorted(by_status.items()):
            tracked.add_metric([status], count)
        depth = GaugeMetricFamily("notifier_queue_depth", "Delivery jobs waiting, by state.", labels=["state"])
        depth.add_metric(["queued"], int(queued))
        depth.add_metric(["scheduled"], int(scheduled))
        depth.add_metric(["started"], int(started))
        failed = GaugeMetricFamily("notifier_failed_deliveries", "Deliveries in the failed registry.")
        failed.add_metric([], int(failed_count))
        return [tracked, depth, failed]


class _Combined(Collector):
    def __init__(self, *sources: Collector) -> None:
        self._sources = sources

    def collect(self) -> Iterator[Metric]:
        for source in self._sources:
            yield from source.collect()


def serving_registry(client: redis.Redis, keys: Keys, queue_name: str) -> CollectorRegistry:
    """What ``/metrics`` shows: every process's counters (multiprocess mode) or this one's, plus Redis state."""
    multiproc_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if multiproc_dir:
        counters: Collector = MultiProcessCollector(None, path=multiproc_dir)  # type: ignore[no-untyped-call]
    else:
        metrics()  # so the families show before the first event
        counters = REGISTRY
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Combined(counters, RedisStateCollector(client, keys, queue_name)))
    return registry


def retire_process(pid: int, multiproc_dir: str) -> None:
    """A child process is gone: fold its counters and histograms into ``<type>_retired.db``, drop its files.

    prometheus-client keeps one file per process and reads every one at each scrape; without this, each
    restart of a child would leave files behind and make ``/metrics`` slower. Sums stay right: counters and
    histogram buckets of the dead process are added to the retired totals.
    """
    mark_process_dead(pid, multiproc_dir)  # type: ignore[no-untyped-call]
    for kind in ("counter", "histogram"):
        dead = Path(multiproc_dir) / f"{kind}_{pid}.db"
        if not dead.exists():
            continue
        retired = MmapedDict(str(Path(multiproc_dir) / f"{kind}_retired.db"))  # type: ignore[no-untyped-call]
        try:
            for key, value, timestamp, _ in MmapedDict.read_all_values_from_file(str(dead)):  # type: ignore[no-untyped-call]
                total, _ts = retired.read_value(key)  # type: ignore[no-untyped-call]
                retired.write_value(key, total + value, timestamp)  # type: ignore[no-untyped-call]
        finally:
            retired.close()  # type: ignore[no-untyped-call]
        dead.unlink()
