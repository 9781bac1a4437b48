"""At the default log level a burst costs one line per event and one per delivery, whatever its size.

``notifier run`` (a poller and two workers, RQ's scheduler included) against the simulator and a
receiver; each burst's new log lines are counted, for two burst sizes: the lines per event stay the
same, so a 2,000-event burst logs about 4,000 lines, every one of them about an event or a delivery.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest

from notifier.state.keys import Keys
from tests.integration.conftest import A, Stack
from tests.support.processes import Proc, wait_until

pytestmark = pytest.mark.integration

SIZES = (100, 400)
DELIVERED = re.compile(r" notifier\.delivery\.\w+: delivered image\.completed ")
LINES_PER_EVENT = 2  # the poller's "image.completed …" and the worker's "delivered …"
SLACK_LINES = 6  # per burst, whatever its size (a retry, a scheduler lock warning)


def lines(proc: Proc) -> list[str]:
    return proc.output().splitlines()


@pytest.mark.parametrize("batch_size", [1, 100], ids=["one-job-per-event", "batch-jobs"])
def test_a_burst_logs_a_line_per_event_and_per_delivery(stack: Callable[..., Stack], batch_size: int) -> None:
    s = stack(worker_count=2, delivery_batch_size=batch_size, page_size=100)
    run = s.spawn(["run"])
    wait_until(lambda: s.redis.hexists(Keys(s.settings.key_prefix).meta(A), "baselined_at"), 30, "the first poll")
    delivered = 0
    per_event = []
    for size in SIZES:
        time.sleep(1.5)  # start-up and idle lines land before the burst's window
        before = len(lines(run))
        for _ in range(size):
            s.sim.state.add_image(A, 1)
        delivered += size
        s.receiver.wait_for(lambda got, n=delivered: len(got) >= n, 60)
        wait_until(lambda n=delivered: sum(" delivered " in line for line in lines(run)) >= n, 20,
                   "every delivery's log line")
        time.sleep(1.5)  # whatever a job logs after its delivery
        burst = lines(run)[before:]
        events = [line for line in burst if " notifier.polling.poller: image.completed " in line]
        deliveries = [line for line in burst if DELIVERED.search(line)]
        other = [line for line in burst if line not in events and line not in deliveries]
        print(f"batch size {batch_size}, burst of {size}: {len(burst)} lines, {len(burst) / size:.2f} per event "
              f"({len(events)} event, {len(deliveries)} delivery, {len(other)} other)")
        assert (len(events), len(deliveries)) == (size, size), other[:5]
        assert len(burst) <= LINES_PER_EVENT * size + SLACK_LINES, other[:20]
        per_event.append(len(burst) / size)
    assert max(per_event) <= LINES_PER_EVENT + SLACK_LINES / min(SIZES)
