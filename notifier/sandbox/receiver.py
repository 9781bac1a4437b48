"""A webhook receiver on loopback that verifies Standard Webhooks signatures (for the demo and tests)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from notifier.ops.background_http import BackgroundHTTPServer


@dataclass
class Received:
    webhook_id: str
    payload: dict[str, Any] | None
    verified: bool
    error: str
    at: float
    headers: dict[str, str]
    status: int


Reply = tuple[int, dict[str, str], float]
"""Status, extra headers, and seconds to wait before answering."""


def _loads(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class WebhookReceiver:
    """Calls ``on_receive`` for every POST; ``reply`` decides each answer from the request's headers
    (200 by default, None: no answer)."""

    def __init__(
        self,
        secret: str,
        on_receive: Callable[[Received], None],
        *,
        path: str = "/webhook",
        reply: Callable[[dict[str, str]], Reply | None] | None = None,
    ) -> None:
        self.secret = secret
        self.path = path
        self._on_receive = on_receive
        self._reply: Callable[[dict[str, str]], Reply | None] = reply or (lambda headers: (200, {}, 0.0))
        self._http = BackgroundHTTPServer("127.0.0.1", 0, self._handler(), name="receiver")
        self._http.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.port}{self.path}"

    def stop(self) -> None:
        self._http.stop()

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
                reply = receiver._reply(headers)
                if reply is None:  # hold the request unanswered
                    self.close_connection = True
                    return
                status, extra, delay_s = reply
                if delay_s:
                    time.sleep(delay_s)
                receiver._on_receive(
                    Received(headers.get("webhook-id", ""), payload, verified, error, time.time(), headers, status)
                )
                answer = b"ok"
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
