"""The attempt log in a real Redis: the real jobs record every try, every key expires, the index is capped."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from notifier.delivery.attempt_log import DAY_S, AttemptLog
from notifier.delivery.attempt_record import build_attempt
from notifier.delivery.context import install
from notifier.runtime.settings import Settings
from notifier.state.keys import Keys
from tests.conftest import SECRET
from tests.support.receiver import Receiver
from tests.support.world import World, make_event, world_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def world(make_settings: Callable[..., Settings], receiver: Callable[..., Receiver], redis_url: str,
          real_redis: redis.Redis) -> Iterator[World]:
    rec = receiver(SECRET)
    yield World(world_settings(make_settings, rec, redis_url, delivery_batch_size=1, attempt_log_ttl_s=600),
                real_redis, rec)
    install(None)


def attempts(world: World, event_id: str) -> list[tuple[str, str, int | None]]:
    from notifier.ops.inspect import Inspector

    found = Inspector(world.settings, world.redis).event(event_id)
    assert found is not None
    return [(a["sink"], a["outcome"], a["status"]) for a in found["attempts"]]


def test_every_try_of_single_jobs_is_recorded_and_every_key_expires(world: World) -> None:
    world.receiver.script = lambda webhook_id, before: (503, {}, 0.0) if before == 0 else (200, {}, 0.0)
    event = make_event(now=time.time())
    world.enqueue([event])
    world.work()
    assert sorted(attempts(world, event.id)) == [("backup", "delivered", 200), ("hook", "retrying", 503)]
    keys = [k.decode() for k in world.redis.keys(f"{world.settings.key_prefix}:log:*")]
    assert len(keys) >= 5
    for key in keys:
        # A day's timelines stay until the retention has passed for the last event of that day.
        assert 0 < world.redis.ttl(key) <= 600 + (DAY_S if ":log:items:" in key or ":log:where:" in key else 0), key


def test_a_batch_job_records_each_of_its_deliveries_in_one_call(world: World) -> None:
    settings = world.settings.model_copy(update={"delivery_batch_size": 50})
    world.settings = world.context.settings = settings
    world.receiver.script = lambda webhook_id, before: (400, {}, 0.0) if webhook_id.endswith("0") else (200, {}, 0.0)
    events = [make_event(now=time.time()) for _ in range(30)]
    world.enqueue(events)
    world.work()
    outcomes = {e.id: attempts(world, e.id) for e in events}
    assert all(len(found) == 2 for found in outcomes.values())
    for event in events:
        expected = "failed" if event.id.endswith("0") else "delivered"
        assert ("hook", expected, 400 if expected == "failed" else 200) in outcomes[event.id]


def test_the_index_keeps_the_newest_events_up_to_its_cap(real_redis: redis.Redis) -> None:
    keys = Keys("cap")
    log = AttemptLog(real_redis, keys, ttl_s=600, max_events=100, background=False)
    now = time.time()
    for n in range(150):
        payload = {"type": "image.completed", "timestamp": "x", "data": {"image_id": f"i{n}"}}
        log.record([(build_attempt(event_id=f"e{n}", payload=payload, sink="s", now=now + n, status=200), payload)])
    kept = [m.decode() for m in real_redis.zrange(keys.logged_events(), 0, -1)]
    assert len(kept) == 100 and kept[0] == "e50" and kept[-1] == "e149"


def test_recording_survives_a_redis_that_does_not_answer(caplog: pytest.LogCaptureFixture) -> None:
    # The delivery already happened: a log that cannot be written must not fail (and so repeat) it.
    dead = redis.Redis(host="127.0.0.1", port=9, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    log = AttemptLog(dead, Keys("x"), ttl_s=60, max_events=100, background=False)
    payload = {"type": "image.completed", "data": {}}
    log.record([(build_attempt(event_id="e", payload=payload, sink="s", now=1.0, status=200), payload)])
    assert "could not record 1 delivery attempt(s)" in caplog.text


def test_the_background_thread_writes_what_the_jobs_recorded(real_redis: redis.Redis) -> None:
    from notifier.ops.inspect import Inspector

    keys = Keys("bg")
    log = AttemptLog(real_redis, keys, ttl_s=600, max_events=100)
    payload = {"type": "image.completed", "timestamp": "x", "data": {"image_id": "i"}}
    log.record([(build_attempt(event_id="e", payload=payload, sink="s", now=time.time(), status=200), payload)])
    inspector = Inspector(Settings(_env_file=None, key_prefix="bg"), real_redis)  # type: ignore[call-arg]
    deadline = time.monotonic() + 5
    while inspector.event("e") is None:
        assert time.monotonic() < deadline, "the attempt was not written within 5 s"
        time.sleep(0.01)


def test_an_event_keeps_its_last_attempts_up_to_the_cap(real_redis: redis.Redis) -> None:
    from notifier.delivery.attempt_log import MAX_ATTEMPTS_PER_EVENT
    from notifier.ops.inspect import Inspector

    keys = Keys("many")
    log = AttemptLog(real_redis, keys, ttl_s=600, max_events=100, background=False)
    payload = {"type": "image.completed", "timestamp": "x", "data": {"image_id": "i"}}
    now = time.time()
    # One write each, as retries and replays come (a write holds one chunk).
    for n in range(MAX_ATTEMPTS_PER_EVENT + 30):
        log.record([(build_attempt(event_id="e", payload=payload, sink="s", now=now + n, status=200), payload)])
    found = Inspector(Settings(_env_file=None, key_prefix="many"), real_redis).event("e")  # type: ignore[call-arg]
    assert found is not None and found["payload"] == payload
    times = [a["at"] for a in found["attempts"]]
    # Trimmed back to the cap once over it by 20, the oldest first.
    assert MAX_ATTEMPTS_PER_EVENT <= len(times) < MAX_ATTEMPTS_PER_EVENT + 20
    assert times == sorted(times) and times[-1] == pytest.approx(now + MAX_ATTEMPTS_PER_EVENT + 29, abs=0.002)
    assert times[0] > now + 9


def test_a_flush_of_several_script_calls_keeps_every_event_and_each_sinks_health(real_redis: redis.Redis) -> None:
    from notifier.delivery.attempt_log import PER_CALL
    from notifier.errors import DeliveryError
    from notifier.ops.inspect import Inspector

    keys = Keys("calls")
    log = AttemptLog(real_redis, keys, ttl_s=600, max_events=1000, background=False)
    now = time.time()
    count = PER_CALL * 2 + 7
    tries = []
    for n in range(count):
        payload = {"type": "image.completed", "timestamp": "x", "data": {"image_id": f"i{n}"}}
        failed = n % 5 == 3
        sink = "a" if n % 2 else "b"
        error = DeliveryError(f"HTTP 400 from {sink}", retryable=False, status_code=400) if failed else None
        tries.append((build_attempt(event_id=f"e{n}", payload=payload, sink=sink, now=now + n,
                                    status=None if failed else 200, error=error), payload))
    log.record(tries)
    assert real_redis.zcard(keys.logged_events()) == count
    inspector = Inspector(Settings(_env_file=None, key_prefix="calls"), real_redis)  # type: ignore[call-arg]
    assert all([e["id"] for e in inspector.timeline(f"i{n}")] == [f"e{n}"] for n in range(count))
    for sink in ("a", "b"):
        mine = [n for n in range(count) if (n % 2 == 1) == (sink == "a")]
        delivered, failed = [n for n in mine if n % 5 != 3], [n for n in mine if n % 5 == 3]
        health = {k.decode(): v.decode() for k, v in real_redis.hgetall(keys.sink_health(sink)).items()}
        # The latest of each, whichever script call of the flush it was in.
        assert float(health["last_success_at"]) == pytest.approx(now + max(delivered), abs=0.002)
        assert float(health["last_failure_at"]) == pytest.approx(now + max(failed), abs=0.002)
        assert health["last_error"] == f"HTTP 400 from {sink}"
        assert sorted(m.decode() for m in real_redis.zrange(keys.sink_failed(sink), 0, -1)) == sorted(
            f"e{n}" for n in failed)
    # A later success of a failed event (a replay) takes it out of the sink's failed set.
    payload = tries[3][1]
    log.record([(build_attempt(event_id="e3", payload=payload, sink="a", now=now + count, status=200), payload)])
    assert real_redis.zscore(keys.sink_failed("a"), "e3") is None


def test_odd_text_and_big_numbers_are_recorded_and_read_back(world: World) -> None:
    from notifier.ops.inspect import Inspector

    keys = Keys(world.settings.key_prefix)
    log = AttemptLog(world.redis, keys, ttl_s=600, max_events=100, background=False)
    # Upstream text is made valid at the boundary; a lone surrogate that comes another way must not cost the
    # log the other attempts of its script call.
    payload = {"type": "image.completed", "timestamp": "2026-12-01T00:00:00Z",
               "data": {"image_id": "i\udcff", "prompt": "caf\u00e9 \U0001f3a8 \u201cquoted\u201d", "big": 2**70}}
    plain = {"type": "image.completed", "timestamp": "2026-12-01T00:00:01Z", "data": {"image_id": "j"}}
    log.record([(build_attempt(event_id="odd", payload=payload, sink="hook", now=time.time(), status=200), payload),
                (build_attempt(event_id="plain", payload=plain, sink="hook", now=time.time(), status=200), plain)])
    inspector = Inspector(world.settings, world.redis)
    found = inspector.event("odd")
    assert found is not None and inspector.event("plain") is not None
    data = found["payload"]["data"]
    assert data["prompt"] == "caf\u00e9 \U0001f3a8 \u201cquoted\u201d" and data["big"] == 2**70
    assert data["image_id"] == "i?" and found["item_id"] == "i?"
    assert [(a["sink"], a["outcome"]) for a in found["attempts"]] == [("hook", "delivered")]


def test_an_items_timeline_gathers_its_events_across_flushes_and_days(real_redis: redis.Redis) -> None:
    from notifier.ops.inspect import EventFilter, Inspector

    keys = Keys("days")
    log = AttemptLog(real_redis, keys, ttl_s=7 * DAY_S, max_events=100, background=False)
    now = time.time()

    def attempt(eid: str, detected: float) -> tuple[Any, dict[str, Any]]:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(detected)) + ".000Z"
        payload = {"type": "image.completed", "timestamp": stamp, "data": {"image_id": "img"}}
        return build_attempt(event_id=eid, payload=payload, sink="s", now=now, status=200), payload

    log.record([attempt("queued", now - 2 * DAY_S), attempt("other", now - 1)])
    log.record([attempt("generating", now - DAY_S), attempt("completed", now - 10)])
    inspector = Inspector(Settings(_env_file=None, key_prefix="days"), real_redis)  # type: ignore[call-arg]
    assert [e["id"] for e in inspector.timeline("img")] == ["queued", "generating", "completed", "other"]
    page, _ = inspector.events(EventFilter(item_id="img", since=now - DAY_S - 5), limit=10)
    assert [e["id"] for e in page] == ["other", "completed", "generating"]


def test_entries_written_before_the_string_layout_are_still_read(real_redis: redis.Redis) -> None:
    from notifier.ops.inspect import EventFilter, Inspector

    keys = Keys("legacy")
    payload = {"type": "image.completed", "timestamp": "x", "data": {"image_id": "img"}}
    record = build_attempt(event_id="old", payload=payload, sink="s", now=100.0, status=200).to_dict()
    real_redis.hset(keys.legacy_logged_event("old"), mapping={
        "doc": json.dumps({"id": "old", "type": "image.completed", "item_id": "img", "payload": payload}),
        "outcome:s": json.dumps(record), "attempt:100.000:s": json.dumps(record)})
    real_redis.zadd(keys.legacy_item_timeline("img"), {"old": 100.0})
    real_redis.zadd(keys.logged_events(), {"old": 100.0})
    inspector = Inspector(Settings(_env_file=None, key_prefix="legacy"), real_redis)  # type: ignore[call-arg]
    found = inspector.event("old")
    assert found is not None and found["outcome"] == "delivered" and len(found["attempts"]) == 1
    assert inspector.payload("old") == payload
    assert [e["id"] for e in inspector.timeline("img")] == ["old"]
    assert [e["id"] for e in inspector.events(EventFilter(), limit=5)[0]] == ["old"]
