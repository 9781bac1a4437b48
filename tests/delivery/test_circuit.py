import time

import fakeredis

from notifier.delivery import circuit
from notifier.delivery.circuit import SinkGuard
from notifier.state.keys import Keys


def test_one_delivery_per_sink_at_a_time(fake_redis: fakeredis.FakeRedis) -> None:
    guard = SinkGuard(fake_redis, Keys("t"), lease_ttl_s=10)
    first = guard.acquire("hook")
    assert first is not None
    started = time.monotonic()
    assert guard.acquire("hook") is None  # held by a fresh delivery: waited briefly, then gave up
    assert time.monotonic() - started >= circuit.WAIT_S * 0.9
    assert guard.acquire("other") is not None
    guard.release("hook", "not-the-token")
    assert guard.acquire("hook") is None
    guard.release("hook", first)
    assert guard.acquire("hook") is not None


def test_a_slow_holder_sends_others_away_at_once(fake_redis: fakeredis.FakeRedis) -> None:
    guard = SinkGuard(fake_redis, Keys("t"), lease_ttl_s=10)
    fake_redis.set(Keys("t").lease("hook"), f"someone:{time.time() - 5}")
    started = time.monotonic()
    assert guard.acquire("hook") is None
    assert time.monotonic() - started < circuit.WAIT_S


def test_circuit_opens_for_a_while(fake_redis: fakeredis.FakeRedis) -> None:
    guard = SinkGuard(fake_redis, Keys("t"), lease_ttl_s=10)
    assert guard.open_for_s("hook") == 0
    guard.trip("hook")
    assert circuit.OPEN_FOR_S - 1 < guard.open_for_s("hook") <= circuit.OPEN_FOR_S
