"""Keeping a dead or slow endpoint from tying up the workers, shared by every worker through Redis.

- The circuit: when a delivery to a sink times out or cannot connect, the sink is left alone for
  ``OPEN_FOR_S``; its deliveries wait in RQ's scheduler instead of each holding a worker for the
  whole timeout.
- The lease: one delivery job per sink at a time. A job that finds the lease held by a delivery
  that started moments ago waits a little; one held for longer (a slow endpoint) goes back to the
  queue at once, so the other workers stay free for healthy sinks. A lease whose holder was a process
  of this machine that is gone (a killed worker) is taken over at once instead of waiting out its TTL.
"""

from __future__ import annotations

import os
import socket
import time
import uuid

import redis

from notifier.state.keys import Keys

OPEN_FOR_S = 30
WAIT_S = 0.1
"""How long a job waits for a lease whose holder started less than ``SLOW_AFTER_S`` ago."""
SLOW_AFTER_S = 0.2

_RENEW = """
if redis.call('GET', KEYS[1]) and string.find(redis.call('GET', KEYS[1]), ARGV[1], 1, true) == 1 then
  return redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) and string.find(redis.call('GET', KEYS[1]), ARGV[1], 1, true) == 1 then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class SinkGuard:
    def __init__(self, client: redis.Redis, keys: Keys, lease_ttl_s: int) -> None:
        self._redis = client
        self._keys = keys
        self._lease_ttl_s = lease_ttl_s
        self._release = client.register_script(_RELEASE)
        self._renew = client.register_script(_RENEW)

    def open_for_s(self, sink: str) -> float:
        """Seconds the circuit of ``sink`` stays open (0: closed)."""
        left = self._redis.pttl(self._keys.circuit(sink))
        return max(0.0, float(left) / 1000) if isinstance(left, int) and left > 0 else 0.0

    def trip(self, sink: str) -> None:
        self._redis.set(self._keys.circuit(sink), "1", ex=OPEN_FOR_S)

    def acquire(self, sink: str, key: str | None = None) -> str | None:
        """A lease token, or None when another delivery to ``sink`` is (still, or slowly) under way.

        ``key``: another lease of the sink than single deliveries' (the dispatcher's)."""
        lease = key if key is not None else self._keys.lease(sink)
        token = uuid.uuid4().hex
        deadline = time.monotonic() + WAIT_S
        while True:
            now = time.time()
            holder = f"{token}:{now}:{os.getpid()}:{socket.gethostname()}"
            if self._redis.set(lease, holder, nx=True, ex=self._lease_ttl_s):
                return token
            held: bytes | None = self._redis.get(lease)  # type: ignore[assignment]
            if held and _holder_gone(held.decode()):
                self._release(keys=[lease], args=[held.decode().split(":", 1)[0]])
                continue
            started = float(held.decode().split(":")[1]) if held else now
            if now - started > SLOW_AFTER_S or time.monotonic() > deadline:
                return None
            time.sleep(0.005)

    def release(self, sink: str, token: str, key: str | None = None) -> None:
        self._release(keys=[key if key is not None else self._keys.lease(sink)], args=[token])

    def renew(self, key: str, token: str) -> bool:
        """Keep a lease held by ``token`` for another TTL; False when it is no longer this holder's."""
        return bool(self._renew(keys=[key], args=[token, self._lease_ttl_s]))


def _holder_gone(held: str) -> bool:
    """The lease was taken by a process of this machine that no longer runs."""
    parts = held.split(":", 3)
    if len(parts) < 4 or parts[3] != socket.gethostname() or not parts[2].isdigit():
        return False
    pid = int(parts[2])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
