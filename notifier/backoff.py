"""How long to wait. Pure: takes ``now`` and a random source, never sleeps."""

from __future__ import annotations

import random
from email.utils import parsedate_to_datetime

MAX_RETRY_AFTER_S = 3600.0


def exponential_s(attempt: int, *, base_s: float, max_s: float, factor: float = 3.0) -> float:
    """The un-jittered wait before try ``attempt + 1`` (attempt counts from 1)."""
    return float(min(max_s, base_s * factor ** max(0, attempt - 1)))


def jittered_s(delay_s: float, rng: random.Random, spread: float = 0.2) -> float:
    """``delay_s`` moved by up to ``spread`` either way, so clients that failed together retry apart."""
    return max(0.0, delay_s * (1.0 + rng.uniform(-spread, spread)))


def backoff_s(
    attempt: int,
    *,
    base_s: float,
    max_s: float,
    rng: random.Random,
    retry_after_s: float | None = None,
) -> float:
    """Wait before the next try: exponential with jitter, never shorter than the server's Retry-After."""
    delay = min(max_s, jittered_s(exponential_s(attempt, base_s=base_s, max_s=max_s), rng))
    if retry_after_s is not None:
        return max(delay, min(retry_after_s, MAX_RETRY_AFTER_S))
    return delay


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP-date); None when absent or garbage."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if seconds != seconds:  # NaN
        return None
    return max(0.0, min(seconds, MAX_RETRY_AFTER_S))
