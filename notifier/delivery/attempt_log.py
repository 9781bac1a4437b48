"""The attempt log: every delivery attempt, and its event's payload, kept in Redis for a bounded time.

One call per delivery job (:meth:`AttemptLog.record`) writes all of that job's attempts in one
pipelined round trip (no MULTI: each write stands alone and a lost one loses only a log line, never a
delivery). Every key expires after ``NOTIFIER_ATTEMPT_LOG_TTL_S``; the index of events is capped at
``NOTIFIER_ATTEMPT_LOG_MAX_EVENTS``; an event keeps its last ``MAX_ATTEMPTS_PER_EVENT`` attempts.
Reading it is :mod:`notifier.ops.inspect`'s job. A Redis error while recording is logged and swallowed:
the delivery already happened and must not be retried for the log's sake.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import redis

from notifier.delivery.attempt_record import Attempt
from notifier.state.keys import Keys

log = logging.getLogger(__name__)

MAX_ATTEMPTS_PER_EVENT = 100
FAILURE_WINDOW_S = 3600
"""Failures are counted over the last hour (the sinks' health)."""


def detected_at(payload: dict[str, Any], fallback: float) -> float:
    try:
        return datetime.fromisoformat(str(payload.get("timestamp", "")).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return fallback


def event_document(event_id: str, payload: dict[str, Any], attempt: Attempt, at: float) -> dict[str, Any]:
    """What is kept of an event: its payload (to send it again) and the fields the API filters on."""
    return {"id": event_id, "type": attempt.event_type, "item_id": attempt.item_id, "medium": attempt.medium,
            "account": attempt.account, "source": attempt.source, "detected_at": at, "payload": payload}


class AttemptLog:
    def __init__(self, client: redis.Redis, keys: Keys, *, ttl_s: int, max_events: int) -> None:
        self._redis = client
        self._keys = keys
        self.ttl_s = ttl_s
        self.max_events = max_events

    def record(self, attempts: Sequence[tuple[Attempt, dict[str, Any]]]) -> None:
        """Record (attempt, its event's payload) pairs in one round trip; never raises a Redis error."""
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
        """Queue the writes of ``attempts`` on ``pipe`` (a pipeline the caller executes)."""
        keys, ttl = self._keys, self.ttl_s
        sinks = set()
        for attempt, payload in attempts:
            eid, sink = attempt.event_id, attempt.sink
            sinks.add(sink)
            at = detected_at(payload, attempt.at)
            record = json.dumps(attempt.to_dict(), separators=(",", ":"))
            pipe.set(keys.logged_event(eid), json.dumps(event_document(eid, payload, attempt, at),
                                                         separators=(",", ":")), ex=ttl)
            pipe.rpush(keys.logged_attempts(eid), record)
            pipe.ltrim(keys.logged_attempts(eid), -MAX_ATTEMPTS_PER_EVENT, -1)
            pipe.expire(keys.logged_attempts(eid), ttl)
            pipe.hset(keys.logged_outcomes(eid), sink, record)
            pipe.expire(keys.logged_outcomes(eid), ttl)
            pipe.zadd(keys.logged_events(), {eid: at})
            if attempt.item_id:
                pipe.zadd(keys.item_timeline(attempt.item_id), {eid: at})
                pipe.expire(keys.item_timeline(attempt.item_id), ttl)
            health = keys.sink_health(sink)
            if attempt.outcome == "delivered":
                pipe.zrem(keys.sink_failed(sink), eid)
                pipe.hset(health, "last_success_at", attempt.at)
            else:
                if attempt.outcome == "failed":
                    pipe.zadd(keys.sink_failed(sink), {eid: attempt.at})
                pipe.zadd(keys.sink_failures(sink), {f"{eid}:{attempt.at}": attempt.at})
                pipe.hset(health, mapping={"last_failure_at": attempt.at, "last_error": attempt.error or ""})
        pipe.zremrangebyscore(keys.logged_events(), "-inf", now - ttl)
        pipe.zremrangebyrank(keys.logged_events(), 0, -self.max_events - 1)
        for sink in sinks:
            pipe.zremrangebyscore(keys.sink_failures(sink), "-inf", now - FAILURE_WINDOW_S)
            pipe.zremrangebyscore(keys.sink_failed(sink), "-inf", now - ttl)
            for key in (keys.sink_failures(sink), keys.sink_failed(sink), keys.sink_health(sink)):
                pipe.expire(key, ttl)
        pipe.expire(keys.logged_events(), ttl)
