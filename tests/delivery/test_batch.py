"""A batch sends many events at once; what fails becomes single deliveries with the usual policy."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import fakeredis
import pytest
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from notifier.delivery.batch import deliver_batch
from notifier.delivery.context import DeliveryContext, current_context, install
from notifier.delivery.enqueue import JOB_FUNC, make_enqueuer, make_queue
from notifier.delivery.sinks import build_sinks
from notifier.runtime.settings import Settings
from notifier.state.keys import Keys
from tests.conftest import SECRET
from tests.delivery.sinks.hostile import event
from tests.support.receiver import Receiver

pytestmark = pytest.mark.integration  # a real HTTP receiver on loopback


@pytest.fixture
def world(make_settings: Callable[..., Settings], receiver: Callable[..., Receiver]) -> Iterator[Any]:
    rec = receiver()
    settings = make_settings(webhook_url=rec.url, webhook_secret=SECRET, delivery_timeout_s=1.0,
                             delivery_job_timeout_s=5)
    store = fakeredis.FakeRedis()
    context = DeliveryContext.from_settings(settings, client=store)
    context.rng = random.Random(0)
    install(context)
    yield rec, settings, store
    install(None)


def items(count: int) -> list[list[Any]]:
    made = [event(1, image_id=f"user:1-pixverse:a@x.com-image:{n}") for n in range(count)]
    return [[e.id, e.payload()] for e in made]


def test_all_delivered_signed(world: Any) -> None:
    rec, settings, store = world
    assert deliver_batch("webhook", items(20)) is None
    assert len({r.webhook_id for r in rec.received}) == 20 and all(r.verified for r in rec.received)
    assert make_queue(store, settings).count == 0


def test_failures_become_single_deliveries(world: Any) -> None:
    rec, settings, store = world
    rec.answer(500)
    rec.answer(410)
    rec.answer(429, headers={"Retry-After": "7"})
    deliver_batch("webhook", items(6))
    queue = make_queue(store, settings)
    scheduled = [queue.fetch_job(j) for j in ScheduledJobRegistry(queue=queue).get_job_ids(cleanup=False)]
    assert sorted(job.meta["failures"] for job in scheduled) == [0, 1]  # the 429 is no failure
    failed = FailedJobRegistry(queue=queue)
    [failed_id] = failed.get_job_ids(cleanup=False)
    job = queue.fetch_job(failed_id)
    assert "answered 410" in job.latest_result().exc_string
    assert job.func_name == JOB_FUNC and job.args[0] == "webhook"
    assert sum(r.status == 200 for r in rec.received) == 3


def test_a_dead_endpoint_is_left_alone_for_a_while(world: Any) -> None:
    rec, settings, store = world
    rec.hang.set()
    deliver_batch("webhook", items(3))
    assert store.ttl(Keys(settings.key_prefix).circuit("webhook")) > 0
    retry = deliver_batch("webhook", items(3))
    assert retry is not None and retry.intervals[0] > 1  # waits without trying
    assert len(ScheduledJobRegistry(queue=make_queue(store, settings)).get_job_ids(cleanup=False)) == 3


def test_an_unknown_sink_fails_the_batch_for_good(world: Any) -> None:
    from notifier.errors import DeliveryError

    with pytest.raises(DeliveryError, match="not configured"):
        deliver_batch("gone_sink", items(2))


def test_a_batch_never_holds_more_than_one_round_of_requests(make_settings: Callable[..., Settings]) -> None:
    # Concurrency 10, batch 100: ten rounds of up to 10 s would outlive the 30 s job timeout and the 12 s lease.
    settings = make_settings(webhook_url="http://127.0.0.1:9/hook", webhook_secret=SECRET,
                             delivery_concurrency=10, delivery_batch_size=100)
    store = fakeredis.FakeRedis()
    queue = make_queue(store, settings)
    enqueue = make_enqueuer(queue, list(build_sinks(settings).values()), settings)
    events = [event(1, image_id=f"user:1-pixverse:a@x.com-image:{n}") for n in range(100)]
    with store.pipeline() as pipe:
        enqueue(pipe, events)
        pipe.execute()
    sizes = [len(job.args[1]) for job in queue.get_jobs()]
    assert sizes == [10] * 10
    assert settings.delivery_timeout_s * -(-max(sizes) // settings.delivery_concurrency) \
        < settings.delivery_job_timeout_s


def test_a_batch_enqueued_larger_sends_one_round_and_requeues_the_rest(
        world: Any, make_settings: Callable[..., Settings]) -> None:
    rec, settings, store = world
    context = current_context()
    context.settings = settings.model_copy(update={"delivery_concurrency": 8})
    assert deliver_batch("webhook", items(20)) is None
    assert len(rec.received) == 8
    assert sorted(len(job.args[1]) for job in make_queue(store, settings).get_jobs()) == [4, 8]
