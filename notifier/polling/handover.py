"""An account that comes to this poller (another joined or died, or this one just started) keeps its pace.

Its last poll, by whichever poller made it, is in Redis: the first poll here comes one interval after
it, not at once, so that starting pollers or moving accounts between them costs no extra upstream
requests. An account never polled, or whose last poll is long past, is polled at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from typing import Protocol

import redis

from notifier.polling.schedule import AccountSchedule, resume_at
from notifier.runtime.settings import Settings
from notifier.state.keys import Keys

log = logging.getLogger(__name__)


class Named(Protocol):
    @property
    def name(self) -> str: ...

Since = tuple[float | None, bool]
"""Seconds since the account's last poll (None: never polled), and whether it had images in progress."""


def last_polls(client: redis.Redis, prefix: str, accounts: Mapping[str, tuple[str, str]], now: float
               ) -> dict[str, Since]:
    """For each unit (-> source name, email): how long ago it was last polled (wall clock), and whether it
    tracks images in progress. One round trip. Raises RedisError."""
    units: Sequence[str] = list(accounts)
    with client.pipeline(transaction=False) as pipe:
        for unit in units:
            source, email = accounts[unit]
            keys = Keys(prefix, source)
            pipe.zscore(keys.accounts(), email)
            pipe.hlen(keys.tracked(email))
        answers = pipe.execute()
    found: dict[str, Since] = {}
    for index, unit in enumerate(units):
        at, tracked = answers[2 * index], answers[2 * index + 1]
        found[unit] = (None if at is None else max(0.0, now - float(at)), bool(tracked))
    return found


def resume(client: redis.Redis, settings: Settings, gained: Mapping[str, tuple[Named, str]],
           schedules: MutableMapping[str, AccountSchedule], *, now: float, monotonic: Callable[[], float]) -> None:
    """Schedule the ``gained`` units (-> source, email) one interval after their last poll; at once when
    Redis cannot say (the lease still keeps two pollers apart)."""
    try:
        since = last_polls(client, settings.key_prefix, {u: (src.name, email) for u, (src, email) in gained.items()},
                           now)
    except redis.RedisError as exc:
        log.debug("could not read when the accounts were last polled: %s", exc)
        return
    mono = monotonic()
    for unit, (since_last_s, active) in since.items():
        schedule = schedules.setdefault(unit, AccountSchedule())
        if not schedule.failures:
            schedule.next_poll_at = resume_at(mono, since_last_s, active, settings)
