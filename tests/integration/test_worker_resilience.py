"""A delivery worker rides through Redis going away, and a killed delivery runs again within seconds."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator

import pytest
from rq import Worker

from notifier.runtime.settings import Settings
from tests.integration.conftest import A, Stack
from tests.integration.test_delivery_failures import cli, one_event
from tests.support.processes import wait_until
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.integration


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A Redis of this test's own, to take away and bring back."""
    server = RedisServer()
    yield server
    server.stop()


def test_worker_rides_through_redis_going_away_after_a_job(stack: Callable[..., Stack],
                                                            own_redis: RedisServer) -> None:
    s = stack(redis_url=own_redis.url)
    s.receiver.answer(200, delay_s=1.5)  # Redis goes away while this delivery is in flight
    one_event(s)
    worker = s.spawn(["worker"])
    wait_until(lambda: not s.receiver.answers, 30, "the delivery to start")
    own_redis.halt(signal.SIGKILL)
    time.sleep(4)  # the job ends, RQ records it and checks for suspension: Redis is away
    assert worker.popen.poll() is None, worker.output()
    own_redis.start()
    assert worker.popen.poll() is None, worker.output()
    one_event(s)  # Redis lost everything (no persistence): a new baseline, then one new image
    s.receiver.wait_for(lambda got: len(got) >= 2, 20)
    assert worker.popen.poll() is None
    assert "unhandled exception" not in worker.output()


def test_killed_delivery_runs_again_within_15_s_with_the_defaults(stack: Callable[..., Stack]) -> None:
    defaults = {name: Settings.model_fields[name].default for name in (
        "delivery_timeout_s", "delivery_job_timeout_s", "worker_maintenance_interval_s", "worker_abandon_grace_s")}
    s = stack(worker_count=2, **defaults)
    run = s.spawn(["run"])
    wait_until(lambda: len(Worker.all(connection=s.redis)) == 2, 30, "two workers")
    cli(s, "poll-once")  # a baseline, then the poller of `run` sees one new image
    s.receiver.hang.set()
    s.sim.state.add_image(A, 1)
    assert s.receiver.held.wait(30), "the delivery never reached the receiver"
    busy = [w for w in Worker.all(connection=s.redis) if w.get_current_job_id()]
    assert len(busy) == 1
    os.kill(busy[0].pid, signal.SIGKILL)  # as the OOM killer would: that process only
    killed_at = time.time()
    s.receiver.hang.clear()
    s.receiver.release.set()
    try:
        got = s.receiver.wait_for(lambda got: any(r.status == 200 for r in got), 30)
    except AssertionError:
        print(run.output())
        raise
    took = got[-1].at - killed_at
    print(f"redelivered {took:.1f} s after the kill")
    assert took <= 15
