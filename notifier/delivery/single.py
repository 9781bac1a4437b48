"""The single-delivery job: one event to one sink, with the retry policy.

Retry policy:
- a retryable failure (timeout, connection error, 408/409/425/429, 5xx) is
  tried again after an exponential, jittered wait that is never shorter than
  the sink's ``Retry-After``; the job returns ``rq.Retry`` to reschedule itself,
  and waits out what RQ's whole-second scheduling would cut from that wait
  (see :mod:`notifier.delivery.policy`);
- a permanent failure (other 4xx, redirects) or the last allowed try raises
  :class:`DeliveryError`, which leaves the job in RQ's failed registry with
  the reason, for ``notifier replay``;
- a worker that dies mid-delivery (SIGKILL, OOM) leaves the job in RQ's
  started registry; the next worker maintenance pass finds it abandoned and
  retries it (``crash_retries`` such tries are allowed).

Order: a delivery handed over by the dispatcher holds its item (image, video) for its sink while it is
retried, so that item's later events wait (see :mod:`notifier.delivery.outbox`); each retry keeps the
hold for as long as it waits, and the hold ends once the delivery is delivered or has failed for good
(:func:`_settled`), which wakes the sink's dispatcher if events were waiting behind it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from rq import Retry, get_current_job

from notifier.delivery.context import DeliveryContext, current_context
from notifier.delivery.enqueue import kick, make_queue
from notifier.delivery.outbox import item_key
from notifier.delivery.policy import (
    DEFAULT_429_WAIT_S,
    TRIES_PER_ATTEMPT,
    detected_at,
    later,
    next_try,
    retry_soon,
    wait_until_due,
)
from notifier.delivery.sinks import Sink
from notifier.errors import DeliveryError
from notifier.ops.metrics import metrics
from notifier.state.events import Event
from notifier.state.keys import Keys

log = logging.getLogger(__name__)

MAX_INLINE_WAIT_S = 2.0
"""A job sleeps at most this long in all before it sends (its not-before time, then the rate limit);
a longer rate-limit wait reschedules it."""
GONE_STATUSES = frozenset({404, 410})


def _wait_for_turn(ctx: DeliveryContext, sink: Sink, budget_s: float) -> float:
    """Take a rate-limit token, sleeping up to ``budget_s`` in all; returns a longer wait still ahead (0 = go)."""
    rate = sink.config.rate_per_s
    if rate is None:
        return 0.0
    waited = 0.0
    while True:
        wait = ctx.limiter.acquire(sink.name, rate, sink.config.burst)
        if wait <= 0:
            return 0.0
        if waited + wait > budget_s:
            return wait
        time.sleep(wait)
        waited += wait


def deliver(sink_name: str, event_id: str, payload: dict[str, Any]) -> Retry | None:
    """The RQ job: send one event to one sink."""
    ctx = current_context()
    job = get_current_job()
    failures = int(job.meta.get("failures", 0)) if job is not None else 0
    tries = (job.number_of_retries or 0) + 1 if job is not None else 1
    event = Event(id=event_id, type=payload["type"], timestamp=payload["timestamp"], data=payload["data"])
    fields = {"event_id": event_id, "event_type": event.type, "image_id": event.item_id,
              "account": event.data.get("email"), "sink": sink_name, "try": tries}
    sink = ctx.sinks.get(sink_name)
    started = time.monotonic()
    early = wait_until_due(job)  # before the lease: nobody else waits on this one's sleep
    if early is not None:
        log.debug("%s: started before its time, back to the scheduler", sink_name, extra=fields)
        return early
    try:
        if sink is None:
            raise DeliveryError(f"sink {sink_name!r} is not configured in this process", retryable=False)
        budget = MAX_INLINE_WAIT_S - (time.monotonic() - started)
        wait = ctx.guard.open_for_s(sink_name) or _wait_for_turn(ctx, sink, budget)
        if wait > 0:
            metrics().deliveries.labels(sink.kind, "rate_limited").inc()
            log.info("%s: not now (rate limit or unreachable), next try in %.1f s", sink_name, wait, extra=fields)
            ctx.outbox.touch(sink_name, item_key(event.data), event_id, wait)
            return later(job, wait)
        lease = ctx.guard.acquire(sink_name)
        if lease is None:
            return retry_soon(job)  # another worker is on this sink: stay free for the others
        try:
            response = sink.send(ctx.client, sink.build_request(event, time.time()), ctx.settings.delivery_timeout_s)
        except DeliveryError as error:
            if error.status_code is None and error.retryable:  # unreachable (a refusal is no outage)
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
            ctx.log_attempts(sink_name, [(event, error, seconds)])
            metrics().deliveries.labels(sink.kind, "rate_limited").inc()
            log.info("%s answered 429: waiting %.1f s before the next try", sink_name, seconds, extra=fields)
            ctx.outbox.touch(sink_name, item_key(event.data), event_id, seconds)
            return later(job, seconds)
        failures += 1
        if job is not None:
            job.meta["failures"] = failures
            job.save_meta()  # type: ignore[no-untyped-call]
        delay = next_try(error, failures, ctx.settings, ctx.rng)
        ctx.log_attempts(sink_name, [(event, error, delay)])
        if delay is None:
            if job is not None:
                # Final: no crash retries either, so RQ files it as failed with this reason.
                job.retries_left = 0
            _log_final(ctx, sink_name, error, fields)
            metrics().deliveries.labels(sink.kind if sink else "unknown", "failed").inc()
            _settled(ctx, sink_name, event)
            raise
        metrics().deliveries.labels(sink.kind if sink else "unknown", "retry").inc()
        log.warning("delivery failed, retrying in %.1f s: %s", delay, error, extra=fields)
        ctx.outbox.touch(sink_name, item_key(event.data), event_id, delay)
        return later(job, delay)
    assert sink is not None
    ctx.log_attempts(sink_name, [(event, response, None)])
    _settled(ctx, sink_name, event)
    metrics().deliveries.labels(sink.kind, "delivered").inc()
    detected = detected_at(event.timestamp)
    if detected is not None:
        metrics().delivery_latency.labels(sink.kind).observe(max(0.0, time.time() - detected))
    log.info(
        "delivered %s for image %s to %s: %d in %.0f ms",
        event.type, fields["image_id"], sink_name, response.status_code, response.elapsed_s * 1000, extra=fields,
    )
    return None


def _settled(ctx: DeliveryContext, sink_name: str, event: Event) -> None:
    """This delivery is over (delivered, or failed for good): its item's later events may go."""
    if ctx.outbox.release(sink_name, item_key(event.data), event.id):
        kick(make_queue(ctx.store, ctx.settings), sink_name, settings_timeout_s=ctx.settings.delivery_job_timeout_s,
             crash_retries=ctx.settings.crash_retries)


def _log_final(ctx: DeliveryContext, sink_name: str, error: DeliveryError, fields: dict[str, Any]) -> None:
    if error.status_code not in GONE_STATUSES:
        log.error("delivery failed for good: %s", error, extra=fields)
        return
    # A deleted webhook or archived channel: say it once an hour, not once per event.
    first = ctx.store.set(Keys(ctx.settings.key_prefix).gone(sink_name), str(error), nx=True, ex=3600)
    level = logging.ERROR if first else logging.INFO
    log.log(level, "%s is gone (%s); deliveries to it fail without retries until it is fixed", sink_name,
            error, extra=fields)
