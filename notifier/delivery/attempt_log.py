"""The attempt log: every delivery attempt, and its event's payload, kept in Redis for a bounded time.

The delivery jobs hand their attempts to :meth:`AttemptLog.record` (one call per job); a background thread
of the worker writes whatever has gathered, every ``FLUSH_EVERY_S`` or ``FLUSH_AT`` attempts, in one
pipelined round trip (no MULTI: a lost write loses a log line, never a delivery). So the delivery path
pays for building the records, not for a Redis round trip. What has not been written when the process
ends is written at its normal exit; a worker killed by SIGKILL loses at most the last ``FLUSH_EVERY_S`` of
its log (its deliveries are unaffected). While Redis does not answer, at most ``BUFFER_MAX`` attempts wait.

The writes run in Redis (``attempt_log.lua``), one script call per ``PER_CALL`` attempts: the worker
serializes each record and its event's document (orjson) into one chunk, and a compact list of what the
script needs. What the writes cost in Redis is what a delivery pays (on a small machine the script's time
competes with the dispatcher), so a call writes a chunk as one string and everything else once per call.

Layout (keys in :mod:`notifier.state.keys`; the script is given their templates): per call, one chunk (a
line per attempt: event id, record, document with the payload); per UTC day of writing, where each event's
attempts are (event id -> its chunks, the last ``MAX_ATTEMPTS_PER_EVENT``); per UTC day of detection, each
item's events (its timeline); an index of events by detection time capped at
``NOTIFIER_ATTEMPT_LOG_MAX_EVENTS``; and per sink its failed-for-good events, its failures of the last hour
and its last success and failure. Every key expires after ``NOTIFIER_ATTEMPT_LOG_TTL_S`` (the day hashes that
long after their day ends). Entries written before 2026-12-01, one hash per event and a sorted set per item,
are still read until they expire. Reading it is :mod:`notifier.ops.inspect`'s job.
"""

from __future__ import annotations

import atexit
import functools
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from importlib import resources
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
"""Attempts per chunk and script call. Redis runs nothing else while a script runs, and the dispatcher waits on
Redis for its outbox: 500 attempts held it for 15-25 ms; 50 hold it for about 1 ms (a flush pipelines its
calls)."""
BUFFER_MAX = 50_000
DAY_S = 86400
"""Timelines (item -> its events) are kept in one hash per UTC day of detection, and where each event's
attempts are (event -> its chunks) in one hash per UTC day of writing."""
LEGACY_DOC = "doc"
LEGACY_OUTCOME = "outcome:"
LEGACY_ATTEMPT = "attempt:"
"""Fields of the hash an event was kept in before 2026-12-01 (read until those expire)."""


def dumps(value: Attempt | dict[str, Any] | list[Any]) -> bytes:
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
        self._script = client.register_script(_script_text())

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
        """Queue the writes of ``attempts`` on ``pipe`` (a pipeline the caller executes): one chunk and one
        script call per ``PER_CALL`` attempts, which does every write inside Redis."""
        keys = self._keys
        head: list[Any] = [self.ttl_s, self.max_events, now, FAILURE_WINDOW_S, keys.logged_events(),
                           MAX_ATTEMPTS_PER_EVENT, DAY_S]
        for template in (keys.sink_failed, keys.sink_failures, keys.sink_health):
            head += template(_SLOT).split(_SLOT)
        # The keys around the day's number.
        head += keys.logged_items(0).rsplit("0", 1) + keys.logged_where(0).rsplit("0", 1)
        for start in range(0, len(attempts), PER_CALL):
            lines, meta = [], []
            for attempt, payload in attempts[start:start + PER_CALL]:
                # Event ids are ours (evt_ and hex digits); JSON has no raw tab or newline.
                lines.append(b"\t".join((attempt.event_id.encode(), dumps(attempt),
                                         dumps(event_document(payload, attempt)))))
                meta.append((attempt.event_id, attempt.sink, attempt.outcome, attempt.at, attempt.detected_at,
                             attempt.item_id or "", attempt.error or ""))
            chunk = os.urandom(8).hex()
            self._script(args=[*head, keys.logged_chunk(chunk), chunk, dumps(meta), b"\n".join(lines)], client=pipe)


_SLOT = "\x00"
"""Where a key template (made by :class:`~notifier.state.keys.Keys`) takes its sink."""


@functools.cache
def _script_text() -> str:
    return (resources.files("notifier.delivery") / "attempt_log.lua").read_text()


