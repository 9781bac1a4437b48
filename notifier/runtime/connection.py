"""The Redis connection every process uses: ``NOTIFIER_REDIS_URL`` (``rediss://`` for TLS, ``redis+sentinel://``
for a master found through Redis Sentinel), with ``NOTIFIER_REDIS_PASSWORD`` when the password is kept out of
the URL.

With Sentinel the client is redis-py's ``Sentinel.master_for``: every new connection asks the sentinels where
the master is, and a connection to a demoted master is dropped, so after a failover the poller, the workers,
their RQ scheduler (which rebuilds its client from this one's pool) and the ops server reach the promoted
replica with no restart.
"""

from __future__ import annotations

from typing import Any

import redis
from redis.sentinel import Sentinel

from notifier.runtime.sentinel_url import is_sentinel_url, parse_sentinel_url
from notifier.runtime.settings import Settings

_MASTER_OPTIONS: dict[str, Any] = {"socket_timeout": 30, "socket_connect_timeout": 5, "health_check_interval": 30}
# Short: a sentinel that does not answer is skipped for the next one, and discovery runs at every connect.
_SENTINEL_TIMEOUTS_S: dict[str, Any] = {"socket_timeout": 2, "socket_connect_timeout": 2}


def connect(settings: Settings) -> redis.Redis:
    # A password in the URL wins over NOTIFIER_REDIS_PASSWORD (redis-py lets URL options override).
    password = settings.redis_password.get_secret_value() or None
    if is_sentinel_url(settings.redis_url):
        return _sentinel_master(settings, password)
    return redis.Redis.from_url(settings.redis_url, password=password, **_MASTER_OPTIONS)


def _sentinel_master(settings: Settings, password: str | None) -> redis.Redis:
    url = parse_sentinel_url(settings.redis_url)
    given = {key: value for key, value in url.master_options.items() if value not in (None, "")}
    master = {**_MASTER_OPTIONS, "password": password, **given}
    sentinel_options = {**url.sentinel_options(), **_SENTINEL_TIMEOUTS_S}
    sentinel_options["password"] = sentinel_options["password"] or (
        settings.redis_sentinel_password.get_secret_value() or None)
    if url.tls:
        master["ssl"] = True
    manager = Sentinel(list(url.sentinels), sentinel_kwargs=sentinel_options, **master)  # type: ignore[no-untyped-call]
    client: redis.Redis = manager.master_for(url.service, redis_class=redis.Redis)  # type: ignore[no-untyped-call]
    return client
