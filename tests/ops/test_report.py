"""``notifier replay`` gives a failed delivery a fresh set of tries (issue #10, case 8)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import fakeredis
import httpx
import pytest
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from rq.serializers import JSONSerializer

from notifier.delivery.enqueue import job_id, make_queue
from notifier.ops.report import replay_failed
from notifier.runtime.settings import Settings
from notifier.state.events import build_event
from notifier.upstream.statuses import resolve
from tests.conftest import SECRET
from tests.support.delivery import installed_context
from workers.deliver import DeliveryJob, DeliveryWorker

IMAGE = {"image_id": "user:1-pixverse:a@x.com-image:1", "image_status": 1}
ATTEMPTS = 3


@pytest.fixture
def world(make_settings: Callable[..., Settings]) -> Iterator[Any]:
    settings = make_settings(webhook_url="https://hooks.example/h", webhook_secret=SECRET,
                             delivery_max_attempts=ATTEMPTS, delivery_batch_size=1)
    store = fakeredis.FakeRedis()
    answers: list[int] = []
    tries: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        tries.append(request)
        return httpx.Response(answers.pop(0) if answers else 500)

    with installed_context(settings, store, handler):
        yield settings, store, answers, tries


def run_until_settled(settings: Settings, store: fakeredis.FakeRedis) -> None:
    """Run the queue's jobs in this process; a scheduled retry runs at once instead of after its wait."""
    queue = make_queue(store, settings)
    scheduled = ScheduledJobRegistry(queue=queue)
    for _ in range(100):
        DeliveryWorker([queue], connection=store, serializer=JSONSerializer, job_class=DeliveryJob).work(burst=True)
        waiting = scheduled.get_job_ids(cleanup=False)
        if not waiting:
            return
        for waiting_id in waiting:
            # As if its wait were over: a job started before its not-before time goes back to wait.
            job = DeliveryJob.fetch(waiting_id, connection=store, serializer=JSONSerializer)
            job.meta.pop("not_before", None)
            job.save_meta()
            scheduled.requeue(waiting_id)
    raise AssertionError("the jobs never settled")


def enqueue_one(settings: Settings, store: fakeredis.FakeRedis) -> str:
    from notifier.delivery.batch import single_job_kwargs
    from notifier.delivery.context import current_context
    from notifier.delivery.enqueue import JOB_FUNC
    from notifier.delivery.sinks import build_sinks

    # A single-delivery job, as the dispatcher makes of a failed delivery (the mock answers httpx only).
    ev = build_event(image=IMAGE, account="a@x.com", status=resolve(IMAGE), previous=None, now=0)
    sink = build_sinks(settings)["webhook"]
    make_queue(store, settings).enqueue(JOB_FUNC, **single_job_kwargs(current_context(), sink, ev, 0))
    return job_id(ev.id, "webhook")


def test_a_replayed_exhausted_delivery_gets_a_fresh_set_of_tries(world: Any) -> None:
    settings, store, answers, tries = world
    failed = FailedJobRegistry(queue=make_queue(store, settings))
    job = enqueue_one(settings, store)
    run_until_settled(settings, store)
    assert len(tries) == ATTEMPTS
    assert failed.get_job_ids(cleanup=False) == [job]

    assert replay_failed(settings, store) == [job]
    fresh = make_queue(store, settings).fetch_job(job)
    assert (fresh.meta["failures"], fresh.number_of_retries, fresh.retries_left) == (0, 0, settings.crash_retries)
    run_until_settled(settings, store)
    assert len(tries) == 2 * ATTEMPTS  # was ATTEMPTS + 1: the replayed job kept meta["failures"]
    assert failed.get_job_ids(cleanup=False) == [job]

    # And a replay that succeeds on its last try of the fresh set is delivered.
    answers.extend([500] * (ATTEMPTS - 1) + [204])
    replay_failed(settings, store)
    run_until_settled(settings, store)
    assert len(tries) == 3 * ATTEMPTS
    assert failed.get_job_ids(cleanup=False) == []


def test_status_lists_the_accounts_of_every_source(make_settings: Callable[..., Settings],
                                                   fake_redis: fakeredis.FakeRedis) -> None:
    from notifier.ops.report import collect_status
    from notifier.runtime.app import build_tracker

    settings = make_settings(sources=[{"name": "team_b", "token": "user:5-teamBtoken"}])
    build_tracker(settings, fake_redis).finish_cycle("a@x.com", 1000.0)
    build_tracker(settings, fake_redis, "team_b").finish_cycle("a@x.com", 1000.0, error="401 for user:5-teamBtoken")
    status = collect_status(settings, fake_redis, now=1010.0)
    shown = {row["account"]: row for row in status.accounts}
    assert set(shown) == {"a@x.com", "team_b/a@x.com"}
    assert shown["a@x.com"]["last_error"] is None
    assert shown["team_b/a@x.com"]["last_error"] == "401 for [redacted]"
