"""An HTTP server in a daemon thread: the simulator, the verifying receiver and the ops endpoint use it."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    # The default backlog of 5 drops connections when a batch opens 50 at once.
    request_queue_size = 256


class BackgroundHTTPServer:
    def __init__(self, host: str, port: int, handler: type[BaseHTTPRequestHandler], *, name: str) -> None:
        # Headers and body leave in two writes: with Nagle on, a client's delayed ACK stalls each
        # answer by about 40 ms (measured: 44 ms per simulated upstream request before this).
        handler.disable_nagle_algorithm = True
        self._server = _Server((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name=name, daemon=True)

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
