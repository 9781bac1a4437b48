"""Local fakes of chat APIs on loopback: an endpoint that records what Apprise sends, and Slack's Web API."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


class _Server:
    def __init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                hit = Hit(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                status, answer = owner.handle(hit)
                data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self.port = self._http.server_address[1]
        self._thread = threading.Thread(target=self._http.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def handle(self, hit: Hit) -> tuple[int, Any]:
        raise NotImplementedError

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()


class Endpoint(_Server):
    """Records every POST; answers 200 ``{}`` unless ``statuses`` holds the next answers' codes."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.statuses: deque[int] = deque()
        self.lock = threading.Lock()
        super().__init__()

    def handle(self, hit: Hit) -> tuple[int, Any]:
        with self.lock:
            self.hits.append(hit)
            return (self.statuses.popleft() if self.statuses else 200), {}

    def wait_for(self, count: int, timeout_s: float = 30) -> list[Hit]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.hits) >= count:
                    return list(self.hits)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} requests, got {len(self.hits)}")


@dataclass
class Message:
    ts: str
    channel: str
    thread_ts: str | None
    text: str
    blocks: list[Any]
    updates: list[str] = field(default_factory=list)
    """The ``text`` of each ``chat.update`` of this message, in order."""


class SlackApi(_Server):
    """chat.postMessage and chat.update as Slack's Web API answers them: 200 with ``{"ok": ...}``.

    Checks the bot token and the channel. ``fail`` queues an error for the next call of a method;
    ``delay_s`` holds each post a while, so that two deliveries overlap.
    """

    def __init__(self, token: str, channel: str) -> None:
        self.token = token
        self.channel = channel
        self.messages: list[Message] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.failures: dict[str, deque[str]] = {"chat.postMessage": deque(), "chat.update": deque()}
        self.delay_s = 0.0
        self.lock = threading.Lock()
        self._next = 0
        super().__init__()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def fail(self, method: str, error: str, times: int = 1) -> None:
        with self.lock:
            self.failures[method].extend([error] * times)

    def parents(self) -> list[Message]:
        return [m for m in self.messages if m.thread_ts is None]

    def replies(self, ts: str) -> list[Message]:
        return [m for m in self.messages if m.thread_ts == ts]

    def handle(self, hit: Hit) -> tuple[int, Any]:
        method = hit.path.rsplit("/", 1)[-1]
        payload = hit.json()
        if self.delay_s and method == "chat.postMessage":
            time.sleep(self.delay_s)
        with self.lock:
            self.calls.append((method, payload))
            if hit.headers.get("authorization") != f"Bearer {self.token}":
                return 200, {"ok": False, "error": "invalid_auth"}
            if payload.get("channel") != self.channel:
                return 200, {"ok": False, "error": "channel_not_found"}
            if self.failures.get(method):
                error = self.failures[method].popleft()
                if error == "ratelimited":
                    return 429, {"ok": False, "error": "ratelimited"}
                return 200, {"ok": False, "error": error}
            if method == "chat.postMessage":
                self._next += 1
                ts = f"17000000{self._next:02d}.000{self._next:03d}"
                message = Message(ts, self.channel, payload.get("thread_ts"), payload.get("text", ""),
                                  payload.get("blocks", []))
                self.messages.append(message)
                return 200, {"ok": True, "channel": self.channel, "ts": ts, "message": {"text": message.text}}
            if method == "chat.update":
                found = [m for m in self.messages if m.ts == payload.get("ts")]
                if not found:
                    return 200, {"ok": False, "error": "message_not_found"}
                found[0].text, found[0].blocks = payload.get("text", ""), payload.get("blocks", [])
                found[0].updates.append(found[0].text)
                return 200, {"ok": True, "channel": self.channel, "ts": found[0].ts}
            return 200, {"ok": False, "error": "unknown_method"}
