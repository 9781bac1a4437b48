"""A delay is a floor: the wait computation, and how a job is rescheduled and waits (issue #18)."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from types import SimpleNamespace

import fakeredis
import pytest
from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer

from notifier.delivery import policy
from notifier.delivery.policy import (
    NOT_BEFORE,
    later,
    not_before_of,
    retry_soon,
    rq_interval_s,
    wait_left_s,
    wait_until_due,
)

NOW = 1_764_000_041.789


class Clock:
    """time.time() and time.sleep() for policy: sleeping moves the clock, and is recorded."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock(NOW)
    monkeypatch.setattr(policy, "time", SimpleNamespace(time=fake.time, sleep=fake.sleep))
    return fake


@pytest.fixture
def job() -> Iterator[Job]:
    queue = Queue("q", connection=fakeredis.FakeRedis(), serializer=JSONSerializer)
    yield queue.enqueue("notifier.delivery.single.deliver", "webhook", "evt_1", {})


def test_wait_left_is_what_remains_until_not_before() -> None:
    assert wait_left_s(None, NOW) == 0.0
    assert wait_left_s(NOW - 3, NOW) == 0.0
    assert wait_left_s(NOW, NOW) == 0.0
    assert wait_left_s(NOW + 0.25, NOW) == pytest.approx(0.25)
    assert wait_left_s(NOW + 2, NOW) == pytest.approx(2.0)


def test_rq_interval_is_whole_seconds_rounded_down() -> None:
    assert [rq_interval_s(s) for s in (-1.0, 0.0, 0.4, 0.999, 1.0, 2.0, 2.7, 3600.0)] == [0, 0, 0, 0, 1, 2, 2, 3600]


def test_rq_scores_a_retry_at_most_its_clock_lag_after_not_before_and_under_two_seconds_before() -> None:
    # What RQ 2.12 does with Retry(interval=k): score = floor(its clock + k), read a moment after the job returned.
    rng = random.Random(18)
    for _ in range(10_000):
        now, wait, lag = rng.uniform(0, 1e9), rng.uniform(0, 10), rng.uniform(0, 0.05)
        not_before = now + wait
        score = math.floor(now + lag + rq_interval_s(wait))
        assert not_before - 2 < score <= not_before + lag


def test_not_before_is_read_from_meta() -> None:
    assert not_before_of({}) is None
    assert not_before_of({NOT_BEFORE: None}) is None
    assert not_before_of({NOT_BEFORE: True}) is None
    assert not_before_of({NOT_BEFORE: "soon"}) is None
    assert not_before_of({NOT_BEFORE: 12}) == 12.0
    assert not_before_of({NOT_BEFORE: NOW}) == NOW


def test_later_keeps_the_exact_time_in_the_job(clock: Clock, job: Job) -> None:
    retry = later(job, 2.5)
    assert retry.intervals == [2]
    assert job.meta[NOT_BEFORE] == NOW + 2.5
    assert Job.fetch(job.id, connection=job.connection, serializer=JSONSerializer).meta[NOT_BEFORE] == NOW + 2.5
    assert later(None, 0.3).intervals == [0]  # under a second: at once, and the job waits the rest


def test_retry_soon_keeps_no_time(clock: Clock, job: Job) -> None:
    later(job, 5)
    assert retry_soon(job).intervals == [1]
    assert NOT_BEFORE not in Job.fetch(job.id, connection=job.connection, serializer=JSONSerializer).meta


def test_a_job_started_less_than_a_second_early_sleeps_until_its_time(clock: Clock, job: Job) -> None:
    job.meta[NOT_BEFORE] = NOW + 0.6
    assert wait_until_due(job) is None
    assert clock.now >= NOW + 0.6
    assert sum(clock.slept) == pytest.approx(0.6)


def test_a_job_started_a_second_or_more_early_goes_back_to_the_scheduler(clock: Clock, job: Job) -> None:
    job.meta[NOT_BEFORE] = NOW + 4.5
    retry = wait_until_due(job)
    assert retry is not None and retry.intervals == [4]
    assert clock.slept == []
    assert job.meta[NOT_BEFORE] == NOW + 4.5  # the same time, not 4.5 s from the next start


def test_a_job_on_time_or_without_a_time_goes_at_once(clock: Clock, job: Job) -> None:
    assert wait_until_due(None) is None
    assert wait_until_due(job) is None
    job.meta[NOT_BEFORE] = NOW - 0.1
    assert wait_until_due(job) is None
    assert clock.slept == []


def test_whoever_enqueues_a_job_and_when_it_never_leaves_early(clock: Clock, job: Job) -> None:
    # A plain RQ scheduler (once a second, whole-second scores) or a hand requeue, at any moment.
    rng = random.Random(7)
    for _ in range(2_000):
        clock.now = NOW + rng.uniform(0, 10)
        not_before = clock.now + rng.uniform(0, 4)
        job.meta[NOT_BEFORE] = not_before
        clock.now = rng.uniform(clock.now, not_before + 0.5)  # started, maybe early
        retry = wait_until_due(job)
        while retry is not None:  # back to the scheduler: enqueued at the start of its second at the earliest
            clock.now = max(clock.now, math.floor(clock.now + retry.intervals[0]))
            retry = wait_until_due(job)
        assert clock.now >= not_before
        assert all(s < 1.0 for s in clock.slept)
