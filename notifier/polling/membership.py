"""The pollers sharing one Redis: check-ins, who is live, and a lease on each account while it is polled.

A poller checks in every fifth of ``poller_ttl_s`` with Redis' own clock (``TIME``), so that pollers on
machines whose clocks disagree still agree on who is live. Which accounts are its own is decided by
:mod:`notifier.polling.shard` from that list. While it polls an account it holds the account's lease
(``SET NX PX``), renewed at every check-in and given up when the poll ends: a poller that dies lets its
leases lapse within ``poller_ttl_s``, and two pollers that briefly disagree on the membership never poll
one account at the same time.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Iterable

import redis

from notifier.polling.schedule import Since
from notifier.polling.shard import live_pollers
from notifier.state.keys import Keys

log = logging.getLogger(__name__)

FORGET_AFTER = 10
"""Check-ins older than this many ``poller_ttl_s`` are removed from the list."""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_RENEW = """
local renewed = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    renewed = renewed + 1
  end
end
return renewed
"""


def new_poller_id() -> str:
    """Unique across machines and restarts; says where the poller runs (host and pid) for people."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


class Membership:
    def __init__(self, client: redis.Redis, keys: Keys, ttl_s: float, poller_id: str | None = None) -> None:
        self._redis = client
        self._keys = keys
        self.ttl_s = ttl_s
        self.id = poller_id or new_poller_id()
        self._release = client.register_script(_RELEASE)
        self._renew = client.register_script(_RENEW)

    @property
    def _ttl_ms(self) -> int:
        return max(1, int(self.ttl_s * 1000))

    def check_in(self) -> list[str]:
        """Record this poller as live; return the live pollers (itself included). Raises RedisError."""
        seconds, micros = self._redis.time()
        now = seconds + micros / 1e6
        key = self._keys.pollers()
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {self.id: now})
            pipe.zremrangebyscore(key, "-inf", now - FORGET_AFTER * self.ttl_s)
            pipe.expire(key, max(60, int(FORGET_AFTER * self.ttl_s)))
            pipe.zrange(key, 0, -1, withscores=True)
            beats = pipe.execute()[-1]
        return live_pollers({_text(member): float(at) for member, at in beats}, now, self.ttl_s)

    def check_in_and_renew(self, live: list[str], holding: list[str]) -> list[str]:
        """Check in and renew the leases of the polls in flight; the live pollers (the last known on error)."""
        try:
            fresh = self.check_in()
            self.renew(holding)
        except redis.RedisError as exc:
            log.debug("could not check in: %s", exc)
            return live
        if fresh != live:
            log.info("%d poller(s) share the accounts: %s", len(fresh), ", ".join(fresh))
        return fresh

    def leave(self) -> None:
        """A poller that stops hands its accounts over at once instead of after ``poller_ttl_s``."""
        self._redis.zrem(self._keys.pollers(), self.id)

    def acquire(self, account: str) -> bool:
        """Take the account's poll lease; False when another poller holds it. Raises RedisError."""
        return bool(self._redis.set(self._keys.poll_lease(account), self.id, nx=True, px=self._ttl_ms))

    def claim(self, unit: str, keys: Keys, account: str, now: float) -> tuple[bool, Since]:
        """Take the unit's poll lease and read, in the same round trip, how long ago the account was last
        polled (by any poller) and whether it tracks images in progress. Raises RedisError."""
        with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(self._keys.poll_lease(unit), self.id, nx=True, px=self._ttl_ms)
            pipe.zscore(keys.accounts(), account)
            pipe.hlen(keys.tracked(account))
            got, at, tracked = pipe.execute()
        return bool(got), (None if at is None else max(0.0, now - float(at)), bool(tracked))

    def release(self, account: str) -> None:
        self._release(keys=[self._keys.poll_lease(account)], args=[self.id])

    def renew(self, accounts: Iterable[str]) -> int:
        """Extend the leases still held on ``accounts``; how many were still ours."""
        keys = [self._keys.poll_lease(account) for account in accounts]
        return int(self._renew(keys=keys, args=[self.id, self._ttl_ms])) if keys else 0


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
