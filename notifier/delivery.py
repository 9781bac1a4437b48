"""Delivery of events to sinks through RQ: one job per (event, sink), with the retry policy.

Retry policy:
- a retryable failure (timeout, connection error, 408/409/425/429, 5xx) is
  tried again after an exponential, jittered wait that is never shorter than
  the sink's ``Retry-After``; the job returns ``rq.Retry`` to reschedule itself;
- a permanent failure (other 4xx, redirects) or the last allowed try raises
  :class:`DeliveryError`, which leaves the job in RQ's failed registry with
  the reason, for ``notifier replay``;
- a worker that dies mid-delivery (SIGKILL, OOM) leaves the job in RQ's
  started registry; the next worker maintenance pass finds it abandoned and
  retries it (``crash_retries`` such tries are allowed).
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import redis
from rq import Queue, Retry, get_current_job
from rq.serializers import JSONSerializer

from notifier.backoff import backoff_s
from notifier.circuit import SinkGuard
from notifier.connection import connect
from notifier.errors import DeliveryError
from notifier.events import Event
from notifier.keys import Keys
from notifier.metrics import metrics
from notifier.ratelimit import RateLimiter
from notifier.settings import Settings, load_settings
from notifier.sinks import Sink, build_sinks
from notifier.tracker import EnqueueFn

log = logging.getLogger(__name__)

JOB_FUNC = "notifier.delivery.deliver"
# Crash retries re-enqueue at once: a delay would need RQ's scheduler, whose lock a killed
# worker keeps for about a minute.
CRASH_RETRY_INTERVAL_S = 0
MAX_INLINE_WAIT_S = 2.0
"""A rate-limit wait up to this long is slept in the job; a longer one reschedules it."""
TRIES_PER_ATTEMPT = 5
"""Rate-limited tries (429) do not count as failures, but a delivery gets at most this many per attempt."""
DEFAULT_429_WAIT_S = 1.0
_RQ_RETRY_CAP = 1_000_000
GONE_STATUSES = frozenset({404, 410})


def make_queue(client: redis.Redis, settings: Settings) -> Queue:
    return Queue(
        settings.queue_name,
        connection=client,
        serializer=JSONSerializer,
        default_timeout=settings.delivery_job_timeout_s,
    )


def job_id(event_id: str, sink_name: str) -> str:
    return f"{event_id}-{sink_name}"


def make_enqueuer(queue: Queue, sinks: Sequence[Sink], settings: Settings) -> EnqueueFn:
    """The function the tracker calls inside its MULTI to add one job per (event, sink)."""

    common = {
        "timeout": settings.delivery_job_timeout_s,
        "result_ttl": 0,
        "failure_ttl": settings.failed_ttl_s,
        "retry": Retry(max=settings.crash_retries, interval=CRASH_RETRY_INTERVAL_S),
    }

    def enqueue(pipe: Any, events: Sequence[Event]) -> None:
        from notifier.batch_delivery import BATCH_FUNC, batch_job_id

        datas = []
        for sink in sinks:
            routed = [event for event in events if sink.accepts(event)]
            size = settings.delivery_batch_size
            if len(routed) > 1 and size > 1 and sink.config.rate_per_s is None:
                # A burst: a few jobs that each send many at once (see notifier.batch_delivery).
                for start in range(0, len(routed), size):
                    chunk = routed[start:start + size]
                    datas.append(Queue.prepare_data(
                        BATCH_FUNC,
                        args=(sink.name, [[event.id, event.payload()] for event in chunk]),
                        job_id=batch_job_id(sink.name, [event.id for event in chunk]),
                        description=f"{len(chunk)} events -> {sink.name}",
                        **common,  # type: ignore[arg-type]
                    ))
                continue
            datas += [
                Queue.prepare_data(
                    JOB_FUNC,
                    args=(sink.name, event.id, event.payload()),
                    job_id=job_id(event.id, sink.name),
                    description=f"{event.type} {event.data['image_id']} -> {sink.name}",
                    **common,  # type: ignore[arg-type]
                )
                for event in routed
            ]
        if datas:
            queue.enqueue_many(datas, pipeline=pipe)

    return enqueue


@dataclass
class DeliveryContext:
    """What one worker process reuses across jobs: settings, sinks, one HTTP client, Redis."""

    settings: Settings
    sinks: dict[str, Sink]
    client: httpx.Client
    rng: random.Random
    store: redis.Redis
    limiter: RateLimiter
    guard: SinkGuard

    @classmethod
    def from_settings(cls, settings: Settings, client: redis.Redis | None = None) -> DeliveryContext:
        connection = client if client is not None else connect(settings)
        http = httpx.Client(
            follow_redirects=False,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=32),
        )
        return cls(
            settings=settings,
            sinks=build_sinks(settings),
            client=http,
            rng=random.Random(),
            store=connection,
            limiter=RateLimiter(connection, Keys(settings.key_prefix)),
            # A send ends within the delivery timeout: a lease older than that belongs to a dead worker,
            # and expires before RQ notices the abandoned job (job timeout + grace is longer).
            guard=SinkGuard(connection, Keys(settings.key_prefix), math.ceil(settings.delivery_timeout_s) + 2),
        )


_context: DeliveryContext | None = None


def install(context: DeliveryContext | None) -> None:
    global _context
    _context = context


def current_context() -> DeliveryContext:
    global _context
    if _context is None:
        # A worker started by plain `rq worker` rather than `notifier worker`.
        _context = DeliveryContext.from_settings(load_settings())
    return _context


def next_try(
    error: DeliveryError, failures: int, settings: Settings, rng: random.Random
) -> float | None:
    """Seconds until the next try after the ``failures``-th failure, or None when it is final. Pure."""
    if not error.retryable or failures >= settings.delivery_max_attempts:
        return None
    return backoff_s(
        failures,
        base_s=settings.delivery_backoff_base_s,
        max_s=settings.delivery_backoff_max_s,
        rng=rng,
        retry_after_s=error.retry_after_s,
    )


def _wait_for_turn(ctx: DeliveryContext, sink: Sink) -> float:
    """Take a rate-limit token, sleeping for short waits; returns a longer wait still ahead (0 = go)."""
    rate = sink.config.rate_per_s
    if rate is None:
        return 0.0
    waited = 0.0
    while True:
        wait = ctx.limiter.acquire(sink.name, rate, sink.config.burst)
        if wait <= 0:
            return 0.0
        if waited + wait > MAX_INLINE_WAIT_S:
            return wait
        time.sleep(wait)
        waited += wait


def later(seconds: float) -> Retry:
    # RQ would fail a job that returned Retry more than `max` times, with no reason recorded; the job
    # decides itself when to give up (failures, 429s) and raises then, so RQ's own cap is out of reach.
    return Retry(max=_RQ_RETRY_CAP, interval=max(1, math.ceil(seconds)))


def deliver(sink_name: str, event_id: str, payload: dict[str, Any]) -> Retry | None:
    """The RQ job: send one event to one sink."""
    ctx = current_context()
    job = get_current_job()
    failures = int(job.meta.get("failures", 0)) if job is not None else 0
    tries = (job.number_of_retries or 0) + 1 if job is not None else 1
    event = Event(id=event_id, type=payload["type"], timestamp=payload["timestamp"], data=payload["data"])
    fields = {"event_id": event_id, "event_type": event.type, "image_id": event.data.get("image_id"),
              "account": event.data.get("email"), "sink": sink_name, "try": tries}
    sink = ctx.sinks.get(sink_name)
    try:
        if sink is None:
            raise DeliveryError(f"sink {sink_name!r} is not configured in this process", retryable=False)
        wait = ctx.guard.open_for_s(sink_name) or _wait_for_turn(ctx, sink)
        if wait > 0:
            metrics().deliveries.labels(sink.kind, "rate_limited").inc()
            log.info("%s: not now (rate limit or unreachable), next try in %.1f s", sink_name, wait, extra=fields)
            return later(wait)
        lease = ctx.guard.acquire(sink_name)
        if lease is None:
            return later(1)  # another worker is on this sink: stay free for the others
        try:
            response = sink.send(ctx.client, sink.build_request(event, time.time()), ctx.settings.delivery_timeout_s)
        except DeliveryError as error:
            if error.status_code is None:
                ctx.guard.trip(sink_name)
            raise
        finally:
            ctx.guard.release(sink_name, lease)
    except DeliveryError as error:
        max_tries = ctx.settings.delivery_max_attempts * TRIES_PER_ATTEMPT
        if error.status_code == 429 and sink is not None and tries < max_tries:
            # The destination's own limit: everyone waits, and it is not this event's failure.
            seconds = error.retry_after_s if error.retry_after_s is not None else DEFAULT_429_WAIT_S
            ctx.limiter.block(sink_name, seconds)
            metrics().deliveries.labels(sink.kind, "rate_limited").inc()
            log.info("%s answered 429: waiting %.1f s before the next try", sink_name, seconds, extra=fields)
            return later(seconds)
        failures += 1
        if job is not None:
            job.meta["failures"] = failures
            job.save_meta()  # type: ignore[no-untyped-call]
        delay = next_try(error, failures, ctx.settings, ctx.rng)
        if delay is None:
            if job is not None:
                # Final: no crash retries either, so RQ files it as failed with this reason.
                job.retries_left = 0
            _log_final(ctx, sink_name, error, fields)
            metrics().deliveries.labels(sink.kind if sink else "unknown", "failed").inc()
            raise
        metrics().deliveries.labels(sink.kind if sink else "unknown", "retry").inc()
        log.warning("delivery failed, retrying in %.1f s: %s", delay, error, extra=fields)
        return later(delay)
    assert sink is not None
    metrics().deliveries.labels(sink.kind, "delivered").inc()
    detected = detected_at(event.timestamp)
    if detected is not None:
        metrics().delivery_latency.labels(sink.kind).observe(max(0.0, time.time() - detected))
    log.info(
        "delivered %s for image %s to %s: %d in %.0f ms",
        event.type, fields["image_id"], sink_name, response.status_code, response.elapsed_s * 1000, extra=fields,
    )
    return None


def detected_at(value: str) -> float | None:
    """When the change was detected: the event's ``timestamp``."""
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _log_final(ctx: DeliveryContext, sink_name: str, error: DeliveryError, fields: dict[str, Any]) -> None:
    if error.status_code not in GONE_STATUSES:
        log.error("delivery failed for good: %s", error, extra=fields)
        return
    # A deleted webhook or archived channel: say it once an hour, not once per event.
    first = ctx.store.set(Keys(ctx.settings.key_prefix).gone(sink_name), str(error), nx=True, ex=3600)
    level = logging.ERROR if first else logging.INFO
    log.log(level, "%s is gone (%s); deliveries to it fail without retries until it is fixed", sink_name,
            error, extra=fields)
