"""Issue #10's cases on the scanner, against the simulator with one clock for both: recent history,
bursts over the page cap, lookups that starve, statuses that say nothing, 404s that are not deletions,
and transitions that really happen twice."""

from __future__ import annotations

import logging
import math
from collections import Counter

import fakeredis
import httpx
import pytest

from notifier.sandbox.sim_state import SimState
from notifier.state.events import Event
from notifier.state.keys import Keys
from notifier.state.tracker import Tracker
from notifier.upstream.client import UpstreamClient
from notifier.upstream.scan import ScanLimits, ScanResult, scan_account
from tests.support.sim_transport import sim_transport

A = "a@x.com"
DAY = 86400.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class World:
    def __init__(self, redis: fakeredis.FakeRedis, limits: ScanLimits) -> None:
        self.clock = Clock()
        self.state = SimState("tok", clock=self.clock)
        self.state.add_account(A)
        self.looked_up: Counter[str] = Counter()
        self.upstream = UpstreamClient("http://sim/v2/pixverse", "tok", timeout_s=1,
                                       transport=sim_transport(self.state, self._count))
        self.events: list[Event] = []
        self.tracker = Tracker(redis, Keys("t"), enqueue=lambda pipe, evs: self.events.extend(evs),
                               max_age_s=limits.max_age_s, known_ttl_s=7 * 86400)
        self.limits = limits
        self.redis = redis

    def _count(self, request: httpx.Request) -> None:
        path = request.url.raw_path.decode()
        if "/images/user" in path:
            self.looked_up[path.rsplit("-image%3A", 1)[-1]] += 1

    def scan(self, advance_s: float = 2.0) -> ScanResult:
        self.clock.now += advance_s
        result = scan_account(self.upstream, self.tracker, A, limits=self.limits, now=self.clock.now)
        self.tracker.finish_cycle(A, self.clock.now)
        return result

    def history(self, count: int, *, age_s: float, status: int = 1) -> list[str]:
        """``count`` finished images created ``age_s`` ago (and a second apart, oldest first)."""
        return [self.state.add_image(A, status, created_at=self.clock.now - age_s + n) for n in range(count)]


@pytest.fixture
def world(fake_redis: fakeredis.FakeRedis) -> World:
    return World(fake_redis, ScanLimits(page_size=50, max_pages=20, max_lookups=100, max_age_s=DAY))


def announced(result: ScanResult) -> list[tuple[str, str]]:
    return [(e.data["image_id"], e.type) for e in result.events]


def test_recent_history_is_not_announced_later(world: World) -> None:
    # Case 1: 120 images finished in the last two hours; the first poll read one page (50) and the next
    # poll announced the other 70 as completed when a new image appeared.
    world.history(120, age_s=7200)
    first = world.scan()
    assert first.events == [] and first.pages == 3
    image = world.state.add_image(A, 5)
    assert announced(world.scan()) == [(image, "image.queued")]
    assert world.scan().events == []


def test_lost_state_rebaselines_silently(world: World) -> None:
    # Case 1, after a re-baseline: every key of the account gone (eviction, a new Redis).
    world.history(120, age_s=7200)
    world.scan()
    world.redis.flushall()
    assert world.scan().events == []
    image = world.state.add_image(A, 1)
    assert announced(world.scan()) == [(image, "image.completed")]


def test_a_first_poll_longer_than_its_page_cap_records_the_rest_silently(fake_redis: fakeredis.FakeRedis) -> None:
    world = World(fake_redis, ScanLimits(page_size=10, max_pages=3, max_lookups=100, max_age_s=DAY))
    world.history(100, age_s=3600)
    first = world.scan()
    assert first.capped and first.events == []
    for _ in range(5):
        assert world.scan().events == []
    image = world.state.add_image(A, 1)
    assert announced(world.scan()) == [(image, "image.completed")]


def test_a_burst_over_the_page_cap_is_announced_over_the_next_polls(
    fake_redis: fakeredis.FakeRedis, caplog: pytest.LogCaptureFixture
) -> None:
    # Case 2: more changes between two polls than max_pages x page_size: the rest was never announced.
    world = World(fake_redis, ScanLimits(page_size=10, max_pages=5, max_lookups=100, max_age_s=DAY))
    world.history(30, age_s=DAY / 2)
    world.scan()
    burst = [world.state.add_image(A, 1) for _ in range(230)]
    seen: Counter[str] = Counter()
    polls = 0
    with caplog.at_level(logging.WARNING, logger="notifier.upstream.scan"):
        while len(seen) < len(burst) and polls < 10:
            seen.update(image for image, _ in announced(world.scan()))
            polls += 1
    assert set(seen) == set(burst) and set(seen.values()) == {1}
    # The first poll reads 5 pages; each later one reads the top page, one page of overlap, then 3 new ones.
    assert polls == 1 + math.ceil((230 - 50) / 30)
    assert any("more to come" in r.getMessage() for r in caplog.records)
    assert world.scan().events == [] and not world.scan().capped


def test_a_resumed_read_does_not_stop_at_new_images_without_a_status(fake_redis: fakeredis.FakeRedis) -> None:
    # Found by the long model run: a resumed read reached its boundary, and all it saw beyond it were new
    # images showing no status; it took them for the end of the burst and dropped the rest of it.
    world = World(fake_redis, ScanLimits(page_size=10, max_pages=3, max_lookups=100, max_age_s=DAY))
    world.history(30, age_s=DAY / 2)
    world.scan()
    burst = [world.state.add_image(A, 1) for _ in range(100)]
    first = world.scan()
    assert first.capped and len(first.events) == 30
    silent = burst[-37:-30]  # just below where that poll stopped
    for image in silent:
        world.state.set_status(image, None)
    world.state.add_image(A, 1)  # the list moves down by one: the boundary is no longer a page's last image
    seen = Counter(image for image, _ in announced(first))
    for _ in range(12):
        seen.update(image for image, _ in announced(world.scan()))
    assert set(burst) - set(silent) <= set(seen) and set(seen.values()) == {1}
    # Deep in the list, where no read goes back: followed by lookups, announced once they show a status.
    for image in silent:
        world.state.set_status(image, 8)
    assert sorted(image for image, _ in announced(world.scan())) == sorted(silent)
    assert world.scan().events == []


def test_a_burst_of_tracked_images_completing_together_is_announced(fake_redis: fakeredis.FakeRedis) -> None:
    world = World(fake_redis, ScanLimits(page_size=10, max_pages=5, max_lookups=20, max_age_s=DAY))
    world.scan()
    active = [world.state.add_image(A, 9) for _ in range(150)]
    started: Counter[str] = Counter()
    for _ in range(6):
        started.update(image for image, _ in announced(world.scan()))
    assert set(started) == set(active) and set(started.values()) == {1}
    for image in active:
        world.state.set_status(image, 1)
    done: Counter[str] = Counter()
    for _ in range(10):
        done.update(image for image, kind in announced(world.scan()) if kind == "image.completed")
    assert set(done) == set(active) and set(done.values()) == {1}


def test_lookups_go_round_robin(fake_redis: fakeredis.FakeRedis) -> None:
    # Case 3: sorted(remaining)[:max_lookups] looked up the same images forever.
    world = World(fake_redis, ScanLimits(page_size=10, max_pages=5, max_lookups=5, max_age_s=DAY))
    world.scan()
    stuck = [world.state.add_image(A, 10, created_at=world.clock.now - 60) for _ in range(20)]
    world.scan()
    for _ in range(10):  # finished in between: page 1 holds no tracked image, so the 20 are looked up
        world.state.add_image(A, 1)
    world.scan()
    world.looked_up.clear()
    for _ in range(4):
        world.scan()
    assert len(world.looked_up) == 20 and set(world.looked_up.values()) == {1}
    world.state.set_status(stuck[-1], 1)
    found = [event for _ in range(4) for event in announced(world.scan())]
    assert found == [(stuck[-1], "image.completed")]


def test_a_null_status_is_no_event(world: World) -> None:
    # Case 4: null made image.unknown, then a second event back, reusing the first one's id.
    world.scan()
    image = world.state.add_image(A, 9)
    world.scan()
    world.state.set_status(image, None)
    assert world.scan().events == []
    world.state.set_status(image, 9)
    assert world.scan().events == []
    world.state.set_status(image, 1)
    result = world.scan()
    assert [(e.type, e.data["previous_status"]) for e in result.events] == [("image.completed", "GENERATING")]


def test_a_new_image_without_a_status_is_announced_once_it_has_one(world: World) -> None:
    world.scan()
    image = world.state.add_image(A, 9)
    world.state.set_status(image, None)
    assert world.scan().events == []
    world.state.set_status(image, 1)
    assert announced(world.scan()) == [(image, "image.completed")]


def tracked_below_the_first_page(world: World) -> str:
    """An image in progress, tracked, then pushed below the first page: later polls look it up."""
    world.scan()
    image = world.state.add_image(A, 9)
    world.scan()
    for _ in range(50):  # a page of finished images: the tracked one is looked up, not paged to
        world.state.add_image(A, 1)
    world.scan()
    return image


def test_a_lookup_answering_an_error_body_is_no_event(world: World) -> None:
    image = tracked_below_the_first_page(world)
    world.state.inject(200, {"error": "Temporary failure", "code": 500}, path_contains="/images/user")
    result = world.scan()
    assert result.lookups == 1 and result.events == []
    world.state.set_status(image, 1)
    assert announced(world.scan()) == [(image, "image.completed")]


def test_only_a_deleted_404_is_a_deletion(world: World) -> None:
    # Case 5: any 404 on a lookup was taken as a deletion.
    image = tracked_below_the_first_page(world)
    world.state.inject(404, {"error": "Configuration not found", "code": 404}, path_contains="/images/user")
    assert world.scan().events == []
    world.state.delete(image)
    assert announced(world.scan()) == [(image, "image.deleted")]


def test_a_transition_that_happens_again_has_a_new_id(world: World) -> None:
    # Case 6: a repeated transition reused the first one's webhook-id, so receivers dropped it.
    world.scan()
    image = world.state.add_image(A, 9)
    events = world.scan().events
    for code in (10, 9, 10, 1):
        world.state.set_status(image, code)
        events += world.scan().events
    transitions = [(e.data["previous_status"], e.data["status"]) for e in events]
    assert transitions == [(None, "GENERATING"), ("GENERATING", "PROCESSING"), ("PROCESSING", "GENERATING"),
                           ("GENERATING", "PROCESSING"), ("PROCESSING", "COMPLETED")]
    assert len({e.id for e in events}) == 5


def test_the_same_transition_seen_again_keeps_its_id(fake_redis: fakeredis.FakeRedis) -> None:
    # A poll whose transaction never ran (a crash before EXEC) sees the change again: same id.
    ids = []
    for _ in range(2):
        fake_redis.flushall()
        world = World(fake_redis, ScanLimits(page_size=50, max_pages=20, max_lookups=100, max_age_s=DAY))
        world.scan()
        world.state.add_image(A, 1)
        ids.append([e.id for e in world.scan().events])
    assert ids[0] == ids[1] and len(ids[0]) == 1


@pytest.mark.parametrize("total_error", [None, -7, 13])
def test_a_missing_or_wrong_total_loses_nothing(fake_redis: fakeredis.FakeRedis, total_error: int | None) -> None:
    world = World(fake_redis, ScanLimits(page_size=10, max_pages=3, max_lookups=100, max_age_s=DAY))
    world.state.total_error = total_error
    world.history(25, age_s=DAY / 2)
    world.scan()
    burst = {world.state.add_image(A, 1) for _ in range(75)}
    seen: Counter[str] = Counter()
    for _ in range(6):
        seen.update(image for image, _ in announced(world.scan()))
    assert set(seen) == burst and set(seen.values()) == {1}
