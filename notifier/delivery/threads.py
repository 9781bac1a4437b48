"""Where each item's Slack thread is: per bot sink and item, in Redis with a TTL.

A thread's hash holds ``ts`` (its first message), ``channel``, ``shown`` (the timestamp of the event the
first message shows), ``parent_event`` (the event that posted it) and ``r:<event id>`` (the reply each
event posted), so a delivery tried again after a crash or a failed update posts nothing twice.

Posting the first message is claimed (``SET NX`` with a TTL a little over the delivery timeout): of two
events of one item delivered at once, one posts the first message and the other waits for it and
replies in its thread. A claim whose post failed is given up, so the next try (of either event) posts it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import redis

from notifier.state.keys import Keys

# KEYS: thread hash. ARGV: event timestamp, ttl. Moves `shown` forward only; 1 when this event is the latest.
_SHOW = """
local shown = redis.call('HGET', KEYS[1], 'shown')
if shown and shown > ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'shown', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True, slots=True)
class Thread:
    ts: str | None
    channel: str | None
    parent_event: str | None
    replies: dict[str, str]


class ThreadStore:
    def __init__(self, client: redis.Redis, keys: Keys, ttl_s: int) -> None:
        self._redis = client
        self._keys = keys
        self._ttl_s = ttl_s
        self._show = client.register_script(_SHOW)
        self._release = client.register_script(_RELEASE)

    def get(self, sink: str, item: str) -> Thread:
        raw: dict[bytes, bytes] = self._redis.hgetall(self._keys.thread(sink, item))  # type: ignore[assignment]
        fields = {k.decode(): v.decode() for k, v in raw.items()}
        replies = {k[2:]: v for k, v in fields.items() if k.startswith("r:")}
        return Thread(fields.get("ts"), fields.get("channel"), fields.get("parent_event"), replies)

    def claim(self, sink: str, item: str, hold_s: int) -> str | None:
        """A token when this delivery may post the item's first message; None while another one does."""
        token = uuid.uuid4().hex
        if self._redis.set(self._keys.thread_claim(sink, item), token, nx=True, ex=hold_s):
            return token
        return None

    def release(self, sink: str, item: str, token: str) -> None:
        self._release(keys=[self._keys.thread_claim(sink, item)], args=[token])

    def started(self, sink: str, item: str, *, ts: str, channel: str, event_id: str, shown: str) -> None:
        key = self._keys.thread(sink, item)
        with self._redis.pipeline() as pipe:
            pipe.hset(key, mapping={"ts": ts, "channel": channel, "parent_event": event_id, "shown": shown})
            pipe.expire(key, self._ttl_s)
            pipe.execute()

    def replied(self, sink: str, item: str, event_id: str, ts: str) -> None:
        key = self._keys.thread(sink, item)
        with self._redis.pipeline() as pipe:
            pipe.hset(key, f"r:{event_id}", ts)
            pipe.expire(key, self._ttl_s)
            pipe.execute()

    def show(self, sink: str, item: str, timestamp: str) -> bool:
        """Record that the first message shows this event's status; False when a later one shows already."""
        return bool(self._show(keys=[self._keys.thread(sink, item)], args=[timestamp, self._ttl_s]))

    def forget(self, sink: str, item: str) -> None:
        """The first message is gone (deleted in Slack): the item's next event starts a new thread."""
        self._redis.delete(self._keys.thread(sink, item))
