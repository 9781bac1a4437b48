from collections.abc import Sequence
from typing import Any

import fakeredis
import pytest

from notifier.delivery.enqueue import make_enqueuer, make_queue
from notifier.delivery.sinks import build_sinks
from notifier.runtime.settings import Settings
from notifier.state.events import Event
from notifier.state.keys import Keys
from notifier.state.tracker import Observation, Tracker
from notifier.state.transitions import Mode
from notifier.upstream.statuses import resolve
from tests.conftest import SECRET

NOW = 1_800_000_000.0


def obs(image_id: str, code: int) -> Observation:
    image = {"image_id": image_id, "image_status": code}
    return Observation(image, resolve(image))


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, pipe: Any, events: Sequence[Event]) -> None:
        self.events.extend(events)


def make(client: fakeredis.FakeRedis, enqueue: Any = None) -> Tracker:
    return Tracker(client, Keys("t"), enqueue=enqueue or Recorder(), max_age_s=3600, known_ttl_s=86400)


def test_baseline_then_changes(fake_redis: fakeredis.FakeRedis) -> None:
    tracker = make(fake_redis)
    first = tracker.apply("a@x.com", [obs("q", 5), obs("done", 1)], mode=Mode.BASELINE, now=NOW)
    assert first.events == []
    assert sorted(first.new_ids) == ["done", "q"]
    assert set(tracker.tracked("a@x.com")) == {"q"}

    again = tracker.apply("a@x.com", [obs("q", 5), obs("done", 1)], mode=Mode.NORMAL, now=NOW + 1)
    assert again.events == [] and again.new_ids == []

    moved = tracker.apply("a@x.com", [obs("q", 1), obs("new", 9)], mode=Mode.NORMAL, now=NOW + 2)
    assert [(e.type, e.data["previous_status"]) for e in moved.events] == [
        ("image.completed", "QUEUED"), ("image.generating", None)]
    assert set(tracker.tracked("a@x.com")) == {"new"}


def test_duplicates_within_a_page_count_once(fake_redis: fakeredis.FakeRedis) -> None:
    tracker = make(fake_redis)
    result = tracker.apply("a@x.com", [obs("n", 1), obs("n", 1)], mode=Mode.NORMAL, now=NOW)
    assert len(result.events) == 1


def test_a_failure_before_exec_writes_nothing_and_the_change_is_seen_again(
    fake_redis: fakeredis.FakeRedis,
) -> None:
    def crash(pipe: Any, events: Sequence[Event]) -> None:
        raise RuntimeError("process died here")

    make(fake_redis).apply("a@x.com", [obs("q", 5)], mode=Mode.BASELINE, now=NOW)
    with pytest.raises(RuntimeError):
        make(fake_redis, crash).apply("a@x.com", [obs("q", 1)], mode=Mode.NORMAL, now=NOW + 1)
    assert make(fake_redis).tracked("a@x.com")["q"].status.name == "QUEUED"
    retried = make(fake_redis).apply("a@x.com", [obs("q", 1)], mode=Mode.NORMAL, now=NOW + 2)
    assert [e.type for e in retried.events] == ["image.completed"]


def test_racing_trackers_announce_a_transition_once(fake_redis: fakeredis.FakeRedis) -> None:
    make(fake_redis).apply("a@x.com", [obs("q", 5)], mode=Mode.BASELINE, now=NOW)
    other = Recorder()
    first = Recorder()
    calls = 0

    def interleave(pipe: Any, events: Sequence[Event]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            # Another poller commits the same change between our read and our EXEC.
            make(fake_redis, other).apply("a@x.com", [obs("q", 1)], mode=Mode.NORMAL, now=NOW + 1)
        first(pipe, events)

    result = make(fake_redis, interleave).apply("a@x.com", [obs("q", 1)], mode=Mode.NORMAL, now=NOW + 1)
    assert [e.type for e in other.events] == ["image.completed"]
    assert result.events == []  # the retry saw the committed state


def test_jobs_are_enqueued_in_the_same_transaction(make_settings: Any, fake_redis: fakeredis.FakeRedis) -> None:
    settings: Settings = make_settings(
        webhooks=[{"url": "https://a.example/h", "secret": SECRET, "name": "all"},
                  {"url": "https://b.example/h", "secret": SECRET, "name": "done", "events": ["image.completed"]}],
        delivery_batch_size=1,
    )
    queue = make_queue(fake_redis, settings)
    enqueue = make_enqueuer(queue, list(build_sinks(settings).values()), settings)
    tracker = Tracker(fake_redis, Keys("t"), enqueue=enqueue, max_age_s=3600, known_ttl_s=86400)
    result = tracker.apply("a@x.com", [obs("g", 9), obs("c", 1)], mode=Mode.NORMAL, now=NOW)
    by_type = {e.type: e.id for e in result.events}
    assert sorted(queue.get_job_ids()) == sorted(
        [f"{by_type['image.generating']}-all", f"{by_type['image.completed']}-all",
         f"{by_type['image.completed']}-done"])
    job = queue.fetch_job(f"{by_type['image.completed']}-done")
    assert job.args[0] == "done"
    assert job.args[2]["data"]["image_id"] == "c"
    assert SECRET not in str(job.args) and "b.example" not in str(job.args)


def test_finish_cycle_marks_baseline_and_trims(fake_redis: fakeredis.FakeRedis) -> None:
    tracker = make(fake_redis)
    assert tracker.account_state("a@x.com").baselined_at is None
    tracker.apply("a@x.com", [obs("old", 1)], mode=Mode.BASELINE, now=NOW - 90000)
    tracker.finish_cycle("a@x.com", NOW)
    assert tracker.account_state("a@x.com").baselined_at == NOW
    assert fake_redis.zcard(Keys("t").known("a@x.com")) == 0
    assert 0 < fake_redis.ttl(Keys("t").meta("a@x.com")) <= 86400


def test_failed_cycle_does_not_mark_baseline(fake_redis: fakeredis.FakeRedis) -> None:
    tracker = make(fake_redis)
    tracker.finish_cycle("a@x.com", NOW, error="401")
    assert tracker.account_state("a@x.com").baselined_at is None


def test_a_burst_for_a_webhook_becomes_batch_jobs(make_settings: Any, fake_redis: fakeredis.FakeRedis) -> None:
    from notifier.delivery.enqueue import BATCH_FUNC

    settings: Settings = make_settings(
        webhooks=[{"url": "https://a.example/h", "secret": SECRET, "name": "all"}],
        slack_webhook_url="https://hooks.slack.com/services/x", delivery_batch_size=2,
    )
    queue = make_queue(fake_redis, settings)
    enqueue = make_enqueuer(queue, list(build_sinks(settings).values()), settings)
    tracker = Tracker(fake_redis, Keys("t"), enqueue=enqueue, max_age_s=3600, known_ttl_s=86400)
    result = tracker.apply("a@x.com", [obs(f"c{n}", 1) for n in range(5)], mode=Mode.NORMAL, now=NOW)
    jobs = [queue.fetch_job(jid) for jid in queue.get_job_ids()]
    batches = [job for job in jobs if job.func_name == BATCH_FUNC]
    singles = [job for job in jobs if job.func_name != BATCH_FUNC]
    # The webhook gets 2 + 2 + 1; Slack, rate limited, one job per event.
    assert [len(job.args[1]) for job in batches] == [2, 2, 1]
    assert sorted(item[0] for job in batches for item in job.args[1]) == sorted(e.id for e in result.events)
    assert len(singles) == 5 and {job.args[0] for job in singles} == {"slack"}
