"""A batch sends many events at once; what fails becomes single deliveries with the usual policy."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from notifier.delivery.batch import deliver_batch
from notifier.delivery.context import current_context
from notifier.delivery.enqueue import BATCH_FUNC, JOB_FUNC, make_queue
from notifier.delivery.policy import NOT_BEFORE
from notifier.runtime.settings import Settings
from notifier.state.keys import Keys
from tests.conftest import SECRET
from tests.delivery.sinks.hostile import event
from tests.support.delivery import installed_context
from tests.support.receiver import Receiver

pytestmark = pytest.mark.integration  # a real HTTP receiver on loopback


@pytest.fixture
def world(make_settings: Callable[..., Settings], receiver: Callable[..., Receiver]) -> Iterator[Any]:
    rec = receiver()
    settings = make_settings(webhook_url=rec.url, webhook_secret=SECRET, delivery_timeout_s=1.0,
                             delivery_job_timeout_s=5)
    with installed_context(settings) as context:
        yield rec, settings, context.store


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


def test_a_429_follow_up_is_scheduled_for_its_exact_time(world: Any) -> None:
    rec, settings, store = world
    rec.answer(429, headers={"Retry-After": "2"})
    rec.answer(200, delay_s=0.5)  # the other event of the batch: a slow answer
    before = time.time()
    deliver_batch("webhook", items(2))
    after = time.time()
    queue = make_queue(store, settings)
    registry = ScheduledJobRegistry(queue=queue)
    [job_id] = registry.get_job_ids(cleanup=False)
    not_before = queue.fetch_job(job_id).meta[NOT_BEFORE]
    # From the 429, not from the end of the batch; RQ scores it in the second it falls in.
    assert before + 2 <= not_before <= after + 2 - 0.4
    assert store.zscore(registry.key, job_id) == math.floor(not_before)


def test_a_batch_started_early_waits_for_its_time(world: Any) -> None:
    rec, settings, store = world
    queue = make_queue(store, settings)
    soon = time.time() + 0.3
    job = queue.enqueue(BATCH_FUNC, "webhook", items(2), meta={NOT_BEFORE: soon})
    assert job.perform() is None
    assert len(rec.received) == 2 and min(r.at for r in rec.received) >= soon
    later = time.time() + 5
    job = queue.enqueue(BATCH_FUNC, "webhook", items(2), meta={NOT_BEFORE: later})
    retry = job.perform()
    assert retry is not None and retry.intervals == [4]
    assert len(rec.received) == 2


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


def test_an_event_whose_request_cannot_be_built_fails_alone(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue #10, case 7: one poisonous event used to fail its whole batch of up to 100.
    from notifier.delivery.enqueue import job_id
    from notifier.delivery.sinks import webhook

    rec, settings, store = world
    batch = items(5)
    poison = batch[2][0]
    real = webhook.build_request

    def build(event: Any, config: Any, now: float) -> Any:
        if event.id == poison:
            raise UnicodeEncodeError("utf-8", "cat \ud83d", 4, 5, "surrogates not allowed")
        return real(event, config, now)

    monkeypatch.setattr(webhook, "build_request", build)
    assert deliver_batch("webhook", batch) is None
    assert sorted(r.webhook_id for r in rec.received) == sorted(eid for eid, _ in batch if eid != poison)
    queue = make_queue(store, settings)
    assert FailedJobRegistry(queue=queue).get_job_ids(cleanup=False) == [job_id(poison, "webhook")]
    reason = queue.fetch_job(job_id(poison, "webhook")).latest_result().exc_string
    assert "could not build the request (UnicodeEncodeError" in reason
    assert store.ttl(Keys(settings.key_prefix).circuit("webhook")) < 0  # the endpoint is fine


def test_broken_text_in_a_batch_is_delivered_as_valid_utf8(world: Any) -> None:
    rec, _settings, _store = world
    broken = [event(1, image_id=f"user:1-pixverse:a@x.com-image:{n}", prompt="cat \ud83d") for n in range(3)]
    deliver_batch("webhook", [[e.id, e.payload()] for e in broken])
    assert len(rec.received) == 3 and all(r.verified for r in rec.received)


def test_a_batch_enqueued_larger_sends_one_round_and_requeues_the_rest(
        world: Any, make_settings: Callable[..., Settings]) -> None:
    rec, settings, store = world
    context = current_context()
    context.settings = settings.model_copy(update={"delivery_concurrency": 8})
    assert deliver_batch("webhook", items(20)) is None
    assert len(rec.received) == 8
    assert sorted(len(job.args[1]) for job in make_queue(store, settings).get_jobs()) == [4, 8]
