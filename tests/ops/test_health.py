import time

import fakeredis
import redis

from notifier.ops.health import poller_stale_after_s, problems
from notifier.state.keys import Keys


def test_poller_heartbeat_rules(make_settings, fake_redis: fakeredis.FakeRedis) -> None:
    settings = make_settings()
    now = time.time()
    assert problems(settings, fake_redis, "poller", now=now) == ["the poller has not checked in yet"]
    fake_redis.set(Keys(settings.key_prefix).heartbeat("poller"), now - 5)
    assert problems(settings, fake_redis, "poller", now=now) == []
    late = now + poller_stale_after_s(settings) + 1
    assert problems(settings, fake_redis, "poller", now=late)[0].startswith("the poller last checked in")


def test_no_worker_is_unhealthy(make_settings, fake_redis: fakeredis.FakeRedis) -> None:
    assert problems(make_settings(), fake_redis, "worker") == ["no delivery worker checked in recently"]


def test_redis_down_is_said_first(make_settings) -> None:
    dead = redis.Redis(port=1, socket_connect_timeout=0.2)
    assert problems(make_settings(), dead, "run") == ["Redis does not answer (ConnectionError)"]
