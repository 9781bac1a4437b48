"""The package's verifying receiver, with what tests need on top: queued answers, held requests, waiting."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from notifier.sandbox.receiver import Received, Reply, WebhookReceiver

__all__ = ["Received", "Receiver"]


class Receiver:
    """Records every request. ``answer`` queues replies for the next requests (200 otherwise).

    ``script``, when set, answers instead: it is given each request's ``webhook-id`` and how many
    requests with that id came before (0 for the first try), and returns the reply.
    """

    def __init__(self, secret: str, path: str = "/hooks/s3cr3t-path-token") -> None:
        self.received: list[Received] = []
        self.answers: deque[Reply] = deque()
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        self.hang = threading.Event()
        """While set, requests are held without an answer (a worker stuck mid-delivery)."""
        self.release = threading.Event()
        self.held = threading.Event()
        """Set once a request has been held by ``hang``."""
        self.script: Callable[[str, int], Reply] | None = None
        self._tries: dict[str, int] = {}
        self._server = WebhookReceiver(secret, self._record, path=path, reply=self._next_reply)
        self.path = path

    @property
    def url(self) -> str:
        return self._server.url

    def answer(self, status: int, *, times: int = 1, headers: dict[str, str] | None = None,
               delay_s: float = 0.0) -> None:
        with self.lock:
            for _ in range(times):
                self.answers.append((status, headers or {}, delay_s))

    def _next_reply(self, headers: dict[str, str]) -> Reply | None:
        if self.hang.is_set():
            self.held.set()
            self.release.wait(60)
            return None
        with self.lock:
            if self.script is not None:
                webhook_id = headers.get("webhook-id", "")
                before = self._tries.get(webhook_id, 0)
                self._tries[webhook_id] = before + 1
                return self.script(webhook_id, before)
            return self.answers.popleft() if self.answers else (200, {}, 0.0)

    def _record(self, received: Received) -> None:
        with self.lock:
            self.received.append(received)
            self.arrived.notify_all()

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
        self._server.stop()
