"""The attempt log: every delivery attempt, and its event's payload, kept in Redis for a bounded time.

The delivery jobs hand their attempts to :meth:`AttemptLog.record` (one call per job); a background thread
of the worker writes whatever has gathered, every ``FLUSH_EVERY_S`` or ``FLUSH_AT`` attempts, in one
pipelined round trip (no MULTI: a lost write loses a log line, never a delivery). So the delivery path
pays for building the records, not for a Redis round trip. What has not been written when the process
ends is written at its normal exit; a worker killed by SIGKILL loses at most the last ``FLUSH_EVERY_S`` of
its log (its deliveries are unaffected). While Redis does not answer, at most ``BUFFER_MAX`` attempts wait.

The writes run in Redis, as one Lua script call per ``PER_CALL`` attempts: the worker serializes each
record and its event's document (orjson), Redis does the writes. What they cost is what a delivery pays:
the script's Redis time competes with the dispatcher for the machine, so the common case, an event's first
attempt, is one command (``SET NX EX``), and everything that can be is written once per call.

Layout (keys in :mod:`notifier.state.keys`; the script is given their templates): one string per event
(its document with the payload, then one line per attempt; the last ``MAX_ATTEMPTS_PER_EVENT`` kept), an
index of events by detection time capped at ``NOTIFIER_ATTEMPT_LOG_MAX_EVENTS``, one hash per day of
detection holding each item's events (its timeline), and per sink its failed-for-good events, its failures
of the last hour and its last success and failure. Every key expires after ``NOTIFIER_ATTEMPT_LOG_TTL_S``
(a day's timelines that long after the day ends). Entries written before 2026-12-01, one hash per event and
a sorted set per item, are still read until they expire. Reading it is :mod:`notifier.ops.inspect`'s job.
"""

from __future__ import annotations

import atexit
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

import orjson
import redis

from notifier.delivery.attempt_record import Attempt
from notifier.state.keys import Keys

log = logging.getLogger(__name__)

MAX_ATTEMPTS_PER_EVENT = 100
"""An event keeps its last this many attempts (more come only from replaying it again and again)."""
FAILURE_WINDOW_S = 3600
"""Failures are counted over the last hour (the sinks' health)."""
FLUSH_EVERY_S = 0.1
FLUSH_AT = 500
PER_CALL = 50
"""Attempts per script call. Redis runs nothing else while a script runs, and the dispatcher waits on Redis for
its outbox: 500 attempts held it for 15-25 ms; 50 hold it for about 2 ms (a flush pipelines its calls)."""
BUFFER_MAX = 50_000
DAY_S = 86400
"""The timelines (item -> its events) are kept in one hash per UTC day of detection."""
LEGACY_DOC = "doc"
LEGACY_OUTCOME = "outcome:"
LEGACY_ATTEMPT = "attempt:"
"""Fields of the hash an event was kept in before 2026-12-01 (read until those expire)."""


def dumps(value: Attempt | dict[str, Any]) -> bytes:
    """Compact JSON of an attempt's record or an event's document. orjson, because this runs twice per
    delivery: 1 us a call against 10-11 us for the standard library's encoder (its floats go through a Python
    function); it writes a dataclass's fields as an object, in order, without building a dict first."""
    try:
        return orjson.dumps(value)
    except TypeError:
        # orjson refuses integers past 64 bits (the standard library writes them) and lone surrogates, which
        # the upstream boundary already replaces (notifier.upstream.clean); one that comes another way becomes
        # "?" here: escaped as \udcxx, Redis's cjson would refuse the whole script call.
        document = value.to_dict() if isinstance(value, Attempt) else value
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "replace")


def event_document(payload: dict[str, Any], attempt: Attempt) -> dict[str, Any]:
    """What is kept of an event: its payload (to send it again) and the fields the API filters on."""
    return {"id": attempt.event_id, "type": attempt.event_type, "item_id": attempt.item_id,
            "medium": attempt.medium, "account": attempt.account, "source": attempt.source,
            "detected_at": attempt.detected_at, "payload": payload}


class AttemptLog:
    def __init__(self, client: redis.Redis, keys: Keys, *, ttl_s: int, max_events: int,
                 background: bool = True) -> None:
        self._redis = client
        self._keys = keys
        self.ttl_s = ttl_s
        self.max_events = max_events
        self._background = background
        self._pending: deque[tuple[Attempt, dict[str, Any]]] = deque(maxlen=BUFFER_MAX)
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._script = client.register_script(_RECORD)

    def record(self, attempts: Sequence[tuple[Attempt, dict[str, Any]]]) -> None:
        """Record (attempt, its event's payload) pairs: written by the background thread soon, or now."""
        if not attempts:
            return
        if not self._background:
            self._write_now(list(attempts))
            return
        self._pending.extend(attempts)
        if self._thread is None:
            self._start()
        if len(self._pending) >= FLUSH_AT:
            self._wake.set()

    def flush(self) -> None:
        """Write everything recorded so far (tests, and the process's exit)."""
        with self._lock:
            batch = []
            while self._pending:
                batch.append(self._pending.popleft())
            self._write_now(batch)

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="attempt-log", daemon=True)
        self._thread.start()
        atexit.register(self.flush)

    def _run(self) -> None:
        while True:
            self._wake.wait(FLUSH_EVERY_S)
            self._wake.clear()
            if self._pending:
                self.flush()

    def _write_now(self, attempts: list[tuple[Attempt, dict[str, Any]]]) -> None:
        if not attempts:
            return
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                self.write(pipe, attempts, now=time.time())
                pipe.execute()
        except (redis.RedisError, OSError) as exc:
            log.warning("could not record %d delivery attempt(s) in the attempt log: %s", len(attempts),
                        type(exc).__name__)

    def write(self, pipe: Any, attempts: Sequence[tuple[Attempt, dict[str, Any]]], *, now: float) -> None:
        """Queue the writes of ``attempts`` on ``pipe`` (a pipeline the caller executes): one script call per
        ``PER_CALL`` attempts, which does every write inside Redis (the worker only serializes)."""
        keys = self._keys
        head: list[Any] = [self.ttl_s, self.max_events, now, FAILURE_WINDOW_S, keys.logged_events(),
                           MAX_ATTEMPTS_PER_EVENT, DAY_S]
        for template in (keys.logged_event, keys.sink_failed, keys.sink_failures, keys.sink_health):
            head += template(_SLOT).split(_SLOT)
        head += keys.logged_items(0).rsplit("0", 1)  # the key around the day's number
        for start in range(0, len(attempts), PER_CALL):
            args = list(head)
            # Two arguments per attempt: its record and its event's document.
            for attempt, payload in attempts[start:start + PER_CALL]:
                args += (dumps(attempt), dumps(event_document(payload, attempt)))
            self._script(args=args, client=pipe)


_SLOT = "\x00"
"""Where a key template (made by :class:`~notifier.state.keys.Keys`) takes its event id, item id or sink."""
_RECORD = """
local ttl, maxn, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local window, index, keep, day_s = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
local evh, evt, fdh, fdt, fsh, fst, hlh, hlt, dyh, dyt = ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12],
  ARGV[13], ARGV[14], ARGV[15], ARGV[16], ARGV[17]
local sinks, indexed, days = {}, {}, {}
for i = 18, #ARGV, 2 do
  local record, doc = ARGV[i], ARGV[i + 1]
  local r = cjson.decode(record)
  local eid, sink, outcome, at, detected = r.event_id, r.sink, r.outcome, r.at, r.detected_at
  local item = (r.item_id ~= cjson.null and r.item_id) or ''
  local err = (r.error ~= cjson.null and r.error) or ''
  local ek = evh .. eid .. evt
  -- An event's first attempt (the usual case) is one command. A call into Redis from a script costs more
  -- than most commands it runs: the entry is one string (document, then a record a line), not a hash.
  local first = redis.call('SET', ek, doc .. '\\n' .. record, 'NX', 'EX', ttl)
  if first then
    table.insert(indexed, detected)
    table.insert(indexed, eid)
    if item ~= '' then
      local day = math.floor(detected / day_s)
      local d = days[day] or {}
      days[day] = d
      d[item] = (d[item] and (d[item] .. ' ') or '') .. eid .. ' ' .. string.format('%.3f', detected)
    end
  else
    local text = (redis.call('GET', ek) or doc) .. '\\n' .. record
    local _, lines = string.gsub(text, '\\n', '')
    if lines > keep + 20 then
      -- Rare (replayed again and again): keep the document and the last `keep` attempts.
      local kept, n = {}, 0
      for line in string.gmatch(text, '[^\\n]+') do
        n = n + 1
        if n == 1 or n > lines + 1 - keep then table.insert(kept, line) end
      end
      text = table.concat(kept, '\\n')
    end
    redis.call('SET', ek, text, 'EX', ttl)
  end
  local s = sinks[sink] or {}
  sinks[sink] = s
  if outcome == 'delivered' then
    if not first then redis.call('ZREM', fdh .. sink .. fdt, eid) end
    if not s.success or at > s.success then s.success = at end
  else
    if outcome == 'failed' then redis.call('ZADD', fdh .. sink .. fdt, at, eid) end
    redis.call('ZADD', fsh .. sink .. fst, at, eid .. ':' .. string.format('%.3f', at))
    if not s.failure or at >= s.failure then s.failure, s.error = at, err end
  end
end
-- Once per call: the index, each day's timelines, each sink's health.
if #indexed > 0 then redis.call('ZADD', index, unpack(indexed)) end
redis.call('ZREMRANGEBYSCORE', index, '-inf', now - ttl)
redis.call('ZREMRANGEBYRANK', index, 0, -maxn - 1)
redis.call('EXPIRE', index, ttl)
for day, items in pairs(days) do
  local until_at = (day + 1) * day_s + ttl
  if until_at > now then
    local dk, names, values = dyh .. day .. dyt, {}, {}
    for name in pairs(items) do table.insert(names, name) end
    local old = redis.call('HMGET', dk, unpack(names))
    for n, name in ipairs(names) do
      table.insert(values, name)
      table.insert(values, old[n] and (old[n] .. ' ' .. items[name]) or items[name])
    end
    redis.call('HSET', dk, unpack(values))
    redis.call('EXPIREAT', dk, math.ceil(until_at))
  end
end
for sink, s in pairs(sinks) do
  local fd, fs, hk = fdh .. sink .. fdt, fsh .. sink .. fst, hlh .. sink .. hlt
  if s.success then redis.call('HSET', hk, 'last_success_at', string.format('%.3f', s.success)) end
  if s.failure then
    redis.call('HSET', hk, 'last_failure_at', string.format('%.3f', s.failure), 'last_error', s.error)
  end
  redis.call('ZREMRANGEBYSCORE', fs, '-inf', now - window)
  redis.call('ZREMRANGEBYSCORE', fd, '-inf', now - ttl)
  redis.call('EXPIRE', fd, ttl)
  redis.call('EXPIRE', fs, ttl)
  redis.call('EXPIRE', hk, ttl)
end
return 1
"""
