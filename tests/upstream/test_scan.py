from collections.abc import Callable

import fakeredis
import httpx
import pytest

from notifier.sandbox.sim_state import SimState
from notifier.state.events import Event
from notifier.state.keys import NO_EMAIL, Keys
from notifier.state.tracker import Tracker
from notifier.upstream.client import UpstreamClient
from notifier.upstream.scan import ScanLimits, ScanResult, scan_account
from tests.support.sim_transport import sim_transport

A = "a@x.com"
LIMITS = ScanLimits(page_size=10, max_pages=50, max_lookups=20, max_age_s=86400)


class World:
    def __init__(self, redis: fakeredis.FakeRedis, before: Callable[[httpx.Request], None] | None = None) -> None:
        self.state = SimState("tok")
        self.state.add_account(A)
        self.upstream = UpstreamClient("http://sim/v2/pixverse", "tok", timeout_s=1,
                                       transport=sim_transport(self.state, before))
        self.events: list[Event] = []
        self.tracker = Tracker(redis, Keys("t"), enqueue=lambda pipe, evs: self.events.extend(evs),
                               max_age_s=86400, known_ttl_s=7 * 86400)
        self.now = self.state.clock()

    def scan(self, account: str = A, *, backfill: bool = False, limits: ScanLimits = LIMITS) -> ScanResult:
        before = self.state.count()
        self.now += 1
        result = scan_account(self.upstream, self.tracker, account, limits=limits, now=self.now, backfill=backfill)
        self.tracker.finish_cycle(account, self.now)
        assert self.state.count() - before == result.requests
        return result


@pytest.fixture
def world(fake_redis: fakeredis.FakeRedis) -> World:
    return World(fake_redis)


def types(result: ScanResult) -> list[tuple[str, str]]:
    return sorted((e.data["image_id"].rsplit(":", 1)[1], e.type) for e in result.events)


def test_idle_account_with_long_history_costs_one_request(world: World) -> None:
    world.state.add_history(A, 5000)
    first = world.scan()
    assert (first.requests, first.events) == (1, [])
    for _ in range(3):
        again = world.scan()
        assert (again.requests, again.events) == (1, [])


def test_first_poll_records_active_images_silently_then_announces_changes(world: World) -> None:
    world.state.add_history(A, 30)
    active = [world.state.add_image(A, 5) for _ in range(5)]
    first = world.scan()
    assert first.events == [] and first.requests == 2  # page 1 had active images: page 2 is checked
    world.state.set_status(active[0], 9)
    world.state.set_status(active[1], 1)
    second = world.scan()
    assert second.requests == 1
    assert [(e.data["image_id"], e.type, e.data["previous_status"]) for e in second.events] == [
        (active[1], "image.completed", "QUEUED"), (active[0], "image.generating", "QUEUED")]
    assert world.scan().events == []


def test_baseline_pages_on_while_active_images_keep_coming(world: World) -> None:
    world.state.add_history(A, 40)
    for _ in range(15):
        world.state.add_image(A, 9)
    first = world.scan()
    assert first.requests == 3  # pages 1 and 2 had active images; page 3 was pure history
    assert len(world.tracker.tracked(A)) == 15


def test_new_image_first_seen_completed_is_announced(world: World) -> None:
    world.state.add_history(A, 3)
    world.scan()
    image = world.state.add_image(A, 1)
    result = world.scan()
    assert [(e.data["image_id"], e.type, e.data["previous_status"]) for e in result.events] == [
        (image, "image.completed", None)]
    assert result.events[0].data["image_url"].endswith(".webp")


def test_a_burst_larger_than_a_page_is_announced_once_each(world: World) -> None:
    world.state.add_history(A, 25)
    world.scan()
    burst = {world.state.add_image(A, 5) for _ in range(25)}
    result = world.scan()
    assert {e.data["image_id"] for e in result.events} == burst
    assert len(result.events) == 25
    # 10 new, 10 new, 5 new + 5 known, then a page of history never paged before: old, so not news.
    assert result.requests == 4


def test_shifting_pages_are_deduplicated(fake_redis: fakeredis.FakeRedis) -> None:
    added: list[str] = []

    def before(request: httpx.Request) -> None:
        # A new image lands between our page reads: page 2 repeats page 1's last item.
        if "offset=10" in str(request.url) and not added:
            added.append(world.state.add_image(A, 5))

    world = World(fake_redis, before)
    world.state.add_history(A, 30)
    world.scan()
    burst = [world.state.add_image(A, 5) for _ in range(12)]
    result = world.scan()
    announced = [e.data["image_id"] for e in result.events]
    assert sorted(announced) == sorted(burst)  # each once; the late one comes next cycle
    assert [e.data["image_id"] for e in world.scan().events] == added


def test_short_pages_lose_nothing(world: World) -> None:
    world.state.short_pages = True
    world.state.add_history(A, 30)
    world.scan()
    burst = {world.state.add_image(A, 9) for _ in range(23)}
    assert {e.data["image_id"] for e in world.scan().events} == burst


def test_tracked_image_gone_from_the_list_is_deleted(world: World) -> None:
    world.state.add_history(A, 3)
    image = world.state.add_image(A, 9)
    world.scan()
    world.state.delete(image)
    result = world.scan()
    assert [(e.type, e.data["previous_status"]) for e in result.events] == [("image.deleted", "GENERATING")]
    assert result.lookups == 1
    assert world.tracker.tracked(A) == {}
    assert world.scan().requests == 1


def test_tracked_image_pushed_deep_is_looked_up(world: World) -> None:
    stuck = world.state.add_image(A, 10)
    world.state.add_history(A, 3)
    world.scan()
    for _ in range(12):  # finish in between: pages 1-2 are all known history
        world.state.add_image(A, 1)
    world.scan()
    world.state.set_status(stuck, 1)
    result = world.scan()
    assert [(e.data["image_id"], e.type) for e in result.events] == [(stuck, "image.completed")]
    assert result.lookups == 1 and result.requests == 2


def test_backfill_announces_what_is_there(world: World) -> None:
    world.state.add_history(A, 12)
    world.state.add_image(A, 9)
    result = world.scan(backfill=True)
    assert len(result.events) == 13
    assert result.requests == 2
    assert world.scan().events == []


def test_polling_without_email(world: World) -> None:
    world.state.add_history(A, 2)
    world.scan(NO_EMAIL)
    image = world.state.add_image(A, 7)
    events = world.scan(NO_EMAIL).events
    assert [(e.type, e.data["email"]) for e in events] == [("image.moderated", A)]
    assert image in events[0].data["image_id"]


def test_unknown_status_is_an_event_and_stays_tracked(world: World) -> None:
    world.scan()
    image = world.state.add_image(A, 6)
    assert [(e.type, e.data["status_code"]) for e in world.scan().events] == [("image.unknown", 6)]
    assert image in world.tracker.tracked(A)
    world.state.set_status(image, 1)
    assert [e.type for e in world.scan().events] == ["image.completed"]


def test_upstream_estimates_are_read_when_present(world: World) -> None:
    world.scan()
    world.state.add_image(A, 9, steps=[(30.0, 1)])
    world.state.add_image(A, 5)
    result = world.scan()
    assert result.active == 2
    estimated, unknown = sorted(result.remaining_s, key=lambda r: r is None)
    assert unknown is None
    assert estimated is not None and 25 < estimated <= 31


@pytest.mark.parametrize("queue_data", [None, "soon", {"estimated_gen_time": "5"}, {"estimated_gen_time": 5},
                                        {"estimated_gen_time": 5, "processing_start_time": "yesterday"}])
def test_garbage_estimates_are_unknown(queue_data: object) -> None:
    from notifier.upstream.scan import remaining_s

    assert remaining_s({"queue_data": queue_data}, 0.0) is None
