"""Videos through the scanner (``scan_media``): their own list and state, the 404-while-processing lookup,
stalled and expired events, timing, and one request per medium for an idle account."""

from collections.abc import Callable

import fakeredis
import pytest

from notifier.sandbox.sim_state import SimState
from notifier.state.events import Event
from notifier.state.keys import Keys
from notifier.state.tracker import Tracker
from notifier.upstream.client import UpstreamClient
from notifier.upstream.media import VIDEOS
from notifier.upstream.media_scan import scan_media
from notifier.upstream.scan import ScanLimits, ScanResult
from tests.support.sim_transport import sim_transport

A = "a@x.com"
LIMITS = ScanLimits(page_size=10, max_pages=5, max_lookups=20, max_age_s=3600)
BOTH = ("images", "videos")


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class World:
    def __init__(self, redis: fakeredis.FakeRedis, stall_after_s: float | None = 900.0) -> None:
        self.clock = Clock()
        self.state = SimState("tok", clock=self.clock)
        self.state.add_account(A)
        self.upstream = UpstreamClient("http://sim/v2/pixverse", "tok", timeout_s=1,
                                       transport=sim_transport(self.state))
        self.events: list[Event] = []
        self.tracker = Tracker(redis, Keys("t"), enqueue=lambda pipe, evs: self.events.extend(evs),
                               max_age_s=LIMITS.max_age_s, known_ttl_s=7 * 86400, stall_after_s=stall_after_s,
                               media=BOTH)

    def scan(self, advance_s: float = 5.0, limits: ScanLimits = LIMITS) -> ScanResult:
        self.clock.now += advance_s
        result = scan_media(self.upstream, self.tracker, A, media=BOTH, limits=limits, now=self.clock.now)
        self.tracker.finish_cycle(A, self.clock.now)
        return result


@pytest.fixture
def world(fake_redis: fakeredis.FakeRedis) -> World:
    return World(fake_redis)


def kinds(result: ScanResult, select: Callable[[Event], bool] = lambda e: True) -> list[str]:
    return [f"{e.type}:{e.data['previous_status']}" for e in result.events if select(e)]


def test_idle_account_costs_one_request_per_medium(world: World) -> None:
    world.state.add_history(A, 300)
    world.state.add_history(A, 300, medium="videos")
    first = world.scan()
    assert first.events == []
    for _ in range(3):
        before = world.state.count()
        again = world.scan()
        assert (again.requests, again.events) == (2, [])
        assert world.state.count() - before == 2
        assert world.state.count("videos", A) >= 1


def test_a_videos_life_with_404_while_processing(world: World) -> None:
    world.state.add_history(A, 30, medium="videos")
    world.scan()
    video = world.state.add_video(A, 5)
    first = world.scan()
    # QUEUED comes marked final by the upstream: not trusted, the video stays tracked.
    assert kinds(first) == ["video.queued:None"]
    assert first.events[0].data["final"] is False and first.events[0].data["video_id"] == video
    world.state.set_status(video, 10)
    assert kinds(world.scan()) == ["video.generating:QUEUED"]
    # Pushed off the first page by newer videos, and one page a poll: looked up, 404 (processing), and not
    # a deletion.
    for _ in range(12):
        world.state.add_video(A, 1)
    result = world.scan(limits=ScanLimits(page_size=10, max_pages=1, max_lookups=20, max_age_s=3600))
    assert "video.deleted:GENERATING" not in kinds(result)
    assert world.state.count("video") >= 1  # it was looked up and answered 404
    world.state.set_status(video, 1)
    done = world.scan()
    completed = [e for e in done.events if e.data["video_id"] == video]
    assert [e.type for e in completed] == ["video.completed"]
    data = completed[0].data
    assert data["video_url"].endswith(".mp4") and data["thumbnail_url"].endswith(".jpg")
    assert data["timing"]["total_s"] is not None and data["timing"]["generating_s"] is not None


def test_a_deleted_video_is_told_from_one_still_processing(world: World) -> None:
    world.state.add_history(A, 30, medium="videos")
    world.scan()
    kept, gone = world.state.add_video(A, 10), world.state.add_video(A, 10)
    world.scan(60)
    for _ in range(25):  # a page and more of newer videos, a second apart: both fall off the first page
        world.clock.now += 1
        world.state.add_video(A, 1)
    world.state.delete(gone)
    result = world.scan()
    by_id = {e.data["video_id"]: e.type for e in result.events}
    assert by_id.get(gone) == "video.deleted"
    assert kept not in by_id  # still processing (404 too), shown on the page where it is
    assert world.tracker.for_medium(VIDEOS).tracked(A).keys() == {kept}


def test_images_and_videos_keep_apart(world: World) -> None:
    world.scan()
    image = world.state.add_image(A, 5)
    video = world.state.add_video(A, 5)
    result = world.scan()
    assert sorted(e.type for e in result.events) == ["image.queued", "video.queued"]
    assert world.tracker.tracked(A).keys() == {image}
    assert world.tracker.for_medium(VIDEOS).tracked(A).keys() == {video}


def test_stalled_once_then_completed_then_expired_for_another(world: World) -> None:
    world.scan()
    slow = world.state.add_video(A, 5)
    stuck = world.state.add_image(A, 9)
    world.scan()
    world.state.set_status(slow, 10)
    assert kinds(world.scan()) == ["video.generating:QUEUED"]
    stalled = world.scan(900)
    assert sorted(e.type for e in stalled.events) == ["image.stalled", "video.stalled"]
    assert all(e.data["in_progress_s"] > 900 for e in stalled.events)
    assert world.scan(60).events == []  # not repeated
    world.state.set_status(slow, 1)
    done = world.scan()
    assert kinds(done) == ["video.completed:GENERATING"]
    expired = world.scan(3600)
    assert [(e.type, e.data["image_id"], e.data["status"]) for e in expired.events] == [
        ("image.expired", stuck, "GENERATING")]
    assert world.scan().events == []  # no longer tracked
