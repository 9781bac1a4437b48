"""The dispatcher drains a sink's outbox, in order per item; failures go to the single-delivery policy."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import fakeredis
import pytest
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from notifier.delivery.dispatch import budget_s, dispatch
from notifier.delivery.enqueue import DISPATCH_FUNC, JOB_FUNC, make_enqueuer, make_queue
from notifier.delivery.single import deliver
from notifier.delivery.sinks import build_sinks
from notifier.runtime.settings import Settings
from notifier.state.events import Event
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
                             delivery_job_timeout_s=5, delivery_concurrency=7, delivery_batch_size=3)
    with installed_context(settings) as context:
        yield rec, settings, context.store


def put(settings: Settings, store: fakeredis.FakeRedis, events: list[Event]) -> None:
    enqueue = make_enqueuer(make_queue(store, settings), list(build_sinks(settings).values()), settings)
    with store.pipeline() as pipe:
        pipe.multi()
        enqueue(pipe, events)
        pipe.execute()


def image(n: int, status: int = 1) -> Event:
    return event(status, image_id=f"user:1-pixverse:a@x.com-image:{n}")


def test_a_burst_larger_than_the_in_flight_limit_and_the_read_size_is_delivered_in_one_job(world: Any) -> None:
    rec, settings, store = world
    burst = [image(n) for n in range(40)]
    put(settings, store, burst)
    dispatch("webhook")
    assert sorted(r.webhook_id for r in rec.received) == sorted(e.id for e in burst)
    assert all(r.verified for r in rec.received)
    assert store.xlen(Keys(settings.key_prefix).outbox("webhook")) == 0
    assert [job.func_name for job in make_queue(store, settings).get_jobs()] == [DISPATCH_FUNC]  # the one put made


def test_a_later_event_waits_behind_its_retrying_predecessor_and_others_go(world: Any) -> None:
    rec, settings, store = world
    first, later, other = image(1, 5), image(1, 1), image(2, 1)
    rec.script = lambda webhook_id, before: (503, {}, 0.0) if webhook_id == first.id and before == 0 else (200, {}, 0.0)
    put(settings, store, [first, later, other])
    queue = make_queue(store, settings)
    queue.empty()

    dispatch("webhook")
    assert sorted((r.webhook_id, r.status) for r in rec.received) == sorted([(first.id, 503), (other.id, 200)])
    scheduled = [queue.fetch_job(j) for j in ScheduledJobRegistry(queue=queue).get_job_ids(cleanup=False)]
    # The retry, and a look at the outbox later (a hold may expire: its event must not wait forever).
    assert sorted(job.func_name for job in scheduled) == [DISPATCH_FUNC, JOB_FUNC]
    retry = next(job for job in scheduled if job.func_name == JOB_FUNC)
    assert retry.args[1] == first.id
    keys = Keys(settings.key_prefix)
    assert [f[b"id"].decode() for _, f in store.xrange(keys.outbox("webhook"))] == [later.id]

    dispatch("webhook")  # a new poll's dispatcher: the later event still waits
    assert len(rec.received) == 2

    queue.empty()
    deliver(*retry.args)  # the retry goes through: its hold ends and the dispatcher is woken
    assert [(job.func_name, job.args) for job in queue.get_jobs()] == [(DISPATCH_FUNC, ["webhook"])]
    dispatch("webhook")
    assert [(r.webhook_id, r.status) for r in rec.received][2:] == [(first.id, 200), (later.id, 200)]
    assert store.xlen(keys.outbox("webhook")) == 0


def test_a_final_failure_ends_the_hold_at_once(world: Any) -> None:
    rec, settings, store = world
    first, later = image(1, 5), image(1, 1)
    rec.script = lambda webhook_id, before: (410, {}, 0.0) if webhook_id == first.id else (200, {}, 0.0)
    put(settings, store, [first, later])
    dispatch("webhook")
    assert [(r.webhook_id, r.status) for r in rec.received] == [(first.id, 410), (later.id, 200)]
    assert FailedJobRegistry(queue=make_queue(store, settings)).get_job_count(cleanup=False) == 1


def test_a_chat_sink_gets_single_jobs_one_per_item_at_a_time(world: Any,
                                                             make_settings: Callable[..., Settings]) -> None:
    rec, settings, store = world
    chat = make_settings(slack_webhook_url="https://hooks.slack.com/services/x", key_prefix=settings.key_prefix,
                         queue_name=settings.queue_name)
    from notifier.delivery.context import current_context

    current_context().sinks = build_sinks(chat)
    first, later, other = image(1, 1), image(1, 7), image(2, 1)  # chat sinks take final events only
    put(chat, store, [first, later, other])
    queue = make_queue(store, chat)
    queue.empty()
    dispatch("slack")
    singles = [queue.fetch_job(j) for j in queue.get_job_ids()]
    assert sorted(job.args[1] for job in singles) == sorted([first.id, other.id])
    assert all(job.func_name == JOB_FUNC for job in singles)
    assert rec.received == []


def test_a_dispatcher_stops_taking_entries_well_within_its_job_timeout() -> None:
    assert budget_s(30, 10.0) + 10.0 < 30
    assert budget_s(4, 2.0) >= 1.0
