"""What ``connect`` builds from the URL, without connecting: which password goes to the sentinels, which to the
master, and that RQ rebuilds the same Sentinel-managed client in its scheduler process."""

from __future__ import annotations

from collections.abc import Callable

import redis
from redis.sentinel import SentinelConnectionPool, SentinelManagedConnection, SentinelManagedSSLConnection
from rq.connections import parse_connection

from notifier.runtime.connection import connect
from notifier.runtime.settings import Settings


def test_a_sentinel_url_gives_a_client_of_the_master_through_the_sentinels(
        make_settings: Callable[..., Settings]) -> None:
    client = connect(make_settings(redis_url="redis+sentinel://s1:26379,s2:26380/notifier-master/2",
                                   redis_password="master-pw", redis_sentinel_password="sentinel-pw"))
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool) and pool.service_name == "notifier-master"
    assert pool.connection_class is SentinelManagedConnection
    assert pool.connection_kwargs["password"] == "master-pw" and pool.connection_kwargs["db"] == 2
    sentinels = pool.sentinel_manager.sentinels
    assert [(s.connection_pool.connection_kwargs["host"], s.connection_pool.connection_kwargs["port"])
            for s in sentinels] == [("s1", 26379), ("s2", 26380)]
    assert all(s.connection_pool.connection_kwargs["password"] == "sentinel-pw" for s in sentinels)
    # RQ's scheduler rebuilds its client from these: it must still be Sentinel-managed, not a plain Redis.
    _, connection_class, kwargs = parse_connection(client)
    assert connection_class is SentinelManagedConnection and "connection_pool" in kwargs


def test_passwords_in_the_url_win_and_tls_reaches_both(make_settings: Callable[..., Settings]) -> None:
    client = connect(make_settings(
        redis_url="rediss+sentinel://:url-master-pw@s1/m?sentinel_password=url-sentinel-pw&ssl_cert_reqs=none",
        redis_password="setting-master-pw", redis_sentinel_password="setting-sentinel-pw"))
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool)
    assert pool.connection_class is SentinelManagedSSLConnection
    assert pool.connection_kwargs["password"] == "url-master-pw"
    sentinel_kwargs = pool.sentinel_manager.sentinels[0].connection_pool.connection_kwargs
    assert sentinel_kwargs["password"] == "url-sentinel-pw" and sentinel_kwargs["ssl_cert_reqs"] == "none"
    assert pool.sentinel_manager.sentinels[0].connection_pool.connection_class is redis.SSLConnection


def test_a_plain_url_is_a_plain_client(make_settings: Callable[..., Settings]) -> None:
    client = connect(make_settings(redis_url="redis://redis.example:6379/1", redis_password="pw"))
    assert type(client.connection_pool) is redis.ConnectionPool
    assert client.connection_pool.connection_kwargs["password"] == "pw"
