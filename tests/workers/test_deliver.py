from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any
from unittest.mock import patch

import fakeredis
import pytest
import redis
from rq import Queue
from rq.serializers import JSONSerializer

import notifier.delivery.context as context_module
import workers.deliver as deliver_module
from notifier.delivery.batch import deliver_batch
from notifier.delivery.enqueue import BATCH_FUNC, JOB_FUNC, LEGACY_FUNCS
from notifier.delivery.single import deliver
from notifier.runtime.settings import Settings
from workers.deliver import DeliveryJob, DeliveryWorker


def test_jobs_name_the_functions_that_run_them() -> None:
    connection = fakeredis.FakeStrictRedis()
    assert DeliveryJob.create(JOB_FUNC, connection=connection, serializer=JSONSerializer).func is deliver
    assert DeliveryJob.create(BATCH_FUNC, connection=connection, serializer=JSONSerializer).func is deliver_batch


def test_jobs_from_before_the_stages_still_run() -> None:
    # A queue or failed registry written by the flat layout names notifier.delivery.deliver.
    connection = fakeredis.FakeStrictRedis()
    legacy = {name: DeliveryJob.create(name, connection=connection, serializer=JSONSerializer).func
              for name in LEGACY_FUNCS}
    assert legacy == {"notifier.delivery.deliver": deliver, "notifier.batch_delivery.deliver_batch": deliver_batch}


def test_a_job_naming_anything_else_is_refused_before_it_runs() -> None:
    import pytest
    from rq.webhook import Webhook

    from workers.deliver import JobRefused

    connection = fakeredis.FakeStrictRedis()

    def job(func: str, **options: object) -> DeliveryJob:
        made = DeliveryJob.create(func, args=["true"], connection=connection, serializer=JSONSerializer, **options)
        made.save()
        # As a worker sees it: read back from Redis.
        return DeliveryJob.fetch(made.id, connection=connection, serializer=JSONSerializer)

    from rq import Callback

    planted = [
        job("os.system"),
        job("subprocess.getoutput"),
        job(JOB_FUNC, on_failure=Callback("os.system")),
        job(JOB_FUNC, on_success=Callback("os.system")),
        job(JOB_FUNC, webhooks=[Webhook("http://127.0.0.1:9/steal", "failed")]),
    ]
    for made in planted:
        made.retries_left = 3
        with pytest.raises(JobRefused, match="refused: it"):
            made.func  # noqa: B018
        assert made.retries_left == 0
        assert made.failure_callback is None and made.success_callback is None and made.stopped_callback is None


def _run_main(monkeypatch: pytest.MonkeyPatch, make_settings: Callable[..., Settings],
              work: Callable[[DeliveryWorker], bool]) -> int:
    connection = fakeredis.FakeStrictRedis()
    monkeypatch.setattr(deliver_module, "connect", lambda settings: connection)
    monkeypatch.setattr(context_module, "connect", lambda settings: connection)
    monkeypatch.setattr(DeliveryWorker, "work", lambda self, **kwargs: work(self))
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return deliver_module.main(make_settings(redis_url="redis://127.0.0.1:9/0"))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def test_worker_whose_loop_ends_on_an_error_exits_non_zero(monkeypatch: pytest.MonkeyPatch,
                                                            make_settings: Callable[..., Settings]) -> None:
    # RQ logs "unhandled exception, quitting" and returns from work(): the supervisor must see a failure.
    assert _run_main(monkeypatch, make_settings, lambda worker: False) == 1


def test_worker_stopped_by_a_signal_exits_zero(monkeypatch: pytest.MonkeyPatch,
                                               make_settings: Callable[..., Settings]) -> None:
    def stopped(worker: DeliveryWorker) -> bool:
        worker.stop_signalled = True
        return True

    assert _run_main(monkeypatch, make_settings, stopped) == 0


def test_worker_waits_for_redis_instead_of_quitting() -> None:
    # RQ 2.12 quits its loop when the heartbeat after a job or the suspension check meets a Redis error.
    connection = fakeredis.FakeStrictRedis()
    worker = DeliveryWorker([Queue("q", connection=connection)], connection=connection)
    calls = {"n": 0}
    real_hset = connection.hset

    def flaky_hset(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise redis.ConnectionError("Connection refused")
        return real_hset(*args, **kwargs)

    connection.hset = flaky_hset  # type: ignore[method-assign]
    worker.heartbeat()
    assert calls["n"] == 3
    with patch("rq.worker.base.is_suspended", side_effect=[redis.ConnectionError("gone"), False]):
        worker.check_for_suspension(burst=False)
