"""Chat rate limits hold across worker processes: a token bucket and 429 pauses shared in Redis."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest
from rq import Worker
from rq.registry import FailedJobRegistry

from notifier.delivery.enqueue import make_queue
from tests.integration.conftest import A, Stack
from tests.support.processes import settings_env, wait_until

pytestmark = pytest.mark.integration


def chat_stack(stack: Callable[..., Stack], **overrides: object) -> Stack:
    s = stack(webhook_url="", webhook_secret="", **overrides)
    s.settings = s.settings.model_copy(update={"slack_webhook_url": s.receiver.url})
    return s


def enqueue_completed(s: Stack, count: int) -> None:
    env = settings_env(s.settings)
    run = [sys.executable, "-m", "notifier.cli", "poll-once"]
    subprocess.run(run, env=env, check=True, capture_output=True, timeout=60)
    for _ in range(count):
        s.sim.state.add_image(A, 1)
    out = subprocess.run(run, env=env, check=True, capture_output=True, text=True, timeout=60).stdout
    assert f"{count} event(s)" in out


def two_workers(s: Stack) -> None:
    for _ in range(2):
        s.spawn(["worker"])
    queue = make_queue(s.redis, s.settings)
    wait_until(lambda: len(Worker.all(queue=queue)) == 2, 30, "two workers")


def test_token_bucket_spaces_messages_across_two_workers(stack: Callable[..., Stack]) -> None:
    s = chat_stack(stack)
    two_workers(s)
    enqueue_completed(s, 7)
    got = s.receiver.wait_for(lambda got: len(got) == 7, 60)
    times = sorted(r.at for r in got)
    offsets = [round(t - times[0], 2) for t in times]
    print("arrival offsets (s):", offsets)
    # A burst of 3, then one a second, whichever worker sends.
    for index, offset in enumerate(offsets[3:], start=3):
        assert offset >= (index - 2) * 1.0 - 0.1
    assert all(r.payload and r.payload["blocks"][0]["type"] == "header" for r in got)


def test_429_makes_every_worker_wait_and_is_not_a_failure(stack: Callable[..., Stack]) -> None:
    s = chat_stack(stack, delivery_max_attempts=1)
    s.receiver.answer(429, headers={"Retry-After": "2"})
    two_workers(s)
    enqueue_completed(s, 3)
    got = s.receiver.wait_for(lambda got: sum(r.status == 200 for r in got) == 3, 60)
    assert got[0].status == 429
    offsets = sorted(round(r.at - got[0].at, 2) for r in got[1:])
    print("requests after the 429, seconds later:", offsets)
    # A request already in flight beside the 429 lands at once; every one sent after it waits 2 s.
    assert all(offset < 0.1 or offset >= 2.0 - 0.05 for offset in offsets)
    assert sum(offset >= 2.0 - 0.05 for offset in offsets) >= 2


def test_archived_channel_is_final_and_logged_once(stack: Callable[..., Stack]) -> None:
    s = chat_stack(stack)
    s.receiver.answer(410, times=3)
    enqueue_completed(s, 3)
    worker = s.spawn(["worker", "--burst"])
    assert worker.wait(60) == 0
    assert [r.status for r in s.receiver.received] == [410, 410, 410]  # one try each, no retry storm
    failed = FailedJobRegistry(queue=make_queue(s.redis, s.settings))
    assert failed.get_job_count(cleanup=False) == 3
    log = worker.output()
    errors = [line for line in log.splitlines() if " ERROR notifier.delivery.single: slack is gone" in line]
    assert len(errors) == 1, log
    assert log.count("slack is gone") == 3
    assert "Traceback" not in log
    assert s.receiver.path not in log
