"""Batch delivery: one RQ job sends many events to one webhook, concurrently.

RQ costs a few milliseconds per job, which caps one-job-per-delivery at a few hundred a second; a
burst of events for a webhook is therefore enqueued as jobs of up to ``delivery_batch_size`` events,
each sent with up to ``delivery_concurrency`` requests in flight. What fails in a batch does not fail
the batch: each failed delivery becomes its own single-delivery job with the usual policy (a retry
after the back-off, or the failed registry with its reason when the refusal is final), so retries,
``notifier replay`` and the failed registry work per delivery as before. A worker killed mid-batch
leaves the batch to be run again (at least once: receivers deduplicate on ``webhook-id``).

A sink whose last batch timed out or could not connect entirely is "open" for a while: its batches
wait in the scheduler instead of tying up a worker for the whole timeout, so a dead endpoint does
not slow the healthy ones.

Every wait is a floor, counted from the answer that asked for it: a follow-up is scheduled for its
exact not-before time, which its meta keeps (see :mod:`notifier.delivery.policy`).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from rq import Queue, Retry, get_current_job
from rq.job import JobStatus
from rq.registry import FailedJobRegistry
from rq.results import Result

from notifier.delivery.circuit import OPEN_FOR_S
from notifier.delivery.context import DeliveryContext, current_context
from notifier.delivery.enqueue import (
    BATCH_FUNC,
    CRASH_RETRY_INTERVAL_S,
    JOB_FUNC,
    batch_job_id,
    batch_limit,
    job_id,
    make_queue,
)
from notifier.delivery.policy import NOT_BEFORE, detected_at, later, next_try, retry_soon, wait_until_due
from notifier.delivery.sinks import Sink
from notifier.delivery.sinks.base import SinkRequest, SinkResponse
from notifier.delivery.sinks.bulk import send_all
from notifier.errors import DeliveryError
from notifier.ops.metrics import metrics
from notifier.state.events import Event
from notifier.upstream.clean import clean_text

log = logging.getLogger(__name__)


def single_job_kwargs(ctx: DeliveryContext, sink: Sink, event: Event, failures: int) -> dict[str, Any]:
    settings = ctx.settings
    return {
        "args": (sink.name, event.id, event.payload()),
        "job_id": job_id(event.id, sink.name),
        "timeout": settings.delivery_job_timeout_s,
        "result_ttl": 0,
        "failure_ttl": settings.failed_ttl_s,
        "description": clean_text(f"{event.type} {event.item_id} -> {sink.name}"),
        "meta": {"failures": failures},
    }


def follow_up(ctx: DeliveryContext, queue: Queue, sink: Sink, event: Event, error: DeliveryError) -> float | None:
    """Hand one failed delivery of a batch to the single-delivery policy: the seconds until its retry, or None
    when it was filed as failed for good."""
    rate_limited = error.status_code == 429
    failures = 0 if rate_limited else 1
    kwargs = single_job_kwargs(ctx, sink, event, failures)
    delay = (error.retry_after_s or 1.0) if rate_limited else next_try(error, failures, ctx.settings, ctx.rng)
    if delay is not None:
        # Counted from this event's answer, not from the end of the batch. RQ scores the job in
        # not_before's second; the delivery workers' scheduler holds it until not_before itself.
        not_before = (error.answered_at if error.answered_at is not None else time.time()) + delay
        kwargs["meta"][NOT_BEFORE] = not_before
        queue.enqueue_at(datetime.fromtimestamp(not_before, UTC), JOB_FUNC,
                         retry=Retry(max=ctx.settings.crash_retries), **kwargs)
        return delay
    # Final refusal: file it as a failed delivery with its reason, without sending it again.
    job = queue.create_job(JOB_FUNC, status=JobStatus.FAILED, **kwargs)
    reason = ctx.redactor.redact(str(error))
    with ctx.store.pipeline() as pipe:
        job.save(pipeline=pipe)
        FailedJobRegistry(queue=queue).add(job, ttl=ctx.settings.failed_ttl_s, exc_string=reason, pipeline=pipe)
        Result.create_failure(job, ctx.settings.failed_ttl_s, exc_string=reason, pipeline=pipe)
        pipe.execute()
    return None


def build_or_error(sink: Sink, event: Event, now: float) -> SinkRequest | DeliveryError:
    """The event's request, or, when it cannot be built, that event's own final failure (not the batch's)."""
    try:
        return sink.build_request(event, now)
    except Exception as exc:  # a bug or data no sink can send: the rest of the batch still goes
        log.exception("%s: could not build the request for event %s", sink.name, event.id,
                      extra={"event_id": event.id, "sink": sink.name})
        reason = clean_text(str(exc))[:200]
        return DeliveryError(f"{sink.kind}: could not build the request ({type(exc).__name__}: {reason})",
                             retryable=False)


def _split_off(ctx: DeliveryContext, sink_name: str, rest: list[list[Any]], limit: int) -> None:
    queue = make_queue(ctx.store, ctx.settings)
    for start in range(0, len(rest), limit):
        chunk = rest[start:start + limit]
        queue.enqueue(BATCH_FUNC, args=(sink_name, chunk), job_id=batch_job_id(sink_name, [i[0] for i in chunk]),
                      timeout=ctx.settings.delivery_job_timeout_s, result_ttl=0, failure_ttl=ctx.settings.failed_ttl_s,
                      retry=Retry(max=ctx.settings.crash_retries, interval=CRASH_RETRY_INTERVAL_S),
                      description=f"{len(chunk)} events -> {sink_name}")


def deliver_batch(sink_name: str, items: list[list[Any]]) -> Retry | None:
    """The RQ job: send several events to one webhook at once."""
    ctx = current_context()
    job = get_current_job()
    sink = ctx.sinks.get(sink_name)
    if sink is None:
        error = DeliveryError(f"sink {sink_name!r} is not configured in this process", retryable=False)
        log.error("batch of %d failed for good: %s", len(items), error, extra={"sink": sink_name})
        if job is not None:
            job.retries_left = 0  # final: no crash retries; `notifier replay` once the sink is back
        raise error
    early = wait_until_due(job)
    if early is not None:
        return early
    left = ctx.guard.open_for_s(sink_name)
    if left > 0:
        # This endpoint was found dead moments ago: wait instead of holding a worker.
        return later(job, left)
    lease = ctx.guard.acquire(sink_name)
    if lease is None:
        return retry_soon(job)
    limit = batch_limit(ctx.settings)
    if len(items) > limit:
        # Enqueued with a larger batch (an older version, other settings): one round now, the rest as new jobs
        # (here, past the last `later`, so a rescheduled job does not split twice).
        _split_off(ctx, sink_name, items[limit:], limit)
        items = items[:limit]
    events = [Event(id=eid, type=p["type"], timestamp=p["timestamp"], data=p["data"]) for eid, p in items]
    now = time.time()
    try:
        requests = [build_or_error(sink, event, now) for event in events]
        built = [r for r in requests if isinstance(r, SinkRequest)]
        sent = send_all(built, ctx.settings.delivery_timeout_s, ctx.settings.delivery_concurrency,
                          policy=ctx.egress) if built else []
    finally:
        ctx.guard.release(sink_name, lease)
    answers = iter(sent)
    results = [next(answers) if isinstance(r, SinkRequest) else r for r in requests]
    failed = [(e, r) for e, r in zip(events, results, strict=True) if isinstance(r, DeliveryError)]
    if sent and all(isinstance(r, DeliveryError) and r.status_code is None and r.retryable for r in sent):
        ctx.guard.trip(sink_name)
        log.warning("%s: every delivery of a batch of %d timed out or could not connect; leaving it alone for "
                    "%d s", sink_name, len(sent), OPEN_FOR_S, extra={"sink": sink_name})
    queue = make_queue(ctx.store, ctx.settings)
    tries: list[tuple[Event, SinkResponse | DeliveryError, float | None]] = []
    for event, result in zip(events, results, strict=True):
        fields = {"event_id": event.id, "event_type": event.type, "image_id": event.item_id,
                  "account": event.data.get("email"), "sink": sink_name}
        if isinstance(result, SinkResponse):
            metrics().deliveries.labels(sink.kind, "delivered").inc()
            detected = detected_at(event.timestamp)
            if detected is not None:
                metrics().delivery_latency.labels(sink.kind).observe(max(0.0, time.time() - detected))
            log.info("delivered %s for image %s to %s: %d", event.type, fields["image_id"], sink_name,
                     result.status_code, extra=fields)
            tries.append((event, result, None))
        else:
            delay = follow_up(ctx, queue, sink, event, result)
            tries.append((event, result, delay))
            outcome = "failed" if delay is None else f"retry in {delay:.1f} s"
            metrics().deliveries.labels(sink.kind, "retry" if delay is not None else "failed").inc()
            log.warning("delivery failed (%s): %s", outcome, result, extra=fields)
    ctx.log_attempts(sink_name, tries)
    if job is not None and failed:
        job.meta["failed"] = len(failed)
        job.save_meta()  # type: ignore[no-untyped-call]
    return None

