"""When to try a delivery again (pure, but for building RQ's ``Retry``)."""

from __future__ import annotations

import math
import random
from datetime import datetime

from rq import Retry

from notifier.backoff import backoff_s
from notifier.errors import DeliveryError
from notifier.runtime.settings import Settings

TRIES_PER_ATTEMPT = 5
"""Rate-limited tries (429) do not count as failures, but a delivery gets at most this many per attempt."""
DEFAULT_429_WAIT_S = 1.0
_RQ_RETRY_CAP = 1_000_000


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


def later(seconds: float) -> Retry:
    # RQ would fail a job that returned Retry more than `max` times, with no reason recorded; the job
    # decides itself when to give up (failures, 429s) and raises then, so RQ's own cap is out of reach.
    return Retry(max=_RQ_RETRY_CAP, interval=max(1, math.ceil(seconds)))


def detected_at(value: str) -> float | None:
    """When the change was detected: the event's ``timestamp``."""
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
