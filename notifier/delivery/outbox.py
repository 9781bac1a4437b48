"""A sink's outbox and the order of each item's events: Redis structures shared by every worker.

- The outbox: one Redis stream per sink. The tracker adds each routed event to it in the same MULTI as
  the state change (so an event is never lost between the two), with one dispatch job per sink and poll
  (see :mod:`notifier.delivery.dispatch`). Stream ids are given by Redis, so the outbox is in the order
  the events were recorded, whichever poller recorded them. An entry leaves the outbox only once its
  delivery has been handed to the delivery policy: delivered, filed as failed, or a retry job scheduled.
- Holds: an item's (image's, video's) event being delivered to a sink holds that item for that sink.
  A later event of the same item stays in the outbox until the hold ends: delivered or failed for good.
  A retrying event keeps its hold, refreshed at every try, and ends it when it is settled. Other items
  are never held. A hold carries a TTL (a lost retry job, whose worker died more often than
  ``crash_retries`` allows, would otherwise hold its item forever); past it the next event goes anyway.
- ``waiting`` and ``wake``: an item whose event waits behind a hold is noted; when that hold ends, the
  ``wake`` counter moves, telling the dispatcher to read the outbox again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

from notifier.state.events import Event
from notifier.state.keys import Keys

ITEM_FIELDS = (("video_id", "video"), ("image_id", "image"))
"""Which data field names the item an event is about, most specific first."""

_CLAIM = """
local out = {}
for i = 2, #KEYS do
  local eid = ARGV[2 * (i - 1)]
  local held = redis.call('GET', KEYS[i])
  if (not held) or held == eid then
    redis.call('SET', KEYS[i], eid, 'EX', ARGV[1])
    out[#out + 1] = 1
  else
    redis.call('SADD', KEYS[1], ARGV[2 * (i - 1) + 1])
    redis.call('EXPIRE', KEYS[1], ARGV[1])
    out[#out + 1] = 0
  end
end
return out
"""

# KEYS: hold, waiting, wake. ARGV: event id, item. Returns 1 when events of the item were waiting.
_RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if redis.call('SREM', KEYS[2], ARGV[2]) == 1 then
  redis.call('INCR', KEYS[3])
  redis.call('EXPIRE', KEYS[3], 86400)
  return 1
end
return 0
"""

# KEYS: waiting, wake, then one hold per delivery. ARGV: event id, item per delivery. Returns how many had
# events of their item waiting.
_RELEASE_MANY = """
local woken = 0
for i = 3, #KEYS do
  local eid, item = ARGV[2 * (i - 2) - 1], ARGV[2 * (i - 2)]
  if redis.call('GET', KEYS[i]) == eid then
    redis.call('DEL', KEYS[i])
    woken = woken + redis.call('SREM', KEYS[1], item)
  end
end
if woken > 0 then
  redis.call('INCR', KEYS[2])
  redis.call('EXPIRE', KEYS[2], 86400)
end
return woken
"""

_TOUCH = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


def item_key(data: dict[str, Any]) -> str:
    """The item an event is about, as "medium:id" (the order of events is kept per item). Pure."""
    for field, medium in ITEM_FIELDS:
        value = data.get(field)
        if value is not None and value != "":
            return f"{medium}:{value}"
    return "unknown:"


def fields_of(event: Event) -> dict[str, str]:
    """An outbox entry's fields for ``event``. Pure."""
    return {"id": event.id, "item": item_key(event.data),
            "payload": json.dumps(event.payload(), separators=(",", ":"))}


@dataclass(frozen=True, slots=True)
class Entry:
    """One event waiting in a sink's outbox."""

    entry_id: str
    event: Event
    item: str


def _entry(entry_id: bytes | str, fields: dict[bytes, bytes]) -> Entry:
    payload = json.loads(fields[b"payload"])
    event = Event(id=fields[b"id"].decode(), type=payload["type"], timestamp=payload["timestamp"],
                  data=payload["data"])
    return Entry(entry_id.decode() if isinstance(entry_id, bytes) else entry_id, event, fields[b"item"].decode())


class Outbox:
    def __init__(self, client: redis.Redis, keys: Keys, hold_ttl_s: int) -> None:
        self._redis = client
        self._keys = keys
        self.hold_ttl_s = hold_ttl_s
        self._claim = client.register_script(_CLAIM)
        self._release = client.register_script(_RELEASE)
        self._release_many = client.register_script(_RELEASE_MANY)
        self._touch = client.register_script(_TOUCH)

    def read(self, sink: str, after: str | None, count: int) -> list[Entry]:
        """Up to ``count`` entries in order, from the start or after the entry id ``after``."""
        start = "-" if after is None else f"({after}"
        rows: list[tuple[bytes, dict[bytes, bytes]]] = self._redis.xrange(  # type: ignore[assignment]
            self._keys.outbox(sink), start, "+", count=count)
        return [_entry(entry_id, fields) for entry_id, fields in rows]

    def length(self, sink: str) -> int:
        return int(self._redis.xlen(self._keys.outbox(sink)))

    def claim(self, sink: str, entries: Sequence[Entry]) -> list[bool]:
        """For each entry: True when it may go now (its item is not held by an earlier event); it then holds
        its item. An entry that may not go stays in the outbox, its item noted as waiting."""
        if not entries:
            return []
        keys = [self._keys.waiting(sink)] + [self._keys.hold(sink, e.item) for e in entries]
        args: list[Any] = [self.hold_ttl_s]
        for entry in entries:
            args += [entry.event.id, entry.item]
        return [bool(flag) for flag in self._claim(keys=keys, args=args)]

    def release(self, sink: str, item: str, event_id: str, pipe: Any = None) -> Any:
        """End the hold of ``event_id`` on ``item`` (delivered or failed for good): 1 when events of that item
        were waiting (the dispatcher must read the outbox again), else 0. With a pipeline, its result."""
        keys = [self._keys.hold(sink, item), self._keys.waiting(sink), self._keys.wake(sink)]
        return self._release(keys=keys, args=[event_id, item], client=pipe)

    def release_all(self, sink: str, settled: Sequence[Entry]) -> int:
        """:meth:`release` for many deliveries in one round trip: how many items had events waiting."""
        if not settled:
            return 0
        keys = [self._keys.waiting(sink), self._keys.wake(sink)] + [self._keys.hold(sink, e.item) for e in settled]
        args: list[Any] = []
        for entry in settled:
            args += [entry.event.id, entry.item]
        return int(self._release_many(keys=keys, args=args))

    def touch(self, sink: str, item: str, event_id: str, seconds: float) -> None:
        """Keep ``event_id``'s hold for ``seconds`` more (a retry is due then), never less than the TTL."""
        ttl = max(self.hold_ttl_s, int(seconds) + self.hold_ttl_s // 2)
        self._touch(keys=[self._keys.hold(sink, item)], args=[event_id, ttl])

    def remove(self, sink: str, entry_ids: Sequence[str], pipe: Any = None) -> None:
        if entry_ids:
            (pipe if pipe is not None else self._redis).xdel(self._keys.outbox(sink), *entry_ids)

    def wake(self, sink: str) -> int:
        value = self._redis.get(self._keys.wake(sink))
        return int(value) if value is not None else 0


def hold_ttl_s(backoff_max_s: float, job_timeout_s: int) -> int:
    """How long a hold lasts without a try: the longest wait between two tries, and a margin. Pure."""
    return int(backoff_max_s) + job_timeout_s + 600
