"""The Redis connection every process uses: ``NOTIFIER_REDIS_URL`` (``rediss://`` for TLS), with
``NOTIFIER_REDIS_PASSWORD`` when the password is kept out of the URL."""

from __future__ import annotations

import redis

from notifier.runtime.settings import Settings


def connect(settings: Settings) -> redis.Redis:
    # A password in the URL wins over NOTIFIER_REDIS_PASSWORD (redis-py lets URL options override).
    password = settings.redis_password.get_secret_value() or None
    return redis.Redis.from_url(
        settings.redis_url, password=password, socket_timeout=30, socket_connect_timeout=5, health_check_interval=30
    )
