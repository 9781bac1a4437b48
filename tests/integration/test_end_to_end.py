"""Real processes, a real Redis, the simulated upstream and a verifying receiver, all on loopback."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable

import pytest
from rq import Worker

from notifier.delivery.enqueue import make_queue
from notifier.state.keys import Keys
from tests.integration.conftest import A, Stack
from tests.support.processes import settings_env, wait_until

pytestmark = pytest.mark.integration


def poll_once(stack: Stack, *extra: str) -> str:
    return poll_once_output(stack, *extra).stdout


def poll_once_output(stack: Stack, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "notifier.cli", "poll-once", *extra],
        env=settings_env(stack.settings), capture_output=True, text=True, timeout=60, check=True,
    )


def baselined(stack: Stack) -> bool:
    return bool(stack.redis.hexists(Keys(stack.settings.key_prefix).meta(A), "baselined_at"))


def test_status_change_reaches_the_receiver_signed_within_one_interval_plus_one_second(
    stack: Callable[..., Stack],
) -> None:
    s = stack(poll_interval_s=1.0)
    s.sim.state.add_history(A, 120)
    active = s.sim.state.add_image(A, 9)
    poller = s.spawn(["poller"])
    s.spawn(["worker"])
    wait_until(lambda: baselined(s), 20, "the first poll")

    warm = s.sim.state.add_image(A, 5)  # proves the worker is up before the timed change
    s.receiver.wait_for(lambda got: any(r.payload and r.payload["data"]["image_id"] == warm for r in got), 20)

    changed_at = time.time()
    s.sim.state.set_status(active, 1)
    got = s.receiver.wait_for(
        lambda got: any(r.payload and r.payload["data"]["image_id"] == active for r in got), 10)
    arrival = next(r for r in got if r.payload and r.payload["data"]["image_id"] == active)
    assert arrival.verified, arrival.error
    print(f"status change to signed webhook: {arrival.at - changed_at:.3f} s (interval {s.settings.poll_interval_s} s)")
    assert arrival.at - changed_at <= s.settings.poll_interval_s + 1.0
    assert arrival.payload is not None
    assert arrival.payload["type"] == "image.completed"
    assert arrival.payload["data"]["previous_status"] == "GENERATING"
    assert arrival.headers["webhook-id"].startswith("evt_")
    # The 120 images already there at the first poll were recorded, not announced.
    assert [r.payload["data"]["image_id"] for r in got if r.payload] == [warm, active]
    assert "t0ken" not in poller.output() and "s3cr3t" not in poller.output()


def test_first_poll_of_an_account_with_history_sends_nothing_and_costs_one_request(
    stack: Callable[..., Stack],
) -> None:
    s = stack()
    s.sim.state.add_history(A, 5000)
    for mode in ("baseline", "normal", "normal"):
        # One request per medium (images, videos), whatever the history.
        assert poll_once(s).strip() == f"{A}: 2 request(s), 50 image(s) seen, 0 event(s) ({mode})"
    assert s.sim.state.count("images", A) == 3
    assert s.redis.llen(f"rq:queue:{s.settings.queue_name}") == 0


def test_backfill_announces_images_already_there(stack: Callable[..., Stack]) -> None:
    s = stack(max_pages=3)
    s.sim.state.add_history(A, 70)
    done = poll_once_output(s, "--backfill")
    assert done.stdout.strip() == f"{A}: 3 request(s), 70 image(s) seen, 70 event(s) (backfill)"
    progress = [line for line in done.stderr.splitlines() if line.startswith(f"{A}: page")]
    assert progress == [f"{A}: page 1, 50 image(s) so far, 50 event(s)",
                        f"{A}: page 2, 70 image(s) so far, 70 event(s)",
                        f"{A}: page 3, 70 image(s) so far, 70 event(s)"]  # the (empty) list of videos
    worker = s.spawn(["worker", "--burst"])
    assert worker.wait(60) == 0
    # At least once: count distinct events (a slow answer may be retried after the receiver took it).
    got = s.receiver.wait_for(lambda got: len({r.webhook_id for r in got}) == 70, 10)
    assert all(r.verified for r in got)


def test_two_pollers_at_once_send_each_transition_once(stack: Callable[..., Stack]) -> None:
    s = stack(poll_interval_s=0.2)
    s.spawn(["worker"])
    pollers = [s.spawn(["poller"]), s.spawn(["poller"])]
    wait_until(lambda: baselined(s), 20, "the first poll")
    images = [s.sim.state.add_image(A, 5, steps=[(0.5, 9), (1.0, 10), (1.5, 1)]) for _ in range(12)]
    s.receiver.wait_for(
        lambda got: sum(1 for r in got if r.payload and r.payload["type"] == "image.completed") == len(images), 60)
    # A duplicate would come from polls after the last completion: let both pollers poll twice more,
    # then let the worker drain the queue.
    polled = s.sim.state.count("images", A)
    wait_until(lambda: s.sim.state.count("images", A) >= polled + 4, 20, "more polls")
    wait_until(lambda: s.redis.llen(f"rq:queue:{s.settings.queue_name}") == 0
               and s.redis.zcard(f"rq:wip:{s.settings.queue_name}") == 0, 20, "the queue to drain")
    ids = [r.webhook_id for r in s.receiver.received]
    assert len(ids) == len(set(ids)), "duplicate event ids"
    order = ["QUEUED", "GENERATING", "PROCESSING", "COMPLETED"]
    per_image: dict[str, list[str]] = defaultdict(list)
    for r in s.receiver.received:
        assert r.verified and r.payload is not None
        per_image[r.payload["data"]["image_id"]].append(r.payload["data"]["status"])
    assert set(per_image) == set(images)
    for statuses in per_image.values():
        assert statuses[-1] == "COMPLETED"
        assert len(statuses) == len(set(statuses))
        assert all(status in order for status in statuses)
    assert all(p.popen.poll() is None for p in pollers)


def test_sigterm_stops_poller_and_worker_cleanly(stack: Callable[..., Stack]) -> None:
    import signal

    s = stack()
    poller, worker = s.spawn(["poller"]), s.spawn(["worker"])
    wait_until(lambda: baselined(s), 20, "the first poll")
    # Before RQ installs its handlers a SIGTERM simply ends the worker: wait until it listens.
    queue = make_queue(s.redis, s.settings)
    wait_until(lambda: len(Worker.all(queue=queue)) == 1, 20, "the worker to listen")
    for proc in (poller, worker):
        proc.popen.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    assert poller.wait(15) == 0
    print(f"poller stopped {time.monotonic() - signalled:.2f} s after SIGTERM")
    # An idle worker that was just starting its scheduler child once waited for that child forever.
    assert worker.wait(15) == 0
    print(f"worker stopped {time.monotonic() - signalled:.2f} s after SIGTERM")
    assert "poller stopped" in poller.output()
