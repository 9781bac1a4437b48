"""Is this service healthy? Redis answers, and the poller and workers checked in recently. Pure but for reads."""

from __future__ import annotations

import time
from typing import Literal

import redis
from rq import Worker

from notifier.delivery.enqueue import make_queue
from notifier.runtime.settings import Settings
from notifier.state.keys import Keys

Role = Literal["run", "poller", "worker"]


def poller_stale_after_s(settings: Settings) -> float:
    # The poller checks in every second while its loop runs, even while accounts are paused.
    return 30.0 + 3 * settings.poll_interval_s


def worker_stale_after_s(settings: Settings) -> float:
    # RQ workers check in between jobs, at least every worker_ttl (job timeout + 15 s).
    return settings.delivery_job_timeout_s + 15 + 30


def problems(settings: Settings, client: redis.Redis, role: Role, *, now: float | None = None) -> list[str]:
    """What is wrong, in words; empty when healthy."""
    now = time.time() if now is None else now
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        return [f"Redis does not answer ({type(exc).__name__})"]
    found = []
    if role in ("run", "poller"):
        beat = client.get(Keys(settings.key_prefix).heartbeat("poller"))
        if beat is None:
            found.append("the poller has not checked in yet")
        elif now - float(beat) > poller_stale_after_s(settings):
            found.append(f"the poller last checked in {now - float(beat):.0f} s ago")
    if role in ("run", "worker"):
        workers = Worker.all(queue=make_queue(client, settings))
        beats = [w.last_heartbeat.timestamp() for w in workers if w.last_heartbeat is not None]
        if not beats or now - max(beats) > worker_stale_after_s(settings):
            found.append("no delivery worker checked in recently")
    return found
