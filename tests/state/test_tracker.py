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


def test_events_go_to_each_sinks_outbox_in_the_same_transaction(make_settings: Any,
                                                                fake_redis: fakeredis.FakeRedis) -> None:
    from notifier.delivery.enqueue import DISPATCH_FUNC

    settings: Settings = make_settings(
        webhooks=[{"url": "https://a.example/h", "secret": SECRET, "name": "all"},
                  {"url": "https://b.example/h", "secret": SECRET, "name": "done", "events": ["image.completed"]}],
    )
    queue = make_queue(fake_redis, settings)
    enqueue = make_enqueuer(queue, list(build_sinks(settings).values()), settings)
    tracker = Tracker(fake_redis, Keys("t"), enqueue=enqueue, max_age_s=3600, known_ttl_s=86400)
    result = tracker.apply("a@x.com", [obs("g", 9), obs("c", 1)], mode=Mode.NORMAL, now=NOW)
    by_type = {e.type: e.id for e in result.events}
    keys = Keys(settings.key_prefix)
    outbox = {name: [fields[b"id"].decode() for _, fields in fake_redis.xrange(keys.outbox(name))]
              for name in ("all", "done")}
    assert outbox == {"all": [by_type["image.generating"], by_type["image.completed"]],
                      "done": [by_type["image.completed"]]}
    jobs = [queue.fetch_job(jid) for jid in queue.get_job_ids()]
    # One dispatch job per sink that got events, whatever their number.
    assert sorted((job.func_name, job.args[0]) for job in jobs) == [(DISPATCH_FUNC, "all"), (DISPATCH_FUNC, "done")]
    stored = str(fake_redis.xrange(keys.outbox("done"))) + str([job.args for job in jobs])
    assert SECRET not in stored and "b.example" not in stored


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


def test_a_burst_is_one_dispatch_job_per_sink(make_settings: Any, fake_redis: fakeredis.FakeRedis) -> None:
    settings: Settings = make_settings(
        webhooks=[{"url": "https://a.example/h", "secret": SECRET, "name": "all"}],
        slack_webhook_url="https://hooks.slack.com/services/x", delivery_batch_size=2,
    )
    queue = make_queue(fake_redis, settings)
    enqueue = make_enqueuer(queue, list(build_sinks(settings).values()), settings)
    tracker = Tracker(fake_redis, Keys("t"), enqueue=enqueue, max_age_s=3600, known_ttl_s=86400)
    result = tracker.apply("a@x.com", [obs(f"c{n}", 1) for n in range(5)], mode=Mode.NORMAL, now=NOW)
    jobs = [queue.fetch_job(jid) for jid in queue.get_job_ids()]
    assert sorted(job.args[0] for job in jobs) == ["all", "slack"]
    keys = Keys(settings.key_prefix)
    for sink in ("all", "slack"):
        ids = [fields[b"id"].decode() for _, fields in fake_redis.xrange(keys.outbox(sink))]
        assert ids == [e.id for e in result.events]  # batch size does not split anything
