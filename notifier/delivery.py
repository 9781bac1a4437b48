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
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import redis
from rq import Queue, Retry, get_current_job
from rq.serializers import JSONSerializer

from notifier.backoff import backoff_s
from notifier.errors import DeliveryError
from notifier.events import Event
from notifier.settings import Settings, load_settings
from notifier.sinks import Sink, build_sinks, routes
from notifier.tracker import EnqueueFn

log = logging.getLogger(__name__)

JOB_FUNC = "notifier.delivery.deliver"
# Crash retries re-enqueue at once: a delay would need RQ's scheduler, whose lock a killed
# worker keeps for about a minute.
CRASH_RETRY_INTERVAL_S = 0


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

    def enqueue(pipe: Any, events: Sequence[Event]) -> None:
        datas = [
            Queue.prepare_data(
                JOB_FUNC,
                args=(sink.name, event.id, event.payload()),
                job_id=job_id(event.id, sink.name),
                timeout=settings.delivery_job_timeout_s,
                result_ttl=0,
                failure_ttl=settings.failed_ttl_s,
                description=f"{event.type} {event.data['image_id']} -> {sink.name}",
                retry=Retry(max=settings.crash_retries, interval=CRASH_RETRY_INTERVAL_S),
            )
            for event in events
            for sink in routes(sinks, event.type)
        ]
        if datas:
            queue.enqueue_many(datas, pipeline=pipe)

    return enqueue


@dataclass
class DeliveryContext:
    """What one worker process reuses across jobs: settings, sinks, one HTTP client."""

    settings: Settings
    sinks: dict[str, Sink]
    client: httpx.Client
    rng: random.Random

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryContext:
        client = httpx.Client(
            follow_redirects=False,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=32),
        )
        return cls(settings=settings, sinks=build_sinks(settings), client=client, rng=random.Random())


_context: DeliveryContext | None = None


def install(context: DeliveryContext) -> None:
    global _context
    _context = context


def current_context() -> DeliveryContext:
    global _context
    if _context is None:
        # A worker started by plain `rq worker` rather than `notifier worker`.
        _context = DeliveryContext.from_settings(load_settings())
    return _context


def next_try(
    error: DeliveryError, attempt: int, settings: Settings, rng: random.Random
) -> float | None:
    """Seconds until the next try, or None when this failure is final. Pure."""
    if not error.retryable or attempt >= settings.delivery_max_attempts:
        return None
    return backoff_s(
        attempt,
        base_s=settings.delivery_backoff_base_s,
        max_s=settings.delivery_backoff_max_s,
        rng=rng,
        retry_after_s=error.retry_after_s,
    )


def deliver(sink_name: str, event_id: str, payload: dict[str, Any]) -> Retry | None:
    """The RQ job: send one event to one sink."""
    ctx = current_context()
    job = get_current_job()
    attempt = (job.number_of_retries or 0) + 1 if job is not None else 1
    event = Event(id=event_id, type=payload["type"], timestamp=payload["timestamp"], data=payload["data"])
    fields = {
        "event_id": event_id,
        "event_type": event.type,
        "image_id": event.data.get("image_id"),
        "account": event.data.get("email"),
        "sink": sink_name,
        "attempt": attempt,
    }
    sink = ctx.sinks.get(sink_name)
    try:
        if sink is None:
            raise DeliveryError(f"sink {sink_name!r} is not configured in this process", retryable=False)
        response = sink.send(ctx.client, sink.build_request(event, time.time()), ctx.settings.delivery_timeout_s)
    except DeliveryError as error:
        delay = next_try(error, attempt, ctx.settings, ctx.rng)
        if delay is None:
            if job is not None:
                # Final: no crash retries either, so RQ files it as failed with this reason.
                job.retries_left = 0
            log.error("delivery failed for good: %s", error, extra={**fields, "final": True})
            raise
        log.warning("delivery failed, retrying in %.1f s: %s", delay, error, extra=fields)
        return Retry(max=ctx.settings.delivery_max_attempts, interval=max(1, round(delay)))
    log.info(
        "delivered %s for image %s to %s: %d in %.0f ms",
        event.type,
        fields["image_id"],
        sink_name,
        response.status_code,
        response.elapsed_s * 1000,
        extra=fields,
    )
    return None
