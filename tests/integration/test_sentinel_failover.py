"""Redis Sentinel: the master is killed while deliveries flow; `notifier run` carries on with the promoted replica.

A real master, one replica and three sentinels on loopback (tests/support/sentinel_cluster.py). Before the
kill the replica is cut off from the master for a moment, so the master holds writes the replica never got:
that is what asynchronous replication loses in a failover, and this test measures what it costs in events
(compared with every status the simulator went through). After the failover one delivery is refused once, so
its retry shows that RQ's scheduler (in a worker's child process) followed the master too.
"""

from __future__ import annotations

import contextlib
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from rq.registry import FailedJobRegistry

from notifier.delivery.enqueue import make_queue
from notifier.runtime.settings import Settings
from notifier.sandbox.simulator import Simulator
from notifier.state.keys import Keys
from notifier.upstream.statuses import KNOWN_STATUSES
from tests.conftest import SECRET
from tests.integration.conftest import A
from tests.support.leaks import find_leaks, redis_texts
from tests.support.processes import Proc, wait_until
from tests.support.receiver import Receiver
from tests.support.redis_server import find_redis_server, free_port
from tests.support.sentinel_cluster import DATA_PASSWORD, SENTINEL_PASSWORD, SentinelCluster

pytestmark = pytest.mark.integration

STATUSES = (5, 9, 1)
"""Every image: QUEUED, GENERATING five ticks (1 s) later, COMPLETED five ticks after that: slower than the polls."""
TICKS_PER_STATUS = 5


@pytest.fixture
def cluster() -> Iterator[SentinelCluster]:
    why = ""
    for _ in range(2):  # a second try: another process may have taken a free port between pick and bind
        try:
            started = SentinelCluster()
            break
        except RuntimeError as exc:
            why = str(exc)
    else:
        pytest.skip(f"{find_redis_server()} cannot run a master, a replica and three sentinels: {why}")
    yield started
    started.stop()


class Feeder(threading.Thread):
    """A steady flow of changes: every tick (0.2 s) a new image, and older ones move on a status.

    While ``frozen`` the upstream changes nothing: what changes while no poller can reach Redis and is
    superseded before the next poll is never seen (true of any Redis outage, not of the failover alone).
    """

    def __init__(self, sim: Simulator) -> None:
        super().__init__(daemon=True)
        self.sim = sim
        self.added: list[tuple[float, str]] = []
        self.ticks: dict[str, int] = {}
        self.halt, self.frozen = threading.Event(), threading.Event()

    def add(self) -> str:
        image = self.sim.state.add_image(A, STATUSES[0])
        self.added.append((time.monotonic(), image))
        self.ticks[image] = 0
        return image

    def run(self) -> None:
        while not self.halt.wait(0.2):
            if not self.frozen.is_set():
                self.tick()
                self.add()

    def tick(self) -> None:
        for image, ticks in list(self.ticks.items()):
            self.ticks[image] = ticks = ticks + 1
            if ticks % TICKS_PER_STATUS == 0 and ticks // TICKS_PER_STATUS < len(STATUSES):
                self.sim.state.set_status(image, STATUSES[ticks // TICKS_PER_STATUS])

    def finish(self) -> None:
        """No new image; the ones there go through all their statuses."""
        self.halt.set()
        self.join()
        for _ in range(TICKS_PER_STATUS * (len(STATUSES) - 1)):
            time.sleep(0.2)  # the pace of the flow: each status held a second, longer than a poll
            self.tick()


def _events(rec: Receiver) -> list[tuple[str, str, str]]:
    """(webhook-id, image id, event type) of every verified request the receiver accepted."""
    with rec.lock:
        return [(r.webhook_id, r.payload["data"]["image_id"], r.payload["type"]) for r in rec.received
                if r.verified and r.payload is not None and r.status < 300]


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def test_run_follows_a_failover_and_counts_what_replication_lost(
    cluster: SentinelCluster,
    simulator: Callable[..., Simulator],
    receiver: Callable[..., Receiver],
    make_settings: Callable[..., Settings],
    spawn: Callable[..., Proc],
) -> None:
    sim, rec, port = simulator(), receiver(), free_port()
    sim.state.add_account(A)
    settings = make_settings(
        useapi_base_url=sim.url, redis_url=cluster.url, redis_password=DATA_PASSWORD,
        redis_sentinel_password=SENTINEL_PASSWORD, accounts=[A], webhook_url=rec.url, webhook_secret=SECRET,
        poll_interval_s=0.3, poll_interval_active_s=0.25, worker_count=2, http_port=port,
        delivery_backoff_base_s=1.0, delivery_timeout_s=2.0, delivery_job_timeout_s=4,
        worker_maintenance_interval_s=1, worker_abandon_grace_s=1,
    )
    wait_until(cluster.settled, 20, "the sentinels to know the replica and each other")
    run = spawn(["run"], settings)
    master, replica = cluster.master.client(), cluster.replica.client()
    wait_until(lambda: master.exists(Keys(settings.key_prefix).meta(A)), 30, "the first poll")
    wait_until(lambda: _ready(port), 30, "/readyz before the failover")
    feeder = Feeder(sim)
    feeder.start()
    rec.wait_for(lambda got: len(got) >= 10, 30)

    # Cut the replica off (it cannot authenticate again): what the master writes from now on is on it alone.
    replica.config_set("masterauth", "not-the-password")
    master.client_kill_filter(_type="replica")
    cut_offset = int(master.info("replication")["master_repl_offset"])
    at_cut = len(rec.received)
    rec.wait_for(lambda got: len(got) >= at_cut + 5, 20)  # deliveries the replica will not know about
    unreplicated_events = len(rec.received) - at_cut
    unreplicated_bytes = int(master.info("replication")["master_repl_offset"]) - cut_offset
    feeder.frozen.set()
    killed_at = time.monotonic()
    cluster.master.kill()
    replica.config_set("masterauth", DATA_PASSWORD)
    after_kill = feeder.add()
    promoted_s = cluster.wait_for_failover(30)
    rec.wait_for(lambda got: any(r.payload and r.payload["data"]["image_id"] == after_kill for r in got), 30)
    carried_on_s = time.monotonic() - killed_at
    # The next delivery fails once: its retry comes back through RQ's scheduler, which must follow too.
    rec.answer(503)
    feeder.frozen.clear()
    wait_until(lambda: _ready(port), 30, "/readyz after the failover (poller, workers and ops on the new master)")
    resumed = len(rec.received)
    rec.wait_for(lambda got: len(got) >= resumed + 10, 20)  # the flow goes on
    feeder.finish()

    # Every status of every image, each held for a second, against what arrived.
    expected = {(image, f"image.{KNOWN_STATUSES[code][0].lower()}") for _, image in feeder.added
                for code in STATUSES}
    with contextlib.suppress(AssertionError):
        wait_until(lambda: expected <= {(image, kind) for _, image, kind in _events(rec)}, 20,
                   "every status of every image to be delivered")
    events = _events(rec)
    added_at = {image: at - killed_at for at, image in feeder.added}
    lost = sorted((round(added_at[image], 1), image[-8:], kind)
                  for image, kind in expected - {(image, kind) for _, image, kind in events})
    assert not lost, f"changes never delivered (s after the kill the image was added, image, event): {lost}"
    per_id = Counter(webhook_id for webhook_id, _, _ in events)
    per_change = Counter((image, kind) for _, image, kind in events)
    repeated_ids = sum(count - 1 for count in per_id.values())
    repeated_changes = sum(count - 1 for count in per_change.values())
    invented = {(image, kind) for _, image, kind in events} - expected
    refused = next(r for r in rec.received if r.status == 503)
    retried = [r.at - refused.at for r in rec.received if r.webhook_id == refused.webhook_id and r.status < 300
               and r.at > refused.at]
    assert retried, "the delivery refused after the failover was never retried: RQ's scheduler did not follow"
    print(f"\nsentinel failover: replica cut off for {unreplicated_bytes} bytes of writes while "
          f"{unreplicated_events} requests were delivered; sentinels promoted the replica {promoted_s:.1f} s after "
          f"the kill; first event of a post-kill image {carried_on_s:.1f} s after the kill; {len(expected)} changes, "
          f"{len(events)} requests, {len(lost)} lost, {repeated_ids} repeated with the same webhook-id, "
          f"{repeated_changes - repeated_ids} with a new id; a delivery refused after the failover retried "
          f"{retried[0]:.1f} s later")
    assert unreplicated_bytes > 0, "the master wrote nothing the replica missed: the test measured nothing"
    assert carried_on_s < 30
    assert not invented, f"events for changes that never happened: {sorted(invented)[:5]}"
    assert run.popen.poll() is None, run.output()
    # The start-up checks ran through the sentinels (the nodes keep nothing on disk: that is said), and three
    # sentinels with a healthy replica raise no warning about the Sentinel set-up.
    assert "keeps nothing on disk" in run.output()
    # The epoch key was replicated long before: the promoted replica is not mistaken for a Redis that lost it all.
    assert "REDIS LOST NOTIFIER'S STATE" not in run.output()
    assert "sentinel(s) watch" not in run.output() and "no healthy replica" not in run.output()
    assert cluster.master_port() == cluster.replica.port
    # Every delivery succeeded in the end: none is left failed because RQ lost its record of a run.
    failed = FailedJobRegistry(queue=make_queue(cluster.replica.client(decode=False), settings))
    assert failed.get_job_ids(cleanup=False) == [], run.output()
    # The secrets are not in what the notifier wrote to the promoted master either (the fixture scans its logs).
    assert not find_leaks(redis_texts(cluster.replica.client(decode=False)), {DATA_PASSWORD, SENTINEL_PASSWORD})
