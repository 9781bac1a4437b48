"""The poller process: polls every account until SIGTERM or SIGINT."""

from __future__ import annotations

import logging

import redis

from notifier.runtime.app import build_poller, connect
from notifier.runtime.redis_checks import warn_about_config
from notifier.runtime.settings import Settings
from workers.ops import start_console, start_ops
from workers.signals import stop_event_on_signals

log = logging.getLogger(__name__)


def main(settings: Settings) -> int:
    stop = stop_event_on_signals("poller", "stopping after the current cycle")
    client = connect(settings)
    poller = build_poller(settings, client)
    try:
        warn_about_config(client)
        poller.epoch.check()
    except redis.RedisError as exc:
        log.warning("Redis unavailable at start (%s): checking its configuration later", type(exc).__name__)
    ops = start_ops(settings, client, "poller", live=lambda: not stop.is_set())
    console = start_console(settings, client)
    try:
        poller.run_forever(stop)
    finally:
        if ops is not None:
            ops.stop()
        if console is not None:
            console.stop()
        poller.close()
        client.close()
    return 0
