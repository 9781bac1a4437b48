"""Every wait a delivery job is given is a floor, kept in the job: Retry-After, Discord's retry_after, the
shared rate limit, an open circuit; and a job that starts early waits or goes back (issue #18)."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator
from typing import Any

import fakeredis
import httpx
import pytest
from rq import Queue, Retry
from rq.job import Job
from rq.serializers import JSONSerializer

from notifier.delivery.context import DeliveryContext, install
from notifier.delivery.enqueue import JOB_FUNC
from notifier.delivery.policy import NOT_BEFORE
from notifier.runtime.settings import Settings
from tests.conftest import SECRET
from tests.delivery.sinks.hostile import event


class Sinks:
    """One context with a webhook, Slack and Discord; answers queued per test, send times recorded."""

    def __init__(self, settings: Settings) -> None:
        self.answers: list[httpx.Response] = []
        self.sent: list[tuple[float, str]] = []
        self.context = DeliveryContext.from_settings(settings, client=fakeredis.FakeRedis())
        self.context.client = httpx.Client(transport=httpx.MockTransport(self._answer))
        self.context.rng = random.Random(0)
        self.queue = Queue("deliveries", connection=self.context.store, serializer=JSONSerializer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((time.time(), request.url.host))
        return self.answers.pop(0) if self.answers else httpx.Response(204)

    def run(self, sink: str, meta: dict[str, Any] | None = None, job: Job | None = None) -> tuple[Job, Retry | None]:
        """Run a delivery of one completed event to ``sink`` as an RQ job would (again, given ``job``)."""
        if job is None:
            e = event(1)
            job = self.queue.enqueue(JOB_FUNC, sink, e.id, e.payload(), meta=meta or {})
        return job, job.perform()


@pytest.fixture
def sinks(make_settings: Any) -> Iterator[Sinks]:
    settings = make_settings(webhook_url="https://hooks.example/h", webhook_secret=SECRET,
                             slack_webhook_url="https://hooks.slack.com/services/T0/B0/x",
                             discord_webhook_url="https://discord.com/api/webhooks/1/x")
    world = Sinks(settings)
    install(world.context)
    yield world
    install(None)


def interval(retry: Retry | None) -> int:
    assert retry is not None
    return int(retry.intervals[0])


def test_a_429_keeps_its_exact_retry_after_in_the_job(sinks: Sinks) -> None:
    sinks.answers.append(httpx.Response(429, headers={"Retry-After": "2"}))
    before = time.time()
    job, retry = sinks.run("webhook")
    after = time.time()
    assert interval(retry) == 2
    assert before + 2 <= job.meta[NOT_BEFORE] <= after + 2
    assert Job.fetch(job.id, connection=job.connection, serializer=JSONSerializer).meta[NOT_BEFORE] == \
        job.meta[NOT_BEFORE]


def test_discords_sub_second_retry_after_is_waited_out_by_the_rescheduled_job(sinks: Sinks) -> None:
    sinks.answers.append(httpx.Response(429, json={"message": "rate limited", "retry_after": 0.4, "global": False}))
    job, retry = sinks.run("discord")
    assert interval(retry) == 0  # under a second: RQ enqueues it at once...
    not_before = job.meta[NOT_BEFORE]
    assert sinks.run("discord", job=job)[1] is None  # ...and it waits before sending
    assert [host for _, host in sinks.sent] == ["discord.com", "discord.com"]
    assert sinks.sent[1][0] >= not_before


def test_the_shared_rate_limit_wait_is_a_floor(sinks: Sinks) -> None:
    sinks.context.limiter.block("slack", 5)
    before = time.time()
    job, retry = sinks.run("slack")
    assert interval(retry) in (4, 5)
    assert before + 4.9 <= job.meta[NOT_BEFORE] <= time.time() + 5
    assert sinks.sent == []


def test_an_open_circuit_is_a_floor(sinks: Sinks) -> None:
    sinks.context.guard.trip("webhook")
    before = time.time()
    job, retry = sinks.run("webhook")
    assert interval(retry) in (28, 29, 30)
    assert job.meta[NOT_BEFORE] >= before + 29
    assert sinks.sent == []


def test_a_job_started_early_sends_no_sooner_than_asked(sinks: Sinks) -> None:
    not_before = time.time() + 0.3
    _, retry = sinks.run("webhook", meta={NOT_BEFORE: not_before})
    assert retry is None
    [(sent_at, _)] = sinks.sent
    assert not_before <= sent_at < not_before + 0.2


def test_a_job_started_seconds_early_goes_back_without_sending(sinks: Sinks) -> None:
    not_before = time.time() + 5
    job, retry = sinks.run("webhook", meta={NOT_BEFORE: not_before})
    assert interval(retry) == math.floor(not_before - time.time())
    assert job.meta[NOT_BEFORE] == not_before
    assert sinks.sent == []


def test_a_busy_sink_is_tried_again_soon_without_a_floor(sinks: Sinks) -> None:
    token = sinks.context.guard.acquire("webhook")
    assert token is not None
    job, retry = sinks.run("webhook", meta={NOT_BEFORE: time.time() - 1})
    assert interval(retry) == 1
    assert NOT_BEFORE not in job.meta
