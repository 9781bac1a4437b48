"""Polling figures: detection latency, upstream requests per cycle, a 1,000-account cycle, Redis memory."""

from __future__ import annotations

import json
import math
import random
import time
from typing import Any

import redis

from bench.delivery import SECRET
from bench.harness import Receiver, env_for, peak_rss_mb, percentile, simulator_process, spawn, stop
from notifier.polling.poller import Poller
from notifier.runtime.app import build_tracker
from notifier.runtime.settings import Settings
from notifier.sandbox.sim_state import SimState
from notifier.sandbox.simulator import Simulator
from notifier.state.keys import Keys
from notifier.state.tracker import Observation
from notifier.state.transitions import Mode
from notifier.upstream.client import UpstreamClient
from notifier.upstream.scan import ScanLimits, scan_account
from notifier.upstream.statuses import resolve

TOKEN = "user:1-bench"  # noqa: S105 - the simulator's token


def detection(redis_url: str, receiver: Receiver, *, images: int, window_s: float,
              fixed_interval_s: float | None = None) -> tuple[list[float], list[float], float, float]:
    """Latencies (s) from a status change in the simulator to the receiver: of images already being
    generated (QUEUED seen, then the change to COMPLETED), and of images first seen (the change to
    GENERATING, often the first sight of a new image); the poller's peak RSS (MB); and the upstream
    requests per hour it spent on the account. ``fixed_interval_s`` turns adaptive polling off.
    A change that never arrives counts as an infinite latency.
    """
    receiver.reset()
    receiver.track_changes = True
    state = SimState(TOKEN)
    account = "artist@example.com"
    state.add_history(account, 20)
    prefix = f"detect{random.randrange(10**9)}"
    with Simulator(state) as sim:
        values: dict[str, Any] = {"useapi_token": TOKEN, "useapi_base_url": sim.url, "accounts": account,
                                  "redis_url": redis_url, "key_prefix": prefix, "queue_name": prefix,
                                  "webhooks": json.dumps([{"url": receiver.url, "secret": SECRET}]),
                                  "http_port": 0, "api_port": 0, "log_level": "WARNING"}
        if fixed_interval_s is not None:
            values["poll_interval_s"] = values["poll_interval_active_s"] = fixed_interval_s
        poller, worker = spawn(["poller"], env_for(values)), spawn(["worker"], env_for(values))
        try:
            deadline = time.monotonic() + 30
            while state.count("images", account) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            rng = random.Random(7)
            counted_from, counted = time.monotonic(), state.count("images", account)
            changes: dict[str, float] = {}
            finals: set[str] = set()
            now = time.time()
            for _ in range(images):
                generating, done = rng.uniform(0.5, window_s / 2), rng.uniform(window_s / 2, window_s)
                image_id = state.add_image(account, 5, steps=[(generating, 9), (done, 1)])
                changes[f"{image_id}|GENERATING"] = now + generating
                changes[f"{image_id}|COMPLETED"] = now + done
                finals.add(f"{image_id}|COMPLETED")
            deadline = time.monotonic() + window_s + 30
            while not finals <= set(receiver.changes) and time.monotonic() < deadline:
                time.sleep(0.05)
            # The same span for every configuration: the account generates for the window, then is idle
            # four times as long (busy 20% of the time).
            time.sleep(max(0.0, counted_from + 5 * window_s - time.monotonic()))
            per_hour = (state.count("images", account) - counted) / (time.monotonic() - counted_from) * 3600
            rss = peak_rss_mb(poller.pid)
        finally:
            stop(poller)
            stop(worker)
    in_progress = [receiver.changes.get(key, math.inf) - at for key, at in changes.items() if key in finals]
    first = [receiver.changes.get(key, math.inf) - at for key, at in changes.items() if key not in finals]
    return in_progress, first, rss, per_hour


def _tracker(redis_url: str, prefix: str) -> Any:
    settings = Settings(_env_file=None, redis_url=redis_url, key_prefix=prefix, queue_name=prefix)
    return build_tracker(settings, redis.Redis.from_url(redis_url))


def requests_per_cycle(redis_url: str, finished: int, active: int, page_size: int = 50) -> tuple[int, int]:
    """(requests of a steady-state poll of one account, requests to page through all of it)."""
    state = SimState(TOKEN)
    account = "a@x.com"
    state.add_account(account)
    state.add_history(account, finished)
    for _ in range(active):
        state.add_image(account, 9)
    tracker = _tracker(redis_url, f"req{random.randrange(10**9)}")
    limits = ScanLimits(page_size=page_size, max_pages=1000, max_lookups=1000, max_age_s=86400)
    with Simulator(state) as sim, UpstreamClient(sim.url, TOKEN, timeout_s=10) as upstream:
        scan_account(upstream, tracker, account, limits=limits, now=time.time())
        tracker.finish_cycle(account, time.time())
        before = state.count()
        scan_account(upstream, tracker, account, limits=limits, now=time.time())
        steady = state.count() - before
    return steady, max(1, math.ceil((finished + active) / page_size))


def cycle_over_accounts(redis_url: str, accounts: int, repeats: int, media: str = "images,videos") -> list[float]:
    """Seconds for one poll of every account (after their first poll), ``repeats`` times; one request per
    account and medium watched (``NOTIFIER_MEDIA``)."""
    emails = [f"user{n}@example.com" for n in range(accounts)]
    prefix = f"cycle{random.randrange(10**9)}"
    with simulator_process(TOKEN, accounts, 3) as sim_url:
        settings = Settings(_env_file=None, useapi_token=TOKEN, useapi_base_url=sim_url, accounts=",".join(emails),
                            redis_url=redis_url, key_prefix=prefix, queue_name=prefix, media=media)
        client = redis.Redis.from_url(redis_url)
        upstream = UpstreamClient(sim_url, TOKEN, timeout_s=10, max_connections=settings.poll_concurrency * 2)
        poller = Poller(settings, upstream, build_tracker(settings, client), client)
        try:
            poller.run_cycle(force=True)
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                result = poller.run_cycle(force=True)
                times.append(time.perf_counter() - started)
                assert not result.errors, result.errors
        finally:
            poller.close()
    return times


def memory_per_image(redis_url: str, count: int) -> tuple[float, float, int]:
    """Redis bytes per tracked image, per finished image still remembered (until NOTIFIER_KNOWN_TTL_S), and
    how many of notifier's own keys have no TTL (they would never go away)."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    base = int(client.info("memory")["used_memory"])
    prefix = "mem"
    tracker = _tracker(redis_url, prefix)
    account = "artist@example.com"
    ids = [f"user:1234-pixverse:{account}-image:{10_000_000 + n}" for n in range(count)]
    now = time.time()
    for start in range(0, count, 500):
        batch = [Observation({"image_id": i, "image_status": 9}, resolve({"image_status": 9}))
                 for i in ids[start:start + 500]]
        tracker.apply(account, batch, mode=Mode.BASELINE, now=now)
    tracked = (int(client.info("memory")["used_memory"]) - base) / count
    for start in range(0, count, 500):
        batch = [Observation({"image_id": i, "image_status": 1}, resolve({"image_status": 1}))
                 for i in ids[start:start + 500]]
        tracker.apply(account, batch, mode=Mode.BASELINE, now=now)
    assert client.hlen(Keys(prefix).tracked(account)) == 0
    finished = (int(client.info("memory")["used_memory"]) - base) / count
    tracker.finish_cycle(account, now)
    no_ttl = sum(1 for key in client.scan_iter(f"{prefix}:*") if client.ttl(key) == -1)
    client.flushdb()
    return tracked, finished, no_ttl


__all__ = ["cycle_over_accounts", "detection", "memory_per_image", "percentile", "requests_per_cycle"]
