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

from notifier.polling.membership import Membership
from notifier.polling.schedule import AccountSchedule, Since, polled_recently, resume_at
from notifier.runtime.settings import Settings
from notifier.state.keys import Keys

log = logging.getLogger(__name__)


class Named(Protocol):
    @property
    def name(self) -> str: ...

LEASE_RETRY_S = 0.25
"""An account whose lease another poller holds (it is handing the account over) is tried again this soon."""


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


def claim(membership: Membership, unit: str, keys: Keys, account: str, settings: Settings, *, now: float,
          monotonic: Callable[[], float]) -> float | None:
    """Take the unit's lease to poll it now (None), or say when to try again: its lease is another poller's,
    or another poller polled it a moment ago (it owned it a moment ago: keep that pace). Raises RedisError."""
    got, (since_last_s, active) = membership.claim(unit, keys, account, now)
    if not got:
        return monotonic() + LEASE_RETRY_S
    if polled_recently(since_last_s, active, settings):
        membership.release(unit)
        return resume_at(monotonic(), since_last_s, active, settings)
    return None
