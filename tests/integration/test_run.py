"""`notifier run`: a poller and workers under one supervisor that leaves nothing behind."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

import pytest

from tests.integration.conftest import A, Stack
from tests.support.processes import alive, children_of, wait_until

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL])
def test_run_delivers_and_stops_with_its_children(stack: Callable[..., Stack], stop_signal: int) -> None:
    s = stack(worker_count=2)
    run = s.spawn(["run"])
    wait_until(lambda: len(children_of(run.popen.pid)) == 3, 20, "a poller and two workers")
    children = children_of(run.popen.pid)
    s.sim.state.add_image(A, 5)  # the first poll may already have seen it: then nothing is sent
    wait_until(lambda: s.redis.exists(f"{s.settings.key_prefix}:acct:{A}:meta"), 20, "the first poll")
    image = s.sim.state.add_image(A, 1)
    s.receiver.wait_for(lambda got: any(r.payload and r.payload["data"]["image_id"] == image for r in got), 20)

    os.kill(run.popen.pid, stop_signal)
    code = run.wait(40)
    assert code == (0 if stop_signal == signal.SIGTERM else -signal.SIGKILL)
    wait_until(lambda: not any(alive(pid) for pid in children), 40, "the children to exit")
