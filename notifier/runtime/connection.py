"""The Redis connection every process uses."""

from __future__ import annotations

import redis

from notifier.runtime.settings import Settings


def connect(settings: Settings) -> redis.Redis:
    return redis.Redis.from_url(
        settings.redis_url, socket_timeout=30, socket_connect_timeout=5, health_check_interval=30
    )
