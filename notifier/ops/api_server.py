"""Serves the HTTP API and the console with uvicorn in a daemon thread, beside the /healthz server.

It refuses to serve beyond loopback without ``NOTIFIER_API_TOKEN``: anyone who can reach it could read
every event's payload and send deliveries again.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time

import redis
import uvicorn

from notifier.errors import ConfigError
from notifier.runtime.settings import Settings

log = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(settings: Settings) -> None:
    """Raise ConfigError when the API would serve beyond loopback without a token."""
    if not settings.api_token.get_secret_value() and not is_loopback(settings.http_host):
        raise ConfigError("the HTTP API is not served on a non-loopback NOTIFIER_HTTP_HOST without "
                          "NOTIFIER_API_TOKEN (set one, or NOTIFIER_API_PORT=0 to turn the API off)")


class ApiServer:
    def __init__(self, settings: Settings, client: redis.Redis, *, host: str | None = None,
                 port: int | None = None) -> None:
        from notifier.ops.api import create_app

        check_exposure(settings if host is None else settings.model_copy(update={"http_host": host}))
        config = uvicorn.Config(create_app(settings, client), host=host or settings.http_host,
                                port=settings.api_port if port is None else port, log_level="warning",
                                access_log=False, lifespan="off", timeout_keep_alive=5, limit_concurrency=256,
                                server_header=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="api-http", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.servers[0].sockets[0].getsockname()[1])

    @property
    def host(self) -> str:
        return str(self._server.config.host)

    @property
    def url(self) -> str:
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.port}/"

    def start(self) -> ApiServer:
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise OSError("the API server did not start (is its port in use?)")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)


def start_api(settings: Settings, client: redis.Redis) -> ApiServer | None:
    """The API and console on ``NOTIFIER_API_PORT``, or None (turned off, refused, or the port is taken)."""
    if not settings.api_port:
        return None
    try:
        server = ApiServer(settings, client).start()
    except ConfigError as exc:
        log.error("%s", exc)
        return None
    except OSError as exc:
        log.error("cannot serve the API and console on %s:%d: %s", settings.http_host, settings.api_port, exc)
        return None
    log.info("console and API on %s (OpenAPI: %sapi/openapi.json)", server.url, server.url)
    return server
