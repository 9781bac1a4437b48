"""Videos, stalled and expired work and timing through real processes: the simulated upstream (whose video
lookups answer 404 while a video is processing), the poller and a worker, a real Redis, a verifying receiver."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from notifier.state.keys import Keys
from notifier.state.transitions import Tracked
from notifier.upstream.statuses import Status
from tests.integration.conftest import A, Stack
from tests.support.processes import wait_until

pytestmark = pytest.mark.integration


def events_of(got: list[Any], item_id: str) -> list[dict[str, Any]]:
    return [r.payload for r in got if r.payload and item_id in (r.payload["data"].get("image_id"),
                                                                 r.payload["data"].get("video_id"))]


def test_videos_404_while_processing_stalled_expired_and_timing(stack: Callable[..., Stack]) -> None:
    # One item a page: tracked videos off the first page are looked up, and answer 404 while processing.
    s = stack(page_size=2, max_pages=3, stall_after_s=3.0)
    state = s.sim.state
    state.add_history(A, 5)
    state.add_history(A, 5, medium="videos")
    lost = state.add_video(A, 10)  # in progress at the first poll: tracked silently
    poller = s.spawn(["poller"])
    s.spawn(["worker"])
    keys = Keys(s.settings.key_prefix)
    try:
        wait_until(lambda: all(s.redis.hexists(keys.for_medium(m).meta(A), "baselined_at")
                               for m in ("images", "videos")), 20, "the first poll of both lists")
    except AssertionError:
        print(poller.output()[-3000:])
        raise

    # A notifier that has tracked this one for more than NOTIFIER_IMAGE_MAX_AGE_S (its state from a day ago).
    old = Tracked(Status("GENERATING", 10, False), time.time() - s.settings.image_max_age_s - 60, seq=1)
    s.redis.hset(keys.for_medium("videos").tracked(A), lost, old.dump())

    doomed = state.add_video(A, 10, created_at=time.time() - 30)  # older than `lost`, newer than the history
    video = state.add_video(A, 5, steps=[(1.0, 10), (5.0, 1)])
    stuck = state.add_image(A, 9)
    wait_until(lambda: s.redis.hexists(keys.for_medium("videos").tracked(A), video), 10, "the video tracked")
    for _ in range(6):  # newer ones on top: the video is off the pages a poll reads, and looked up
        state.add_video(A, 1)
    got = s.receiver.wait_for(lambda got: len(events_of(got, video)) >= 2 and events_of(got, lost)
                              and events_of(got, stuck), 30)
    state.delete(doomed)
    got = s.receiver.wait_for(lambda got: any(e["type"] == "video.completed" for e in events_of(got, video))
                              and any(e["type"] == "video.deleted" for e in events_of(got, doomed)), 30)

    assert state.count("video") > 0  # video lookups were made, and answered 404 while processing
    types = [e["type"] for e in events_of(got, video)]
    assert types[:2] == ["video.queued", "video.generating"] and types[-1] == "video.completed"
    assert types.count("video.stalled") <= 1 and set(types) <= {"video.queued", "video.generating",
                                                               "video.stalled", "video.completed"}
    completed = events_of(got, video)[-1]["data"]
    assert completed["video_url"].endswith(".mp4") and completed["thumbnail_url"].endswith(".jpg")
    timing = completed["timing"]
    assert 3.0 <= timing["total_s"] <= 8.0, timing  # created → updated_at of the final status (5 s later)
    assert timing["queued_s"] is not None and timing["generating_s"] is not None
    assert abs(timing["queued_s"] + timing["generating_s"] - timing["total_s"]) < 0.01
    assert [e["type"] for e in events_of(got, doomed)][-1] == "video.deleted"
    assert [e["type"] for e in events_of(got, lost)] == ["video.expired"]
    # Stalled once, however many polls followed.
    time.sleep(0)  # (no wait: the receiver already holds what the polls since have sent)
    stalled = [e for e in events_of(s.receiver.received, stuck) if e["type"] == "image.stalled"]
    assert len(stalled) == 1 and stalled[0]["data"]["in_progress_s"] >= 3.0
    assert all(r.verified for r in s.receiver.received)
