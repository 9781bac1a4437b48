"""The loop survives every bad upstream answer, says what happened once, and backs off per account."""

import logging
import random
import threading
import time
from typing import Any

import fakeredis
import pytest
import redis

from notifier.errors import UpstreamAuthError, UpstreamUnavailable
from notifier.polling.poller import Poller
from notifier.polling.schedule import next_interval_s, pause_after_error
from notifier.runtime.settings import Settings
from notifier.sandbox.sim_state import SimState
from notifier.state.keys import Keys
from notifier.state.tracker import Tracker
from notifier.upstream.client import UpstreamClient
from tests.support.sim_transport import sim_transport

A, B = "a@x.com", "b@x.com"


class Clock:
    def __init__(self) -> None:
        # Starts at the real time: the simulator stamps images with it.
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def setup(make_settings: Any, fake_redis: fakeredis.FakeRedis) -> Any:
    settings: Settings = make_settings(accounts=[A, B], poll_interval_s=2.0, upstream_backoff_max_s=300)
    state = SimState("tok")
    state.add_history(A, 3)
    state.add_history(B, 3)
    events: list[Any] = []
    tracker = Tracker(fake_redis, Keys("t"), enqueue=lambda pipe, evs: events.extend(evs), max_age_s=86400,
                      known_ttl_s=86400)
    clock = Clock()
    upstream = UpstreamClient("http://sim/v2/pixverse", "tok", timeout_s=1, transport=sim_transport(state))
    poller = Poller(settings, upstream, tracker, fake_redis, clock=clock, monotonic=clock, rng=random.Random(0))
    yield poller, state, clock, events
    poller.close()


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected"),
    [
        (401, {"error": "Unauthorized", "code": 401}, {}, "rejected the API token (401): Unauthorized"),
        (429, {"error": "Too many requests"}, {"Retry-After": "30"}, "429: Too many requests"),
        (500, b"<h1>Internal</h1>", {}, "500: <h1>Internal</h1>"),
        (200, b"{nope", {}, "body is not valid JSON"),
        (200, {"data": {"image_id": 1}}, {}, "expected 'data' to be a list, got dict"),
        (402, {"error": "Subscription expired", "code": 402}, {}, "402: Subscription expired"),
        (596, {"error": "Account is in error state"}, {}, "596: Account is in error state"),
    ],
)
def test_bad_answer_for_one_account_pauses_it_and_the_others_go_on(
    setup: Any, caplog: pytest.LogCaptureFixture, status: int, body: Any, headers: dict[str, str], expected: str
) -> None:
    poller, state, clock, events = setup
    poller.run_cycle()
    state.inject(status, body, headers=headers, path_contains=f"email={A.replace('@', '%40')}")
    image = state.add_image(B, 1)
    clock.now += 2
    with caplog.at_level(logging.WARNING):
        result = poller.run_cycle()
    assert expected in result.errors[A]
    assert [e.data["image_id"] for e in events] == [image]  # B went on
    assert any(expected in r.getMessage() for r in caplog.records)
    assert "tok" not in caplog.text.replace("token", "")

    # A is paused: the next cycle polls only B.
    clock.now += 2
    assert [scan.account for scan in poller.run_cycle().scans] == [B]
    if status == 429:
        clock.now += 25
        assert [scan.account for scan in poller.run_cycle().scans] == [B]  # Retry-After honoured
    clock.now += 400
    healed = poller.run_cycle()
    assert sorted(scan.account for scan in healed.scans) == [A, B]
    assert healed.errors == {}


def test_repeated_errors_are_logged_once_and_recovery_once(setup: Any, caplog: pytest.LogCaptureFixture) -> None:
    poller, state, clock, _ = setup
    state.inject(503, {"error": "down"}, times=5, path_contains="a%40x.com")
    with caplog.at_level(logging.INFO, logger="notifier.polling.poller"):
        for _ in range(5):
            poller.run_cycle()
            clock.now += 1000
        poller.run_cycle()
    failures = [r for r in caplog.records if "503" in r.getMessage() and r.levelno >= logging.WARNING]
    recoveries = [r for r in caplog.records if "polling again" in r.getMessage()]
    assert len(failures) == 1
    assert len(recoveries) == 1


def test_discovers_accounts_and_falls_back_to_no_email(make_settings: Any, fake_redis: fakeredis.FakeRedis) -> None:
    state = SimState("tok")
    upstream = UpstreamClient("http://sim/v2/pixverse", "tok", timeout_s=1, transport=sim_transport(state))
    tracker = Tracker(fake_redis, Keys("t"), enqueue=lambda p, e: None, max_age_s=86400, known_ttl_s=86400)
    clock = Clock()
    poller = Poller(make_settings(), upstream, tracker, fake_redis, clock=clock, monotonic=clock)
    assert poller.accounts(clock.now) == ["_default"]  # 404 Configuration not found
    state.add_account(A)
    state.add_account(B)
    assert poller.accounts(clock.now + 1) == ["_default"]  # cached until the refresh interval
    assert poller.accounts(clock.now + 400) == [A, B]
    poller.close()


def test_pause_rules() -> None:
    settings = Settings(_env_file=None, poll_interval_s=2, upstream_backoff_max_s=300, upstream_auth_pause_s=600)
    rng = random.Random(0)
    # A 401 backs off from seconds up to the auth pause: a blip costs seconds (issue #10, case 12).
    auth = [pause_after_error(UpstreamAuthError("401"), n, settings, rng) for n in range(1, 9)]
    assert auth[0] <= 2.4 and 480 <= auth[-1] <= 600
    for failures, expected in enumerate([2, 6, 18, 54, 162, 300, 300], start=1):
        pause = pause_after_error(UpstreamUnavailable("503"), failures, settings, rng)
        assert 0.8 * expected <= pause <= min(300, 1.2 * expected)
    assert pause_after_error(UpstreamUnavailable("429", retry_after_s=45), 1, settings, rng) == 45


def test_a_hanging_account_does_not_hold_the_others(make_settings: Any, fake_redis: fakeredis.FakeRedis) -> None:
    settings: Settings = make_settings(accounts=[A, B], poll_interval_s=0.1)
    state = SimState("tok")
    state.add_account(A)
    state.add_account(B)
    state.inject(200, {"data": []}, path_contains="a%40x.com", delay_s=1.5)
    tracker = Tracker(fake_redis, Keys("t"), enqueue=lambda p, e: None, max_age_s=86400, known_ttl_s=86400)
    upstream = UpstreamClient("http://sim/v2/pixverse", "tok", timeout_s=5, transport=sim_transport(state))
    poller = Poller(settings, upstream, tracker, fake_redis)
    stop = threading.Event()
    thread = threading.Thread(target=poller.run_forever, args=(stop,))
    thread.start()
    try:
        # While A's first answer takes 1.5 s, B keeps its 0.1 s schedule.
        deadline = time.monotonic() + 10
        while state.count("images", A) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert state.count("images", A) >= 2
        assert state.count("images", B) >= 8
    finally:
        stop.set()
        thread.join(10)
        poller.close()
    assert fake_redis.get(Keys(settings.key_prefix).heartbeat("poller")) is not None


@pytest.mark.parametrize(
    ("active", "remaining", "expected"),
    [
        (0, [], 3.0),  # idle
        (2, [None, None], 1.0),  # in progress, no estimate
        (2, [40.0, 60.0], 3.0),  # a long way to go: polled like an idle account
        (1, [21.5], 2.5),  # nearly near: the next poll lands as the fast pace starts
        (1, [12.0], 1.0),  # due within the long-wait horizon: the active pace
        (1, [0.2], 1.0),  # overdue or nearly: the active pace
        (2, [20.0, None], 1.0),  # one without an estimate sets the pace
    ],
)
def test_adaptive_interval(active: int, remaining: list[float | None], expected: float) -> None:
    settings = Settings(_env_file=None, poll_interval_s=3.0, poll_interval_active_s=1.0)
    assert next_interval_s(active, remaining, settings) == expected


def test_active_pace_never_slower_than_idle() -> None:
    settings = Settings(_env_file=None, poll_interval_s=0.5, poll_interval_active_s=1.0)
    assert next_interval_s(3, [None], settings) == 0.5


def test_accounts_with_images_in_progress_are_polled_sooner(setup: Any) -> None:
    poller, state, clock, _ = setup
    poller.run_cycle()
    state.add_image(A, 9)
    clock.now += 2
    poller.run_cycle()
    clock.now += 1.0  # A is active: due after the active interval; B idle: not yet
    assert [scan.account for scan in poller.run_cycle().scans] == [A]


def test_without_a_sink_the_poller_says_events_are_only_logged(setup: Any, caplog: pytest.LogCaptureFixture) -> None:
    poller, *_ = setup
    stop = threading.Event()
    stop.set()
    with caplog.at_level(logging.INFO, logger="notifier.polling.poller"):
        poller.run_forever(stop)
    assert "events are logged here, not sent" in caplog.text


def test_a_redis_error_does_not_use_the_upstream_back_off(setup: Any, fake_redis: fakeredis.FakeRedis,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    # A two-minute Redis outage is about 60 failed polls: the next poll must still come within seconds.
    poller, state, clock, events = setup
    poller.run_cycle()
    real_pipeline = fake_redis.pipeline
    with caplog.at_level(logging.INFO):
        fake_redis.pipeline = lambda *a, **k: (_ for _ in ()).throw(redis.ConnectionError("refused"))
        for _ in range(60):
            clock.now += 2
            result = poller.run_cycle(force=True)
            assert "Redis unavailable" in result.errors[A]
        fake_redis.pipeline = real_pipeline  # type: ignore[method-assign]
        due_in = poller._schedules[A].next_poll_at - clock.now
        assert due_in <= 1.0
        image = state.add_image(A, 1)
        clock.now += 1
        result = poller.run_cycle()
    assert not result.errors
    assert image in [e.data["image_id"] for e in events]
    assert sum("Redis unavailable" in r.getMessage() for r in caplog.records) == 1
    assert sum("Redis answers again" in r.getMessage() for r in caplog.records) == 1


def test_the_poller_stops_checking_in_while_it_cannot_write_state(setup: Any,
                                                                  fake_redis: fakeredis.FakeRedis) -> None:
    poller, _state, clock, _events = setup
    poller.run_cycle()
    fake_redis.delete(Keys(poller._settings.key_prefix).heartbeat("poller"))
    real_pipeline = fake_redis.pipeline
    fake_redis.pipeline = lambda *a, **k: (_ for _ in ()).throw(redis.ReadOnlyError("READONLY"))
    clock.now += 2
    poller.run_cycle()
    assert fake_redis.get(Keys(poller._settings.key_prefix).heartbeat("poller")) is None
    fake_redis.pipeline = real_pipeline  # type: ignore[method-assign]
    clock.now += 2
    result = poller.run_cycle()
    assert not result.errors, result.errors
    assert fake_redis.get(Keys(poller._settings.key_prefix).heartbeat("poller")) is not None


def test_a_wall_clock_stepped_back_does_not_stop_polling(make_settings: Any, fake_redis: fakeredis.FakeRedis) -> None:
    # Issue #10, case 9: schedules on the wall clock stopped polling for as long as the clock went back.
    settings: Settings = make_settings(accounts=[A], poll_interval_s=2.0)
    state = SimState("tok")
    state.add_account(A)
    tracker = Tracker(fake_redis, Keys("t"), enqueue=lambda p, e: None, max_age_s=86400, known_ttl_s=86400)
    upstream = UpstreamClient("http://sim/v2/pixverse", "tok", timeout_s=1, transport=sim_transport(state))
    wall, mono = Clock(), Clock()
    poller = Poller(settings, upstream, tracker, fake_redis, clock=wall, monotonic=mono)
    assert [s.account for s in poller.run_cycle().scans] == [A]
    wall.now -= 3600  # NTP steps the wall clock back an hour
    mono.now += 2.5
    assert [s.account for s in poller.run_cycle().scans] == [A]
    poller.close()


def test_an_account_that_leaves_discovery_keeps_no_schedule(make_settings: Any,
                                                            fake_redis: fakeredis.FakeRedis) -> None:
    # Issue #10, case 11: its old schedule stayed due forever and the loop woke every 10 ms.
    state = SimState("tok")
    state.add_account(A)
    state.add_account(B)
    upstream = UpstreamClient("http://sim/v2/pixverse", "tok", timeout_s=1, transport=sim_transport(state))
    tracker = Tracker(fake_redis, Keys("t"), enqueue=lambda p, e: None, max_age_s=86400, known_ttl_s=86400)
    clock = Clock()
    poller = Poller(make_settings(), upstream, tracker, fake_redis, clock=clock, monotonic=clock)
    poller.run_cycle()
    assert set(poller._schedules) == {A, B}
    with state.lock:
        del state.accounts[B]
    clock.now += 400
    poller.run_cycle()
    assert set(poller._schedules) == {A}
    poller.close()


def test_a_short_401_blip_pauses_for_seconds_and_is_logged_once(
    make_settings: Any, fake_redis: fakeredis.FakeRedis, caplog: pytest.LogCaptureFixture
) -> None:
    # Issue #10, case 12: a 3-second 401 blip silenced every account for upstream_auth_pause_s (300 s).
    settings: Settings = make_settings(accounts=[A], poll_interval_s=2.0, upstream_auth_pause_s=300)
    state = SimState("tok")
    state.add_account(A)
    state.inject(401, {"error": "Unauthorized", "code": 401}, times=2)
    tracker = Tracker(fake_redis, Keys("t"), enqueue=lambda p, e: None, max_age_s=86400, known_ttl_s=86400)
    upstream = UpstreamClient("http://sim/v2/pixverse", "tok", timeout_s=1, transport=sim_transport(state))
    clock = Clock()
    start = clock.now
    poller = Poller(settings, upstream, tracker, fake_redis, clock=clock, monotonic=clock, rng=random.Random(0))
    polled_at = []
    with caplog.at_level(logging.WARNING, logger="notifier.polling.poller"):
        for _ in range(40):
            if poller.run_cycle().scans:
                polled_at.append(clock.now)
            clock.now += 0.5
    assert polled_at and polled_at[0] - start < 15  # two 401s: about 2 s, then 6 s
    assert len([r for r in caplog.records if "401" in r.getMessage()]) == 1
    poller.close()
