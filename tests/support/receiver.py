"""A real webhook receiver on loopback that verifies Standard Webhooks signatures."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    webhook_id: str
    payload: dict[str, Any] | None
    verified: bool
    error: str
    at: float
    headers: dict[str, str]
    status: int


class Receiver:
    """Records every request. ``answers`` queues (status, headers, delay_s) for the next requests."""

    def __init__(self, secret: str, path: str = "/hooks/s3cr3t-path-token") -> None:
        self.secret = secret
        self.path = path
        self.received: list[Received] = []
        self.answers: deque[tuple[int, dict[str, str], float]] = deque()
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        self.hang = threading.Event()
        """While set, requests are held without an answer (a worker stuck mid-delivery)."""
        self.release = threading.Event()
        self.held = threading.Event()
        """Set once a request has been held by ``hang``."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.path}"

    def answer(self, status: int, *, times: int = 1, headers: dict[str, str] | None = None,
               delay_s: float = 0.0) -> None:
        with self.lock:
            for _ in range(times):
                self.answers.append((status, headers or {}, delay_s))

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout_s: float) -> list[Received]:
        """Block until ``predicate(received)`` holds; fail the test with what arrived otherwise."""
        deadline = time.monotonic() + timeout_s
        with self.lock:
            while not predicate(self.received):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout_s} s; received: {self.summary()}")
                self.arrived.wait(left)
            return list(self.received)

    def summary(self) -> list[tuple[str, str]]:
        return [(r.webhook_id, (r.payload or {}).get("type", "?")) for r in self.received]

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    payload = Webhook(receiver.secret).verify(body, headers)
                    verified, error = True, ""
                except WebhookVerificationError as exc:
                    payload, verified, error = _loads(body), False, str(exc)
                if receiver.hang.is_set():
                    receiver.held.set()
                    receiver.release.wait(60)
                    self.close_connection = True
                    return
                with receiver.lock:
                    status, extra, delay = receiver.answers.popleft() if receiver.answers else (200, {}, 0.0)
                if delay:
                    time.sleep(delay)
                with receiver.lock:
                    receiver.received.append(
                        Received(headers.get("webhook-id", ""), payload, verified, error, time.time(), headers, status)
                    )
                    receiver.arrived.notify_all()
                reply = b"ok"
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _loads(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
