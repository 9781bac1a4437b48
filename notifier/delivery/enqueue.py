"""Where a set of events goes: each routed event into its sink's outbox, and one dispatch job per sink.

The tracker calls the enqueuer inside its MULTI, so the outbox entries and jobs are written in the same
transaction as the state change. The dispatch job (:mod:`notifier.delivery.dispatch`) sends them in
order per item; failures become single-delivery jobs. Job functions are named by dotted path (RQ imports
them in the worker): the names below are the only functions a delivery worker runs (batch jobs are no
longer enqueued; those an older version left still run).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import redis
from rq import Queue, Retry
from rq.serializers import JSONSerializer

from notifier.delivery.outbox import fields_of
from notifier.delivery.sinks import Sink
from notifier.runtime.settings import Settings
from notifier.state.events import Event
from notifier.state.keys import Keys
from notifier.state.tracker import EnqueueFn

JOB_FUNC = "notifier.delivery.single.deliver"
BATCH_FUNC = "notifier.delivery.batch.deliver_batch"
DISPATCH_FUNC = "notifier.delivery.dispatch.dispatch"
JOB_FUNCS = frozenset({JOB_FUNC, BATCH_FUNC, DISPATCH_FUNC})
"""The only functions a delivery worker runs (``workers.deliver.DeliveryJob`` refuses any other)."""
LEGACY_FUNCS = {
    # Jobs enqueued before the package was split into stages still name the old modules.
    "notifier.delivery.deliver": JOB_FUNC,
    "notifier.batch_delivery.deliver_batch": BATCH_FUNC,
}
# Crash retries re-enqueue at once: a delay would need RQ's scheduler, whose lock a killed
# worker keeps for about a minute.
CRASH_RETRY_INTERVAL_S = 0


def make_queue(client: redis.Redis, settings: Settings) -> Queue:
    return Queue(
        settings.queue_name,
        connection=client,
        serializer=JSONSerializer,
        default_timeout=settings.delivery_job_timeout_s,
    )


def job_id(event_id: str, sink_name: str) -> str:
    return f"{event_id}-{sink_name}"


def batch_job_id(sink_name: str, event_ids: list[str]) -> str:
    digest = hashlib.sha256(",".join(event_ids).encode()).hexdigest()[:24]
    return f"batch_{digest}-{sink_name}"


def batch_limit(settings: Settings) -> int:
    """Most events in one batch job: all of them in flight at once, so a batch lasts one delivery timeout.

    A batch larger than ``delivery_concurrency`` would take rounds of ``delivery_timeout_s`` each and could
    outlive its job timeout (killed mid-batch and sent again whole) and its sink lease (two jobs on a sink).
    """
    return max(1, min(settings.delivery_batch_size, settings.delivery_concurrency))


def dispatch_job_id(sink_name: str, event_ids: list[str]) -> str:
    digest = hashlib.sha256(",".join(event_ids).encode()).hexdigest()[:24]
    return f"dispatch-{sink_name}-{digest}"


def kick(queue: Queue, sink_name: str, *, settings_timeout_s: int, crash_retries: int,
         in_s: float = 0.0) -> None:
    """Enqueue a dispatch job for ``sink_name`` (now, or a recheck later under one fixed id)."""
    common = {"job_timeout": settings_timeout_s, "result_ttl": 0, "failure_ttl": 3600, "args": (sink_name,),
              "retry": Retry(max=crash_retries, interval=CRASH_RETRY_INTERVAL_S),
              "description": f"dispatch -> {sink_name}"}
    if in_s > 0:
        queue.enqueue_in(timedelta(seconds=in_s), DISPATCH_FUNC,
                         # One recheck per sink and 10 s, whoever asks; never the id of the job asking.
                         job_id=f"dispatch-{sink_name}-recheck{int((time.time() + in_s) // 10)}", **common)
    else:
        queue.enqueue(DISPATCH_FUNC, job_id=f"dispatch-{sink_name}-{uuid.uuid4().hex[:16]}",
                      **common)


def make_enqueuer(queue: Queue, sinks: Sequence[Sink], settings: Settings) -> EnqueueFn:
    """The function the tracker calls inside its MULTI: each routed event into its sink's outbox, and one
    dispatch job for each sink that got any."""
    keys = Keys(settings.key_prefix)
    common = {
        "timeout": settings.delivery_job_timeout_s,
        "result_ttl": 0,
        "failure_ttl": 3600,
        "retry": Retry(max=settings.crash_retries, interval=CRASH_RETRY_INTERVAL_S),
    }

    def enqueue(pipe: Any, events: Sequence[Event]) -> None:
        datas = []
        for sink in sinks:
            routed = [event for event in events if sink.accepts(event)]
            if not routed:
                continue
            for event in routed:
                pipe.xadd(keys.outbox(sink.name), fields_of(event))
            datas.append(Queue.prepare_data(
                DISPATCH_FUNC,
                args=(sink.name,),
                job_id=dispatch_job_id(sink.name, [event.id for event in routed]),
                description=f"dispatch {len(routed)} events -> {sink.name}",
                **common,  # type: ignore[arg-type]
            ))
        if datas:
            queue.enqueue_many(datas, pipeline=pipe)

    return enqueue
