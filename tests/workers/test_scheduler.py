"""The delivery workers' scheduler enqueues a retry once its exact not-before time has passed (#18)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from multiprocessing.process import BaseProcess
from types import SimpleNamespace
from typing import Any

import fakeredis
import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry
from rq.serializers import JSONSerializer

from notifier.delivery.enqueue import JOB_FUNC
from notifier.delivery.policy import NOT_BEFORE
from workers import scheduler as scheduler_module
from workers.deliver import DeliveryWorker
from workers.scheduler import PASS_S, NotBeforeScheduler, stop_scheduler_process


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


# --- Stopping the scheduler child ----------------------------------------------------------------------------

def _deaf_then_listening(deaf_s: float) -> None:
    """A child that misses stop signals for ``deaf_s`` (as one not yet past its start-up does), then stops on one."""
    time.sleep(deaf_s)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    while not stop.wait(0.01):
        pass
    os._exit(0)


def _never_stopping() -> None:
    while True:
        time.sleep(0.05)


def _forked(target: Callable[..., None], *args: Any) -> BaseProcess:
    # The child inherits SIGTERM ignored, so a signal sent before its own handler is missed (not fatal).
    before = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        process = multiprocessing.get_context("fork").Process(target=target, args=args)
        process.start()
    finally:
        signal.signal(signal.SIGTERM, before)
    return process


def _stopped_within(process: BaseProcess, bound_s: float, **limits: float) -> bool:
    stopper = threading.Thread(target=stop_scheduler_process, args=(process,), kwargs=limits, daemon=True)
    stopper.start()
    stopper.join(bound_s)  # RQ's own stop waited forever here: fail instead of hanging
    if stopper.is_alive():
        process.kill()
        process.join()
        return False
    return True


def test_a_stop_signal_the_child_missed_is_sent_again_until_it_exits() -> None:
    process = _forked(_deaf_then_listening, 0.3)
    assert _stopped_within(process, 10, resend_s=0.05, kill_after_s=30)
    assert process.exitcode == 0  # it stopped by itself, not killed


def test_a_child_that_does_not_stop_is_killed_after_the_bound() -> None:
    process = _forked(_never_stopping)
    assert _stopped_within(process, 10, resend_s=0.05, kill_after_s=0.3)
    assert process.exitcode == -signal.SIGKILL


def test_no_child_nothing_to_stop() -> None:
    stop_scheduler_process(None)
    stop_scheduler_process(multiprocessing.get_context("fork").Process(target=_never_stopping))  # never started


def test_a_stop_signal_before_its_loop_starts_stops_the_scheduler(monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, scheduler = world()
    calls: list[str] = []
    for name in ("register_birth", "heartbeat", "enqueue_scheduled_jobs"):
        monkeypatch.setattr(scheduler, name, lambda name=name: calls.append(name))
    monkeypatch.setattr(scheduler, "stop", lambda: calls.append("stop"))
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        scheduler_module.listen_for_stop_in_child()  # what the forked child runs first
        os.kill(os.getpid(), signal.SIGTERM)  # before the loop: the handler the child inherited would ignore it
        scheduler.work()
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        monkeypatch.setattr(scheduler_module, "_stop_before_work", False)
    assert calls == ["register_birth", "stop"]
