"""The attempt log: every delivery attempt, and its event's payload, kept in Redis for a bounded time.

The delivery jobs hand their attempts to :meth:`AttemptLog.record` (one call per job); a background thread
of the worker writes whatever has gathered, every ``FLUSH_EVERY_S`` or ``FLUSH_AT`` attempts, in one
pipelined round trip (no MULTI: a lost write loses a log line, never a delivery). So the delivery path
pays for building the records, not for a Redis round trip. What has not been written when the process
ends is written at its normal exit; a worker killed by SIGKILL loses at most the last ``FLUSH_EVERY_S`` of
its log (its deliveries are unaffected). While Redis does not answer, at most ``BUFFER_MAX`` attempts wait.

Layout (keys in :mod:`notifier.state.keys`): one hash per event (its document with the payload, each
sink's last outcome, each attempt), an index of events by detection time capped at
``NOTIFIER_ATTEMPT_LOG_MAX_EVENTS``, one timeline per item, and per sink its failed-for-good events,
its failures of the last hour and its last success and failure. Every key expires after
``NOTIFIER_ATTEMPT_LOG_TTL_S``. Reading it is :mod:`notifier.ops.inspect`'s job.
"""

from __future__ import annotations

import atexit
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import redis

from notifier.delivery.attempt_record import Attempt
from notifier.state.keys import Keys

log = logging.getLogger(__name__)

FAILURE_WINDOW_S = 3600
"""Failures are counted over the last hour (the sinks' health)."""
FLUSH_EVERY_S = 0.1
FLUSH_AT = 500
BUFFER_MAX = 50_000
DOC = "doc"
OUTCOME = "outcome:"
ATTEMPT = "attempt:"


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
        """Queue the writes of ``attempts`` on ``pipe`` (a pipeline the caller executes)."""
        keys, ttl = self._keys, self.ttl_s
        index: dict[str, float] = {}
        delivered: dict[str, list[str]] = {}
        failed: dict[str, dict[str, float]] = {}
        failures: dict[str, dict[str, float]] = {}
        health: dict[str, dict[str, Any]] = {}
        for attempt, payload in attempts:
            eid, sink = attempt.event_id, attempt.sink
            at = detected_at(payload, attempt.at)
            record = json.dumps(attempt.to_dict(), separators=(",", ":"))
            pipe.hset(keys.logged_event(eid), mapping={
                DOC: json.dumps(event_document(eid, payload, attempt, at), separators=(",", ":")),
                OUTCOME + sink: record,
                f"{ATTEMPT}{attempt.at:.6f}:{sink}": record,
            })
            pipe.expire(keys.logged_event(eid), ttl)
            index[eid] = at
            if attempt.item_id:
                pipe.zadd(keys.item_timeline(attempt.item_id), {eid: at})
                pipe.expire(keys.item_timeline(attempt.item_id), ttl)
            sink_health = health.setdefault(sink, {})
            if attempt.outcome == "delivered":
                delivered.setdefault(sink, []).append(eid)
                sink_health["last_success_at"] = attempt.at
            else:
                if attempt.outcome == "failed":
                    failed.setdefault(sink, {})[eid] = attempt.at
                failures.setdefault(sink, {})[f"{eid}:{attempt.at}"] = attempt.at
                sink_health.update(last_failure_at=attempt.at, last_error=attempt.error or "")
        pipe.zadd(keys.logged_events(), index)
        pipe.zremrangebyscore(keys.logged_events(), "-inf", now - ttl)
        pipe.zremrangebyrank(keys.logged_events(), 0, -self.max_events - 1)
        pipe.expire(keys.logged_events(), ttl)
        for sink, fields in health.items():
            if delivered.get(sink):
                pipe.zrem(keys.sink_failed(sink), *delivered[sink])
            if failed.get(sink):
                pipe.zadd(keys.sink_failed(sink), failed[sink])
            if failures.get(sink):
                pipe.zadd(keys.sink_failures(sink), failures[sink])
                pipe.zremrangebyscore(keys.sink_failures(sink), "-inf", now - FAILURE_WINDOW_S)
            pipe.hset(keys.sink_health(sink), mapping=fields)
            for key in (keys.sink_failures(sink), keys.sink_failed(sink), keys.sink_health(sink)):
                pipe.expire(key, ttl)
