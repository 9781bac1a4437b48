"""When an account is polled next: after a success, after an error. Pure: plain data and settings in."""

from __future__ import annotations

import random
from dataclasses import dataclass

from notifier.backoff import backoff_s
from notifier.errors import UpstreamAuthError, UpstreamError
from notifier.runtime.settings import Settings

Since = tuple[float | None, bool]
"""Seconds since an account's last poll by any poller (None: never polled), and whether it tracks images in
progress."""

LONG_WAIT_S = 20.0
"""Images the upstream expects to need longer than this do not make their account poll faster yet."""


@dataclass(slots=True)
class AccountSchedule:
    next_poll_at: float = 0.0
    failures: int = 0
    last_error: str | None = None


def pause_after_error(
    error: Exception, failures: int, settings: Settings, rng: random.Random
) -> float:
    """Seconds an account waits after its ``failures``-th error in a row. Pure."""
    retry_after = error.retry_after_s if isinstance(error, UpstreamError) else None
    auth = isinstance(error, UpstreamAuthError)  # a 401 blip costs seconds; a bad token backs off to the pause
    return backoff_s(
        failures,
        base_s=max(settings.poll_interval_s, 1.0),
        max_s=settings.upstream_auth_pause_s if auth else settings.upstream_backoff_max_s,
        rng=rng,
        retry_after_s=retry_after,
    )


def next_interval_s(active: int, remaining_s: list[float | None], settings: Settings) -> float:
    """How long until an account's next poll. Pure.

    Idle accounts wait ``poll_interval_s``; accounts with images in progress ``poll_interval_active_s``,
    unless the upstream's estimates say every one of them needs a long while yet (over
    ``LONG_WAIT_S``): then they are polled like idle ones until the soonest is near.
    """
    if active == 0:
        return settings.poll_interval_s
    fast = min(settings.poll_interval_active_s, settings.poll_interval_s)
    if remaining_s and all(r is not None for r in remaining_s):
        soonest = min(r for r in remaining_s if r is not None)
        if soonest > LONG_WAIT_S:
            return min(settings.poll_interval_s, soonest - LONG_WAIT_S + fast)
    return fast


def _interval_s(active: bool, settings: Settings) -> float:
    return min(settings.poll_interval_active_s, settings.poll_interval_s) if active else settings.poll_interval_s


def resume_at(now: float, since_last_s: float | None, active: bool, settings: Settings) -> float:
    """When an account new to this poller is due: one interval after its last poll by any poller. Pure."""
    if since_last_s is None:
        return now
    return now + max(0.0, _interval_s(active, settings) - since_last_s)


def polled_recently(since_last_s: float | None, active: bool, settings: Settings) -> bool:
    """The account's last poll (by any poller) is under half an interval old: a poll now would be the same
    poll twice (pollers handing it over), not the next one. Pure."""
    return since_last_s is not None and since_last_s < _interval_s(active, settings) / 2
