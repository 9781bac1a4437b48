"""When to try a delivery again: pure functions, and the helpers a job calls to be rescheduled or to wait.

Every delay here is a floor (a ``Retry-After``, Discord's ``retry_after``, the shared rate-limit wait, an
open circuit, the back-off): the next try must not leave before it. RQ alone would break that: it scores a
scheduled job in whole seconds (``ScheduledJobRegistry.schedule`` drops the fraction) and its scheduler
enqueues every job whose second has begun, once a second, so a job scheduled for 12:00:41.789 may start at
12:00:41.0; rounding up instead makes it up to 2 s late. So:

- the exact time goes in the job's meta (``not_before``, epoch seconds), and the job is scheduled for a
  whole second no later than it (``rq_interval_s``; a batch's follow-up is scheduled at that very time);
- the delivery workers' scheduler (:class:`workers.scheduler.NotBeforeScheduler`) keeps a job in the
  scheduled registry until its ``not_before`` has passed: at most about a second late, its poll;
- a job that starts before its ``not_before`` anyway (a wait under a second, which RQ cannot schedule; a
  plain RQ scheduler; a job requeued by hand) sleeps the rest when that is under a second, else goes back
  to the scheduler (``wait_until_due``). Never early, whoever enqueued it.
"""

from __future__ import annotations

import math
import random
import time
from datetime import datetime

from rq import Retry
from rq.job import Job

from notifier.backoff import backoff_s
from notifier.errors import DeliveryError
from notifier.runtime.settings import Settings

TRIES_PER_ATTEMPT = 5
"""Rate-limited tries (429) do not count as failures, but a delivery gets at most this many per attempt."""
DEFAULT_429_WAIT_S = 1.0
NOT_BEFORE = "not_before"
"""The job-meta key of the time (epoch seconds) before which the job's next try must not leave."""
_RQ_RETRY_CAP = 1_000_000


def next_try(
    error: DeliveryError, failures: int, settings: Settings, rng: random.Random
) -> float | None:
    """Seconds until the next try after the ``failures``-th failure, or None when it is final. Pure."""
    cap = settings.delivery_max_attempts
    if error.max_attempts is not None:
        cap = min(cap, error.max_attempts)
    if not error.retryable or failures >= cap:
        return None
    return backoff_s(
        failures,
        base_s=settings.delivery_backoff_base_s,
        max_s=settings.delivery_backoff_max_s,
        rng=rng,
        retry_after_s=error.retry_after_s,
    )


def wait_left_s(not_before: float | None, now: float) -> float:
    """Seconds a try starting at ``now`` must still wait so it leaves no earlier than ``not_before``. Pure."""
    if not_before is None or now >= not_before:
        return 0.0
    return not_before - now


def rq_interval_s(wait_s: float) -> int:
    """Whole seconds for ``Retry(interval=...)`` for a try due ``wait_s`` from now. Pure.

    Rounded down: RQ adds it to its own clock (read a moment later) and drops the fraction, so the job's
    score is never more than that moment after its not-before time, and at most 2 s before it, where the
    scheduler holds it. 0 (under a second) has RQ enqueue the job at once; it then sleeps the rest.
    """
    return max(0, math.floor(wait_s))


def not_before_of(meta: dict[str, object]) -> float | None:
    """The not-before time a job's meta holds, if any. Pure."""
    value = meta.get(NOT_BEFORE)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def retry_at(job: Job | None, not_before: float, now: float) -> Retry:
    """Reschedule the running job for a try not before ``not_before``, which its meta keeps."""
    if job is not None:
        job.meta[NOT_BEFORE] = not_before
        job.save_meta()  # type: ignore[no-untyped-call]
    # RQ would fail a job that returned Retry more than `max` times, with no reason recorded; the job
    # decides itself when to give up (failures, 429s) and raises then, so RQ's own cap is out of reach.
    return Retry(max=_RQ_RETRY_CAP, interval=rq_interval_s(not_before - now))


def later(job: Job | None, seconds: float) -> Retry:
    """Reschedule the running job for a try ``seconds`` from now, and not a moment sooner."""
    now = time.time()
    return retry_at(job, now + max(0.0, seconds), now)


def retry_soon(job: Job | None) -> Retry:
    """Reschedule the running job for a try in a second or two, with no time to keep (a busy sink)."""
    if job is not None and job.meta.pop(NOT_BEFORE, None) is not None:
        job.save_meta()  # type: ignore[no-untyped-call]
    return Retry(max=_RQ_RETRY_CAP, interval=1)


def wait_until_due(job: Job | None) -> Retry | None:
    """At the start of a job: None once it may send, after sleeping the rest if it started less than a
    second before its ``not_before``; a ``Retry`` back to the scheduler if it started a second or more early.
    """
    not_before = not_before_of(job.meta) if job is not None else None
    now = time.time()
    left = wait_left_s(not_before, now)
    if not_before is None or left <= 0:
        return None
    if rq_interval_s(left) > 0:
        return retry_at(job, not_before, now)
    while left > 0:  # time.time() is the clock that set not_before; sleep() counts on another one
        time.sleep(left)
        left = wait_left_s(not_before, time.time())
    return None


def detected_at(value: str) -> float | None:
    """When the change was detected: the event's ``timestamp``."""
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
