"""Delivery figures: throughput against a fast and a 100 ms receiver, and isolation from a dead endpoint."""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
import redis
from rq import Worker

from bench.harness import Receiver, cpu_s, env_for, peak_rss_mb, percentile, spawn, stop
from notifier.delivery.enqueue import make_enqueuer, make_queue
from notifier.delivery.sinks import build_sinks
from notifier.runtime.settings import Settings
from notifier.state.events import Event, build_event
from notifier.upstream.statuses import resolve

SECRET = "whsec_" + base64.b64encode(b"b" * 32).decode()
_runs = iter(range(10**6))


def events(count: int, tag: str) -> list[Event]:
    made = []
    for n in range(count):
        image = {"image_id": f"user:1-pixverse:bench@example.com-image:{tag}{n}", "image_status": 1,
                 "prompt": "a lighthouse at dusk, oil painting", "model": "qwen-image",
                 "image_url": f"https://media.pixverse.ai/image/{n}.webp"}
        made.append(build_event(image=image, account="bench@example.com", status=resolve(image), previous=None,
                                now=time.time()))
    return made


def _values(redis_url: str, hooks: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    run = next(_runs)
    import json

    return {"redis_url": redis_url, "key_prefix": f"bench{run}", "queue_name": f"bench{run}",
            "webhooks": json.dumps(hooks), "http_port": 0, "api_port": 0, "log_level": "WARNING", **extra}


def _settings(values: dict[str, Any]) -> Settings:
    return Settings(_env_file=None, **values)


def _start_workers(values: dict[str, Any], count: int) -> list[Any]:
    settings = _settings(values)
    client = redis.Redis.from_url(settings.redis_url)
    procs = [spawn(["worker"], env_for(values)) for _ in range(count)]
    queue = make_queue(client, settings)
    deadline = time.monotonic() + 30
    while len(Worker.all(queue=queue)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError("workers did not start")
        time.sleep(0.05)
    return procs


def _enqueue(values: dict[str, Any], batch: list[Event]) -> float:
    settings = _settings(values)
    client = redis.Redis.from_url(settings.redis_url)
    enqueue = make_enqueuer(make_queue(client, settings), list(build_sinks(settings).values()), settings)
    started = time.time()
    with client.pipeline() as pipe:
        pipe.multi()
        enqueue(pipe, batch)
        pipe.execute()
    return started


def throughput(redis_url: str, receiver: Receiver, count: int, workers: int = 1, **extra: Any) -> tuple[float, float]:
    """(deliveries/s from enqueue to the last acknowledgment, a worker's peak RSS in MB); ``extra``: settings."""
    receiver.reset()
    values = _values(redis_url, [{"url": receiver.url, "secret": SECRET, "name": "target"}], **extra)
    procs = _start_workers(values, workers)
    try:
        started = _enqueue(values, events(count, f"t{next(_runs)}-"))
        deadline = time.monotonic() + 600
        while receiver.count < count and time.monotonic() < deadline:
            time.sleep(0.01)
        elapsed = max(receiver.arrivals.values()) - started
        rss = peak_rss_mb(procs[0].pid)
    finally:
        for proc in procs:
            stop(proc)
    return receiver.count / elapsed, rss


def worker_cost(redis_url: str, receiver: Receiver, count: int, **extra: Any) -> tuple[float, float]:
    """(deliveries/s, the worker's CPU microseconds per delivery from the first enqueue to the last ack).

    CPU time is what a busy machine's noise barely moves: the attempt log's cost is compared on it too.
    """
    receiver.reset()
    values = _values(redis_url, [{"url": receiver.url, "secret": SECRET, "name": "target"}], **extra)
    procs = _start_workers(values, 1)
    try:
        before = cpu_s(procs[0].pid)
        started = _enqueue(values, events(count, f"c{next(_runs)}-"))
        deadline = time.monotonic() + 600
        while receiver.count < count and time.monotonic() < deadline:
            time.sleep(0.01)
        elapsed = max(receiver.arrivals.values()) - started
        time.sleep(0.3)  # the attempt log's background writes of the last deliveries
        used = cpu_s(procs[0].pid) - before
    finally:
        for proc in procs:
            stop(proc)
    return receiver.count / elapsed, used / count * 1e6


def plain_loop(receiver: Receiver, count: int) -> float:
    """The baseline: one reused httpx.Client POSTing the same signed bodies in a loop."""
    from notifier.delivery.sinks import webhook
    from notifier.runtime.sink_config import WebhookConfig

    config = WebhookConfig(url=receiver.url, secret=SECRET)
    requests = [webhook.build_request(event, config, time.time()) for event in events(count, f"p{next(_runs)}-")]
    with httpx.Client() as client:
        started = time.perf_counter()
        for request in requests:
            client.post(request.url, content=request.body, headers=request.headers)
        return count / (time.perf_counter() - started)


def isolation(redis_url: str, healthy: Receiver, dead: Receiver | None, *, count: int, spacing_s: float,
              limit_s: float) -> tuple[float, float, int]:
    """Healthy endpoint's (p50, p95) latency from enqueue to ack, and how many of ``count`` arrived in time."""
    healthy.reset()
    hooks = [{"url": healthy.url, "secret": SECRET, "name": "healthy"}]
    if dead is not None:
        hooks.append({"url": dead.url, "secret": SECRET, "name": "dead"})
    values = _values(redis_url, hooks)
    procs = _start_workers(values, 2)
    sent: dict[str, float] = {}
    try:
        for event in events(count, f"i{next(_runs)}-"):
            sent[event.id] = _enqueue(values, [event])
            time.sleep(spacing_s)
        deadline = time.monotonic() + limit_s
        while len(healthy.arrivals) < count and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        for proc in procs:
            stop(proc)
    latencies = [healthy.arrivals[eid] - at if eid in healthy.arrivals else float("inf") for eid, at in sent.items()]
    return percentile(latencies, 0.5), percentile(latencies, 0.95), len(healthy.arrivals)
