"""What an operator can mend from the API, the console or the CLI: replay one event to one sink, recover a
sink (every delivery that failed for good in a time range, sent again), and a test send.

Each goes through the normal delivery path: a single-delivery job (``notifier.delivery.single.deliver``,
on the workers' allow-list) enqueued on the delivery queue, so the same signing, rate limits, circuit and
retries apply, with a fresh set of tries. A failed job still in RQ's failed registry is requeued (as
``notifier replay`` does); one gone (delivered jobs are not kept, batch deliveries have no job of their
own) is enqueued again from the payload the attempt log kept.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import redis
from rq import Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from notifier.delivery.enqueue import JOB_FUNC, job_id, make_queue
from notifier.delivery.sinks import build_sinks
from notifier.errors import NotifierError
from notifier.ops.inspect import Inspector
from notifier.ops.sample import sample_event
from notifier.runtime.settings import Settings

RECOVER_MAX = 10_000
"""Most deliveries one recover sends again (the rest: call it again)."""
PENDING = frozenset({JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.STARTED, JobStatus.DEFERRED})


class ActionError(NotifierError):
    """An operator's request that cannot be done; ``status`` is the HTTP status that says why."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Replayed:
    event_id: str
    sink: str
    job_id: str
    how: str
    """``requeued`` (its failed job), ``enqueued`` (a new job from the logged payload) or ``pending``
    (a delivery of it is already waiting or running: nothing done)."""


def _sink_or_404(settings: Settings, sink: str) -> None:
    if sink not in build_sinks(settings):
        raise ActionError(f"no sink named {sink!r} is configured", status=404)


def _enqueue(settings: Settings, client: redis.Redis, sink: str, event_id: str, payload: dict[str, Any]) -> str:
    queue = make_queue(client, settings)
    jid = job_id(event_id, sink)
    queue.enqueue(JOB_FUNC, args=(sink, event_id, payload), job_id=jid, timeout=settings.delivery_job_timeout_s,
                  result_ttl=0, failure_ttl=settings.failed_ttl_s, retry=Retry(max=settings.crash_retries),
                  description=f"{payload.get('type')} replay -> {sink}", meta={"failures": 0})
    return jid


def replay(settings: Settings, client: redis.Redis, event_id: str, sink: str) -> Replayed:
    """Send one logged event to one sink again, through the delivery queue."""
    _sink_or_404(settings, sink)
    payload = Inspector(settings, client).payload(event_id)
    if payload is None:
        raise ActionError(f"event {event_id!r} is not in the attempt log (unknown, or older than its retention)",
                          status=404)
    jid = job_id(event_id, sink)
    try:
        job = Job.fetch(jid, connection=client, serializer=JSONSerializer)
    except NoSuchJobError:
        job = None
    if job is not None:
        status = job.get_status(refresh=False)
        if status in PENDING:
            return Replayed(event_id, sink, jid, "pending")
        if status == JobStatus.FAILED:
            job.meta["failures"] = 0
            job.number_of_retries = 0
            job.retries_left = settings.crash_retries
            job.save()
            FailedJobRegistry(queue=make_queue(client, settings)).requeue(job)
            return Replayed(event_id, sink, jid, "requeued")
    return Replayed(event_id, sink, _enqueue(settings, client, sink, event_id, payload), "enqueued")


def recover(settings: Settings, client: redis.Redis, sink: str, since: float, until: float) -> list[Replayed]:
    """Every delivery to ``sink`` that failed for good between ``since`` and ``until`` (epoch s), sent again."""
    if until < since:
        raise ActionError("until is before since", status=422)
    _sink_or_404(settings, sink)
    done = []
    for event_id in Inspector(settings, client).failed_between(sink, since, until)[:RECOVER_MAX]:
        try:
            done.append(replay(settings, client, event_id, sink))
        except ActionError as exc:
            if exc.status != 404:  # its payload expired meanwhile: nothing to send
                raise
    return done


def test_send(settings: Settings, client: redis.Redis, sink: str) -> Replayed:
    """A sample event (marked ``notifier_test``) to one sink, through the delivery queue; it shows in the log."""
    _sink_or_404(settings, sink)
    event = sample_event(time.time())
    event_id = f"evt_test_{uuid.uuid4().hex}"
    return Replayed(event_id, sink, _enqueue(settings, client, sink, event_id, event.payload()), "enqueued")
