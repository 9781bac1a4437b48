"""Deliveries survive failing receivers and killed workers; failed ones can be replayed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from rq.registry import FailedJobRegistry

from notifier.delivery.enqueue import make_queue
from tests.integration.conftest import A, Stack
from tests.support.processes import settings_env, wait_until
from workers.deliver import recovery_bound_s

pytestmark = pytest.mark.integration


def cli(stack: Stack, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "notifier.cli", *args], env=settings_env(stack.settings),
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout + done.stderr


def one_event(stack: Stack) -> str:
    """Baseline the account, then make one new image: one delivery job."""
    cli(stack, "poll-once")
    image = stack.sim.state.add_image(A, 1)
    assert "1 event(s)" in cli(stack, "poll-once")
    return image


def test_retryable_failures_are_retried_until_delivered(stack: Callable[..., Stack]) -> None:
    s = stack()
    s.receiver.answer(503, times=1)
    s.receiver.answer(429, headers={"Retry-After": "2"})
    one_event(s)
    s.spawn(["worker"])
    got = s.receiver.wait_for(lambda got: any(r.status == 200 for r in got), 60)
    assert [r.status for r in got] == [503, 429, 200]
    assert len({r.webhook_id for r in got}) == 1
    # Each try is signed afresh, so a late retry is not refused as too old.
    assert all(r.verified for r in got)
    assert got[2].at - got[1].at >= 2.0  # Retry-After honoured


def test_permanent_failure_lands_in_failed_registry_and_replay_delivers_it(stack: Callable[..., Stack]) -> None:
    s = stack()
    s.receiver.answer(400)
    one_event(s)
    worker = s.spawn(["worker", "--burst"])
    assert worker.wait(60) == 0
    registry = FailedJobRegistry(queue=make_queue(s.redis, s.settings))
    assert registry.get_job_count(cleanup=False) == 1
    status = cli(s, "status")
    assert "1 failed" in status
    assert "answered 400" in status
    assert s.receiver.path not in status and s.settings.webhook_secret.get_secret_value() not in status
    assert f"account {A}: 0 tracked" in status

    assert "re-enqueued 1 failed delivery" in cli(s, "replay")
    assert s.spawn(["worker", "--burst"]).wait(60) == 0
    got = s.receiver.wait_for(lambda got: len(got) == 2, 10)
    assert [r.status for r in got] == [400, 200]
    assert got[0].webhook_id == got[1].webhook_id
    assert registry.get_job_count(cleanup=False) == 0


def test_exhausted_retries_land_in_failed_registry(stack: Callable[..., Stack]) -> None:
    s = stack(delivery_max_attempts=2)
    s.receiver.answer(500, times=2)
    one_event(s)
    s.spawn(["worker"])
    registry = FailedJobRegistry(queue=make_queue(s.redis, s.settings))
    wait_until(lambda: registry.get_job_count(cleanup=False) == 1, 30, "the job to fail")
    job = registry.get_queue().fetch_job(registry.get_job_ids(cleanup=False)[0])
    assert "answered 500" in job.latest_result().exc_string
    assert [r.status for r in s.receiver.received] == [500, 500]


def test_worker_killed_mid_delivery_delivers_after_restart(stack: Callable[..., Stack]) -> None:
    s = stack()
    s.receiver.hang.set()
    one_event(s)
    first = s.spawn(["worker"])
    assert s.receiver.held.wait(30), "the delivery never reached the receiver"
    first.signal_group(signal.SIGKILL)
    first.wait(10)
    killed_at = time.time()
    s.receiver.hang.clear()
    s.receiver.release.set()

    second = s.spawn(["worker"])
    try:
        got = s.receiver.wait_for(lambda got: any(r.status == 200 for r in got), recovery_bound_s(s.settings) + 10)
    except AssertionError:
        print(second.output())
        raise
    assert got[-1].verified
    assert got[-1].at - killed_at <= recovery_bound_s(s.settings) + 5


def test_defaults_recover_a_killed_delivery_within_two_minutes(make_settings: Callable[..., object]) -> None:
    settings = make_settings()
    assert recovery_bound_s(settings) <= 120  # type: ignore[arg-type]


def test_status_json_names_no_secret(stack: Callable[..., Stack]) -> None:
    s = stack()
    one_event(s)
    report = json.loads(cli(s, "status", "--json"))
    assert report["queued"] == 1
    assert report["accounts"][0]["account"] == A
    text = json.dumps(report)
    assert s.receiver.path not in text
    assert s.settings.useapi_token.get_secret_value() not in text
