"""Starts a process's /healthz, /readyz and /metrics endpoint when NOTIFIER_HTTP_PORT is set, and the API and
console (``NOTIFIER_API_PORT``) in the processes that serve them (``notifier run`` or the poller)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis

from notifier.ops.api_server import ApiServer, start_api
from notifier.ops.health import Role, problems
from notifier.ops.metrics import serving_registry
from notifier.ops.server import OpsServer
from notifier.runtime.settings import Settings
from notifier.state.keys import Keys

log = logging.getLogger(__name__)


def start_ops(settings: Settings, client: redis.Redis, role: Role, live: Callable[[], bool]) -> OpsServer | None:
    if not settings.http_port:
        return None
    try:
        server = OpsServer(
            settings.http_host,
            settings.http_port,
            live=live,
            ready=lambda: problems(settings, client, role),
            registry=serving_registry(client, Keys(settings.key_prefix), settings.queue_name),
            metrics_token=settings.metrics_token.get_secret_value(),
        ).start()
    except OSError as exc:
        # The service works without it; say why it is missing.
        log.error("cannot serve /healthz and /metrics on %s:%d: %s", settings.http_host, settings.http_port,
                  exc.strerror)
        return None
    log.info("health and metrics on http://%s:%d/ (/healthz, /readyz, /metrics)", settings.http_host, server.port)
    return server


def start_console(settings: Settings, client: redis.Redis) -> ApiServer | None:
    return start_api(settings, client)
