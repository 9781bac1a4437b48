"""The operations endpoint: ``/healthz`` (liveness), ``/readyz`` (readiness) and ``/metrics``.

Served by :class:`~notifier.ops.pool_http.PooledHTTPServer` (a fixed pool of threads, timeouts, a cap
on connections), on 127.0.0.1 unless ``NOTIFIER_HTTP_HOST`` says otherwise. With
``NOTIFIER_METRICS_TOKEN`` set, ``/metrics`` wants ``Authorization: Bearer <token>``; the health
endpoints stay open (they say only whether the service works).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from notifier.ops.pool_http import PooledHTTPServer


class OpsServer:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        live: Callable[[], bool],
        ready: Callable[[], list[str]],
        registry: CollectorRegistry,
        metrics_token: str = "",
    ) -> None:
        self._live, self._ready, self._registry = live, ready, registry
        self._authorization = f"Bearer {metrics_token}".encode() if metrics_token else None
        self._http = PooledHTTPServer(host, port, self._handler(), name="ops-http")

    @property
    def port(self) -> int:
        return self._http.port

    def start(self) -> OpsServer:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    def may_read_metrics(self, authorization: str | None) -> bool:
        if self._authorization is None:
            return True
        return hmac.compare_digest((authorization or "").encode(), self._authorization)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        ops = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/healthz":
                    ok = ops._live()
                    self._send(200 if ok else 503, b"ok\n" if ok else b"not live\n", "text/plain")
                elif self.path == "/readyz":
                    found = ops._ready()
                    body = ("ready\n" if not found else "not ready: " + "; ".join(found) + "\n").encode()
                    self._send(503 if found else 200, body, "text/plain")
                elif self.path == "/metrics":
                    if ops.may_read_metrics(self.headers.get("Authorization")):
                        self._send(200, generate_latest(ops._registry), CONTENT_TYPE_LATEST)
                    else:
                        self._send(401, b"unauthorized\n", "text/plain",
                                   {"WWW-Authenticate": 'Bearer realm="notifier metrics"'})
                else:
                    self._send(404, b"not found\n", "text/plain")

            def _send(self, code: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (extra or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
