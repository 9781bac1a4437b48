"""An account new to a poller keeps the pace its last poll set, whichever poller made it."""

from collections.abc import Callable
from typing import Any

import fakeredis
import redis

from notifier.polling.handover import claim, resume
from notifier.polling.membership import Membership
from notifier.polling.schedule import AccountSchedule, polled_recently, resume_at
from notifier.state.keys import Keys


class Src:
    def __init__(self, name: str) -> None:
        self.name = name


def test_resume_at_is_one_interval_after_the_last_poll(make_settings: Callable[..., Any]) -> None:
    settings = make_settings(poll_interval_s=3.0, poll_interval_active_s=1.0)
    assert resume_at(100.0, None, False, settings) == 100.0  # never polled: at once
    assert resume_at(100.0, 1.0, False, settings) == 102.0
    assert resume_at(100.0, 0.5, True, settings) == 100.5  # images in progress: the active pace
    assert resume_at(100.0, 30.0, False, settings) == 100.0  # long overdue (its poller died): at once


def test_resume_reads_the_last_polls_of_every_source(make_settings: Callable[..., Any],
                                                     fake_redis: fakeredis.FakeRedis) -> None:
    settings = make_settings(key_prefix="h", poll_interval_s=3.0, poll_interval_active_s=1.0)
    fake_redis.zadd(Keys("h").accounts(), {"a@x.com": 1000.0})
    fake_redis.zadd(Keys("h", "team_b").accounts(), {"a@x.com": 1000.5})
    fake_redis.hset(Keys("h", "team_b").tracked("a@x.com"), "img", "x")
    schedules = {"failing@x.com": AccountSchedule(next_poll_at=80.0, failures=2)}
    gained = {"a@x.com": (Src("default"), "a@x.com"), "team_b/a@x.com": (Src("team_b"), "a@x.com"),
              "new@x.com": (Src("default"), "new@x.com"), "failing@x.com": (Src("default"), "failing@x.com")}
    resume(fake_redis, settings, gained, schedules, now=1001.0, monotonic=lambda: 50.0)
    assert schedules["a@x.com"].next_poll_at == 52.0
    assert schedules["team_b/a@x.com"].next_poll_at == 50.5
    assert schedules["new@x.com"].next_poll_at == 50.0
    assert schedules["failing@x.com"].next_poll_at == 80.0  # its back-off stands


def test_a_poll_just_made_elsewhere_is_not_made_again(make_settings: Callable[..., Any]) -> None:
    settings = make_settings(poll_interval_s=3.0, poll_interval_active_s=1.0)
    assert polled_recently(1.0, False, settings)
    assert not polled_recently(1.6, False, settings)  # due soon anyway: this is the next poll
    assert not polled_recently(0.6, True, settings)
    assert not polled_recently(None, False, settings)


def test_claim_takes_the_lease_or_says_when_to_try_again(make_settings: Callable[..., Any],
                                                         real_redis: redis.Redis) -> None:
    settings = make_settings(key_prefix="c", poll_interval_s=3.0)
    keys = Keys("c")
    mine, theirs = Membership(real_redis, keys, 5.0, "mine"), Membership(real_redis, keys, 5.0, "theirs")
    assert claim(mine, "a@x.com", keys, "a@x.com", settings, now=1000.0, monotonic=lambda: 50.0) is None
    # Held by another poller: tried again shortly.
    assert claim(theirs, "a@x.com", keys, "a@x.com", settings, now=1000.0, monotonic=lambda: 50.0) == 50.25
    mine.release("a@x.com")
    # Polled 0.5 s ago by the poller that owned it until now: not again before its pace says so.
    real_redis.zadd(keys.accounts(), {"a@x.com": 999.5})
    assert claim(theirs, "a@x.com", keys, "a@x.com", settings, now=1000.0, monotonic=lambda: 50.0) == 52.5
    assert real_redis.get(keys.poll_lease("a@x.com")) is None  # given back
