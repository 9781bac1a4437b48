"""The operations endpoint: ``/healthz`` (liveness), ``/readyz`` (readiness) and ``/metrics``."""

from __future__ import annotations

from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from notifier.ops.background_http import BackgroundHTTPServer


class OpsServer:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        live: Callable[[], bool],
        ready: Callable[[], list[str]],
        registry: CollectorRegistry,
    ) -> None:
        self._live, self._ready, self._registry = live, ready, registry
        self._http = BackgroundHTTPServer(host, port, self._handler(), name="ops-http")

    @property
    def port(self) -> int:
        return self._http.port

    def start(self) -> OpsServer:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

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
                    self._send(200, generate_latest(ops._registry), CONTENT_TYPE_LATEST)
                else:
                    self._send(404, b"not found\n", "text/plain")

            def _send(self, code: int, body: bytes, content_type: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
