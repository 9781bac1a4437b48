"""A simulated useapi.net PixVerse upstream: a real HTTP server on loopback.

It behaves as ``shared/upstream`` describes: bearer auth, ``email`` required
with several accounts, newest-first offset pages with ``next_offset =
offset + limit``, a ``limit`` over 100 refused, 404 for deleted images and for
an empty account list, images that move through statuses over time, and any
error, garbage body or slow answer injected on demand. Tests drive it through
its :class:`~notifier.sandbox.sim_state.SimState`; ``notifier simulate`` serves a self-running copy.
"""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from notifier.ops.background_http import BackgroundHTTPServer
from notifier.sandbox.sim_state import BASE_PATH, SimState


def _handler(state: SimState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            fault = state.take_fault(self.path)
            if fault is not None:
                if fault.delay_s:
                    time.sleep(fault.delay_s)
                self._send(fault.status, fault.body, fault.headers)
                return
            code, body = state.handle(parts.path, parse_qs(parts.query), self.headers.get("Authorization"))
            self._send(code, json.dumps(body).encode(), {})

        def _send(self, code: int, body: bytes, headers: dict[str, str]) -> None:
            try:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test): nothing to answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class Simulator:
    """The server around a :class:`SimState`. ``url`` is the base URL to configure as upstream."""

    def __init__(self, state: SimState, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = state
        self._http = BackgroundHTTPServer(host, port, _handler(state), name="simulator")

    @property
    def url(self) -> str:
        return f"http://{self._http.host}:{self._http.port}{BASE_PATH}"

    def start(self) -> Simulator:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
