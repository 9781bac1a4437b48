"""The delivery workers' scheduler enqueues a retry once its exact not-before time has passed (#18)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from types import SimpleNamespace

import fakeredis
import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry
from rq.serializers import JSONSerializer

from notifier.delivery.enqueue import JOB_FUNC
from notifier.delivery.policy import NOT_BEFORE
from workers import scheduler as scheduler_module
from workers.deliver import DeliveryWorker
from workers.scheduler import PASS_S, NotBeforeScheduler


def world() -> tuple[fakeredis.FakeRedis, Queue, NotBeforeScheduler]:
    connection = fakeredis.FakeRedis()
    queue = Queue("deliveries", connection=connection, serializer=JSONSerializer)
    scheduler = NotBeforeScheduler([queue], connection=connection, serializer=JSONSerializer)
    scheduler._connection = connection
    scheduler.prepare_registries([queue.name])
    return connection, queue, scheduler


def test_a_job_due_by_its_second_waits_for_its_not_before(monkeypatch: pytest.MonkeyPatch) -> None:
    _, queue, scheduler = world()
    now = time.time()
    second = datetime.fromtimestamp(now - 1, UTC)  # RQ's own rule: every one of these is due
    plain = queue.enqueue_at(second, JOB_FUNC, "webhook")
    passed = queue.enqueue_at(second, JOB_FUNC, "webhook", meta={NOT_BEFORE: now - 0.5})
    ahead = queue.enqueue_at(second, JOB_FUNC, "webhook", meta={NOT_BEFORE: now + 30})
    scheduler.enqueue_scheduled_jobs()
    assert sorted(queue.job_ids) == sorted([plain.id, passed.id])
    registry = ScheduledJobRegistry(queue=queue)
    assert registry.get_job_ids(cleanup=False) == [ahead.id]

    monkeypatch.setattr(scheduler_module, "time", SimpleNamespace(time=lambda: now + 30.01))
    scheduler.enqueue_scheduled_jobs()
    assert queue.job_ids[-1] == ahead.id
    assert registry.get_job_ids(cleanup=False) == []


def test_it_passes_every_fifth_of_a_second_and_beats_every_second(monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, scheduler = world()
    calls: list[str] = []

    def one_pass() -> None:
        calls.append("pass")
        if calls.count("pass") == 7:
            scheduler.request_stop()

    for name in ("_install_signal_handlers", "register_birth", "stop"):
        monkeypatch.setattr(scheduler, name, lambda: None)
    monkeypatch.setattr(scheduler, "heartbeat", lambda: calls.append("beat"))
    monkeypatch.setattr(scheduler, "enqueue_scheduled_jobs", one_pass)
    slept: list[float] = []
    monkeypatch.setattr(scheduler_module, "time", SimpleNamespace(sleep=slept.append))
    scheduler.work()
    assert calls == ["beat"] + ["pass"] * 5 + ["beat"] + ["pass"] * 2
    assert slept == [pytest.approx(PASS_S)] * 7


def test_delivery_workers_run_it() -> None:
    connection = fakeredis.FakeRedis()
    queue = Queue("deliveries", connection=connection, serializer=JSONSerializer)
    job = queue.enqueue_at(datetime.fromtimestamp(time.time() - 1, UTC), JOB_FUNC, "webhook")
    worker = DeliveryWorker([queue], connection=connection, serializer=JSONSerializer)
    worker._start_scheduler(burst=True)
    assert isinstance(worker.scheduler, NotBeforeScheduler)
    assert queue.job_ids == [job.id]
