"""Which jobs a set of events becomes: one per (event, sink), or batch jobs for a burst to a webhook.

The tracker calls the enqueuer inside its MULTI, so the jobs are written in the same transaction as the
state change. Job functions are named by dotted path (RQ imports them in the worker): the names below
are the only functions a delivery worker runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import redis
from rq import Queue, Retry
from rq.serializers import JSONSerializer

from notifier.delivery.sinks import Sink
from notifier.runtime.settings import Settings
from notifier.state.events import Event
from notifier.state.tracker import EnqueueFn

JOB_FUNC = "notifier.delivery.single.deliver"
BATCH_FUNC = "notifier.delivery.batch.deliver_batch"
JOB_FUNCS = frozenset({JOB_FUNC, BATCH_FUNC})
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


def make_enqueuer(queue: Queue, sinks: Sequence[Sink], settings: Settings) -> EnqueueFn:
    """The function the tracker calls inside its MULTI to add one job per (event, sink)."""

    common = {
        "timeout": settings.delivery_job_timeout_s,
        "result_ttl": 0,
        "failure_ttl": settings.failed_ttl_s,
        "retry": Retry(max=settings.crash_retries, interval=CRASH_RETRY_INTERVAL_S),
    }

    def enqueue(pipe: Any, events: Sequence[Event]) -> None:
        datas = []
        for sink in sinks:
            routed = [event for event in events if sink.accepts(event)]
            size = batch_limit(settings)
            if len(routed) > 1 and size > 1 and sink.config.rate_per_s is None:
                # A burst: a few jobs that each send many at once (see notifier.delivery.batch).
                for start in range(0, len(routed), size):
                    chunk = routed[start:start + size]
                    datas.append(Queue.prepare_data(
                        BATCH_FUNC,
                        args=(sink.name, [[event.id, event.payload()] for event in chunk]),
                        job_id=batch_job_id(sink.name, [event.id for event in chunk]),
                        description=f"{len(chunk)} events -> {sink.name}",
                        **common,  # type: ignore[arg-type]
                    ))
                continue
            datas += [
                Queue.prepare_data(
                    JOB_FUNC,
                    args=(sink.name, event.id, event.payload()),
                    job_id=job_id(event.id, sink.name),
                    description=f"{event.type} {event.item_id} -> {sink.name}",
                    **common,  # type: ignore[arg-type]
                )
                for event in routed
            ]
        if datas:
            queue.enqueue_many(datas, pipeline=pipe)

    return enqueue
