"""Check-ins on Redis' clock, a lease per account polled: held by one poller, renewed, lapsing with its holder."""

import time

import redis

from notifier.polling.membership import Membership
from notifier.state.keys import Keys


def test_pollers_see_each_other_and_a_leaver_at_once(real_redis: redis.Redis) -> None:
    keys = Keys("t")
    a, b = Membership(real_redis, keys, 5.0, "a"), Membership(real_redis, keys, 5.0, "b")
    assert a.check_in() == ["a"]
    assert b.check_in() == ["a", "b"]
    b.leave()
    assert a.check_in() == ["a"]
    assert real_redis.ttl(keys.pollers()) > 0


def test_a_poller_not_heard_of_for_the_ttl_is_dead(real_redis: redis.Redis) -> None:
    keys = Keys("t")
    seconds, _ = real_redis.time()
    real_redis.zadd(keys.pollers(), {"gone": seconds - 6, "old": seconds - 10_000})
    assert Membership(real_redis, keys, 5.0, "me").check_in() == ["me"]
    assert real_redis.zscore(keys.pollers(), "old") is None  # forgotten, the list does not grow


def test_one_lease_holder_at_a_time_renewed_and_lapsing(real_redis: redis.Redis) -> None:
    keys = Keys("t")
    a, b = Membership(real_redis, keys, 1.0, "a"), Membership(real_redis, keys, 1.0, "b")
    assert a.acquire("x@y.com")
    assert not b.acquire("x@y.com")
    b.release("x@y.com")  # not b's to give up
    assert not b.acquire("x@y.com")
    assert a.renew(["x@y.com", "z@y.com"]) == 1
    assert real_redis.pttl(keys.poll_lease("x@y.com")) > 500
    a.release("x@y.com")
    assert b.acquire("x@y.com")
    # b dies holding it: the lease lapses by itself within the TTL.
    deadline = time.monotonic() + 3
    while not a.acquire("x@y.com"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
