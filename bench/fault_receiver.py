"""A webhook receiver whose behaviour a fault suite switches: 200, 5xx, 429 (with or without Retry-After),
hanging past the sender's timeout, or refusing connections. It records what it accepted (answered 2xx)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench.harness import free_port

MODES = ("ok", "5xx", "429-retry-after", "429-bare", "hang", "refuse")


@dataclass(frozen=True)
class Accepted:
    webhook_id: str
    image_id: str
    status: str
    at: float


class FaultReceiver:
    def __init__(self, hang_s: float = 15.0) -> None:
        self.port = free_port()
        self.mode = "ok"
        self.hang_s = hang_s
        self.delay_s = 0.0
        """In "ok" mode, how long each answer takes (to catch a worker mid-batch)."""
        self.accepted: list[Accepted] = []
        self.refused_answers = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def _start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                mode = receiver.mode
                if mode == "hang":
                    time.sleep(receiver.hang_s)
                    self.close_connection = True
                    return
                if mode in ("5xx", "429-retry-after", "429-bare"):
                    code, headers = (503, {}) if mode == "5xx" else (429, {"Retry-After": "2"}
                                                                      if mode == "429-retry-after" else {})
                    with receiver._lock:
                        receiver.refused_answers += 1
                    self._answer(code, headers)
                    return
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                data: dict[str, Any] = json.loads(body)["data"]
                with receiver._lock:
                    receiver.accepted.append(Accepted(self.headers.get("webhook-id", ""), data["image_id"],
                                                      data["status"], time.time()))
                self._answer(200, {})

            def _answer(self, code: int, headers: dict[str, str]) -> None:
                try:
                    self.send_response(code)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the sender is gone (killed worker, its timeout): it will send again
                    self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def set_mode(self, mode: str) -> None:
        assert mode in MODES, mode
        if mode == "refuse" and self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        elif mode != "refuse" and self._server is None:
            self._start()
        self.mode = mode

    def snapshot(self) -> list[Accepted]:
        with self._lock:
            return list(self.accepted)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
