"""``notifier status`` and ``notifier replay``: what the operator sees and can mend. No secrets shown."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from rq.serializers import JSONSerializer

from notifier.delivery.enqueue import make_queue
from notifier.delivery.sinks import build_sinks
from notifier.runtime.redact import Redactor
from notifier.runtime.redis_checks import state_lost_at
from notifier.runtime.settings import Settings
from notifier.state.keys import DEFAULT_SOURCE, Keys


@dataclass
class Status:
    accounts: list[dict[str, Any]] = field(default_factory=list)
    queued: int = 0
    outbox: int = 0
    """Events in the sinks' outboxes, not yet sent (a burst being dispatched, or waiting behind a retry)."""
    scheduled: int = 0
    started: int = 0
    failed: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)
    sinks: list[str] = field(default_factory=list)
    poller_heartbeat_age_s: float | None = None
    state_lost_at: float | None = None
    """When the poller last found that Redis had lost notifier's state (None: never)."""


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _accounts(client: redis.Redis, keys: Keys, shown: Callable[[str], str], now: float) -> list[dict[str, Any]]:
    """The accounts of one source, named as the poller names them (``<source>/<email>`` but for ``default``)."""
    found: list[dict[str, Any]] = []
    listed: list[bytes] = client.zrange(keys.accounts(), 0, -1)  # type: ignore[assignment]
    for raw in listed:
        account = _text(raw)
        raw_meta: dict[bytes, bytes] = client.hgetall(keys.meta(account))  # type: ignore[assignment]
        meta = {_text(k): _text(v) for k, v in raw_meta.items()}
        last_poll = float(meta["last_poll_at"]) if meta.get("last_poll_at") else None
        found.append(
            {
                "account": shown(account if keys.source == DEFAULT_SOURCE else f"{keys.source}/{account}"),
                "tracked": int(client.hlen(keys.tracked(account))),
                "last_poll_age_s": None if last_poll is None else round(now - last_poll, 1),
                "last_error": shown(meta["last_error"]) if meta.get("last_error") else None,
            }
        )
    return found


def collect_status(settings: Settings, client: redis.Redis, *, now: float | None = None) -> Status:
    now = time.time() if now is None else now
    keys = Keys(settings.key_prefix)
    queue = make_queue(client, settings)
    sinks = build_sinks(settings)
    status = Status(sinks=[sink.redacted() for sink in sinks.values()])
    status.outbox = sum(int(client.xlen(keys.outbox(name))) for name in sinks)
    # Whatever Redis holds may have come from outside (or from before redaction): shown masked, one line.
    shown = Redactor.from_settings(settings).one_line
    for source in [DEFAULT_SOURCE, *(config.name for config in settings.sources)]:
        status.accounts += _accounts(client, keys.for_source(source), shown, now)
    status.queued = queue.count
    # cleanup=False: counting must not run RQ's abandoned-job clean-up in this process.
    status.scheduled = ScheduledJobRegistry(queue=queue).get_job_count(cleanup=False)  # type: ignore[no-untyped-call]
    status.started = StartedJobRegistry(queue=queue).get_job_count(cleanup=False)
    failed = FailedJobRegistry(queue=queue)
    status.failed = failed.get_job_count(cleanup=False)
    for job_id in failed.get_job_ids(0, 9, cleanup=False):
        try:
            job = Job.fetch(job_id, connection=client, serializer=JSONSerializer)
        except NoSuchJobError:
            continue
        result = job.latest_result()
        reason = (result.exc_string or "").strip().splitlines() if result is not None else []
        status.failures.append({"job": shown(job_id), "what": shown(job.description or ""),
                                "reason": shown(reason[-1]) if reason else ""})
    beat = client.get(keys.heartbeat("poller"))
    status.poller_heartbeat_age_s = None if beat is None else round(now - float(_text(beat)), 1)
    status.state_lost_at = state_lost_at(client, settings.key_prefix)
    return status


def replay_failed(settings: Settings, client: redis.Redis, *, sink: str | None = None) -> list[str]:
    """Re-enqueue failed deliveries (of one sink, or all) with a fresh set of tries."""
    queue = make_queue(client, settings)
    registry = FailedJobRegistry(queue=queue)
    replayed = []
    for job_id in registry.get_job_ids(cleanup=False):
        try:
            job = Job.fetch(job_id, connection=client, serializer=JSONSerializer)
        except NoSuchJobError:  # its hash expired under us: nothing left to replay
            continue
        if sink is not None and (not job.args or job.args[0] != sink):
            continue
        # A fresh set of tries: the delivery policy counts failures in meta, RQ counts the Retry results
        # (the tries) in number_of_retries. None would not reset it: save() writes only the fields set.
        job.meta["failures"] = 0
        job.meta.pop("failed", None)  # a batch's count of failed deliveries, from its last run
        job.number_of_retries = 0
        job.retries_left = settings.crash_retries
        job.save()
        registry.requeue(job)
        replayed.append(job_id)
    return replayed
