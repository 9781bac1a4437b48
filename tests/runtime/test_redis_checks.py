"""A Redis that can lose notifier's state is named at start-up; a loss that happened is detected and reported."""

from __future__ import annotations

import logging
from collections.abc import Callable

import fakeredis
import pytest
import redis
from redis.sentinel import SentinelConnectionPool

from notifier.ops.report import collect_status
from notifier.runtime.redis_checks import Epoch, config_risks, sentinel_risks, state_lost_at, warn_about_config
from notifier.runtime.settings import Settings


@pytest.mark.integration
def test_an_evicting_redis_without_persistence_is_a_loud_warning(real_redis: redis.Redis,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    # The test server runs with appendonly no and no save points.
    real_redis.config_set("maxmemory-policy", "allkeys-lru")
    try:
        with caplog.at_level(logging.WARNING):
            warn_about_config(real_redis)
    finally:
        real_redis.config_set("maxmemory-policy", "noeviction")
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("maxmemory-policy is allkeys-lru" in m for m in messages)
    assert any("keeps nothing on disk" in m for m in messages)
    real_redis.config_set("appendonly", "yes")
    try:
        assert config_risks(real_redis) == []
    finally:
        real_redis.config_set("appendonly", "no")


def test_losing_state_is_detected_reported_once_and_shown_in_status(
        make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture) -> None:
    settings = make_settings()
    store = fakeredis.FakeRedis()
    epoch = Epoch(store, settings.key_prefix)
    assert epoch.check() is False  # first use: written once
    assert epoch.check() is False
    store.flushall()  # a restart without persistence, an eviction, a FLUSHALL
    with caplog.at_level(logging.ERROR):
        assert epoch.check(now=1234.0) is True
    assert "REDIS LOST NOTIFIER'S STATE" in caplog.text
    assert epoch.check() is False  # reported once
    assert state_lost_at(store, settings.key_prefix) == 1234.0
    assert collect_status(settings, store).state_lost_at == 1234.0


def test_another_process_seeing_the_same_epoch_finds_nothing_lost(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    store = fakeredis.FakeRedis()
    first, second = Epoch(store, settings.key_prefix), Epoch(store, settings.key_prefix)
    assert first.check() is False and second.check() is False
    assert first.check() is False
    assert state_lost_at(store, settings.key_prefix) is None


class _Sentinel:
    """Answers SENTINEL REPLICAS / SENTINELS as redis-py parses them, or fails like a dead sentinel."""

    def __init__(self, replicas: list[dict[str, object]] | None, others: int = 2) -> None:
        self.replicas, self.others = replicas, others

    def sentinel_slaves(self, service: str) -> list[dict[str, object]]:
        if self.replicas is None:
            raise redis.ConnectionError("down")
        return self.replicas

    def sentinel_sentinels(self, service: str) -> list[dict[str, object]]:
        return [{"is_sdown": False}] * self.others


def _sentinel_client(*sentinels: _Sentinel) -> redis.Redis:
    manager = type("Manager", (), {"sentinels": list(sentinels)})()
    return redis.Redis(connection_pool=SentinelConnectionPool("notifier-master", manager))


_UP = {"is_sdown": False, "is_odown": False, "is_disconnected": False}


def test_a_sentinel_set_up_that_cannot_fail_over_is_named() -> None:
    assert sentinel_risks(_sentinel_client(_Sentinel([_UP]))) == []
    # The first sentinel is down: the next one answers.
    assert sentinel_risks(_sentinel_client(_Sentinel(None), _Sentinel([_UP]))) == []
    no_replica = sentinel_risks(_sentinel_client(_Sentinel([{**_UP, "is_sdown": True}])))
    assert len(no_replica) == 1 and "no healthy replica" in no_replica[0]
    too_few = sentinel_risks(_sentinel_client(_Sentinel([_UP], others=1)))
    assert len(too_few) == 1 and "only 2 sentinel(s)" in too_few[0]
    assert "no sentinel" in sentinel_risks(_sentinel_client(_Sentinel(None)))[0]
    assert sentinel_risks(fakeredis.FakeRedis()) == []
