"""The simulated upstream's state: accounts, images moving through statuses, injected faults.

The HTTP server around it is :mod:`notifier.sandbox.simulator`.

It behaves as ``shared/upstream`` describes: bearer auth, ``email`` required
with several accounts, newest-first offset pages with ``next_offset =
offset + limit``, a ``limit`` over 100 refused, 404 for deleted images and for
an empty account list, images that move through statuses over time, and any
error, garbage body or slow answer injected on demand. Videos (``add_video``) are listed by
``/videos/`` (QUEUED marked final, as the upstream's page says) and ``/videos/{id}`` answers 404
while a video is in progress, as after its deletion, with the same body. Tests drive it through
its Python methods; ``notifier simulate`` serves a self-running copy.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from notifier.sandbox.sim_items import SimImage

__all__ = ["BASE_PATH", "MAX_LIMIT", "SimImage", "SimState", "seed_demo"]

MAX_LIMIT = 100
BASE_PATH = "/v2/pixverse"


@dataclass
class Fault:
    status: int
    body: bytes
    headers: dict[str, str]
    times: int
    path_contains: str
    delay_s: float = 0.0


@dataclass(frozen=True, slots=True)
class SimRequest:
    """One list request as the simulator served it (monotonic times of this process)."""

    token: str
    email: str
    started: float
    ended: float


class SimState:
    """The simulator's data. Thread-safe; every method may be called while the server runs."""

    def __init__(self, token: str, *, clock: Callable[[], float] = time.time, first_image: int = 11223344) -> None:
        self.token = token
        self.tokens: set[str] = {token}
        """Every token answered (another useapi.net user's token, a poller told apart by its own)."""
        self.throttled: set[str] = set()
        """Tokens answered 429 (their user's rate limit), whatever they ask."""
        self.log: list[SimRequest] | None = None
        """Set to a list to record every list request: who asked for which account, from when to when."""
        self.list_delay_s = 0.0
        """Seconds each list answer takes (a poll then spans a measurable time)."""
        self.clock = clock
        self.lock = threading.Lock()
        self.accounts: dict[str, list[SimImage]] = {}
        self.images: dict[str, SimImage] = {}
        self.faults: deque[Fault] = deque()
        self.requests: Counter[tuple[str, str]] = Counter()
        self.short_pages = False
        """Answer one item fewer than asked on full pages, as the real upstream sometimes does."""
        self.total_error: int | None = 0
        """Added to the true ``total`` of a list answer; None leaves ``total`` out (it is not documented)."""
        self.on_list: Callable[[str, int], None] | None = None
        """Called (email, offset) before a list page is answered, outside the lock: images can be added or
        changed between the pages of one poll."""
        self._numbers = itertools.count(first_image)

    def add_account(self, email: str) -> None:
        with self.lock:
            self.accounts.setdefault(email, [])

    def add_image(
        self,
        email: str,
        status: int = 5,
        *,
        steps: list[tuple[float, int]] | None = None,
        created_at: float | None = None,
        medium: str = "images",
        **extra: Any,
    ) -> str:
        """A new image (newest of its account). ``steps`` are (seconds after now, code) changes to come."""
        now = self.clock()
        with self.lock:
            number = next(self._numbers)
            image_id = f"user:1234-pixverse:{email}-{medium[:-1]}:{number}"
            timeline: list[tuple[float, int | None]] = [(now, status)]
            timeline += [(now + delay, code) for delay, code in steps or []]
            image = SimImage(image_id, email, now if created_at is None else created_at, timeline, extra, medium=medium)
            self.accounts.setdefault(email, []).append(image)
            self.images[image_id] = image
            return image_id

    def add_video(self, email: str, status: int = 5, *, steps: list[tuple[float, int]] | None = None,
                  created_at: float | None = None, **extra: Any) -> str:
        """A new video (video codes: 5 QUEUED, 10 GENERATING, 1 COMPLETED; 7, 8 as for images)."""
        return self.add_image(email, status, steps=steps, created_at=created_at, medium="videos", **extra)

    def add_history(self, email: str, count: int, status: int = 1, medium: str = "images") -> None:
        """``count`` old finished images (or videos), created a month ago."""
        old = self.clock() - 30 * 86400
        for _ in range(count):
            self.add_image(email, status, created_at=old, medium=medium)

    def set_status(self, image_id: str, code: int | None) -> None:
        with self.lock:
            self.images[image_id].timeline.append((self.clock(), code))

    def delete(self, image_id: str) -> None:
        with self.lock:
            self.images[image_id].deleted = True

    def inject(
        self,
        status: int,
        body: Any = None,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        path_contains: str = "",
        delay_s: float = 0.0,
    ) -> None:
        """The next ``times`` matching requests get this answer. ``body`` bytes are sent raw."""
        raw = body if isinstance(body, bytes) else json.dumps(body if body is not None else {"error": "injected"})
        data = raw if isinstance(raw, bytes) else raw.encode()
        with self.lock:
            self.faults.append(Fault(status, data, headers or {}, times, path_contains, delay_s))

    def count(self, endpoint: str | None = None, email: str | None = None) -> int:
        with self.lock:
            return sum(
                n for (ep, em), n in self.requests.items()
                if (endpoint is None or ep == endpoint) and (email is None or em == email)
            )

    def take_fault(self, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.path_contains in path:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    # -- request handling -------------------------------------------------------------------------

    def handle(self, path: str, query: dict[str, list[str]], auth: str | None) -> tuple[int, Any]:
        if auth is None or auth.removeprefix("Bearer ") not in self.tokens or not auth.startswith("Bearer "):
            with self.lock:
                self.requests[("unauthorized", "")] += 1
            return 401, {"error": "Unauthorized", "code": 401}
        if auth.removeprefix("Bearer ") in self.throttled:
            return 429, {"error": "Too many requests", "code": 429}
        rest = path[len(BASE_PATH):] if path.startswith(BASE_PATH) else path
        if rest in ("/accounts", "/accounts/"):
            return self._accounts()
        for medium in ("images", "videos"):
            if rest in (f"/{medium}", f"/{medium}/"):
                started = time.monotonic()
                if self.list_delay_s:
                    time.sleep(self.list_delay_s)
                answer = self._list(query, medium)
                if self.log is not None and medium == "images":
                    record = SimRequest(auth[len("Bearer "):], query.get("email", [""])[0], started,
                                        time.monotonic())
                    with self.lock:
                        self.log.append(record)
                return answer
            if rest.startswith(f"/{medium}/"):
                return self._get(unquote(rest[len(medium) + 2:]), medium)
        return 404, {"error": f"Unknown endpoint {path}", "code": 404}

    def _accounts(self) -> tuple[int, Any]:
        with self.lock:
            self.requests[("accounts", "")] += 1
            if not self.accounts:
                return 404, {"error": "Configuration not found", "code": 404}
            return 200, {email: {"email": email, "maxJobs": 4} for email in self.accounts}

    def _list(self, query: dict[str, list[str]], medium: str = "images") -> tuple[int, Any]:
        email = query.get("email", [""])[0]
        try:
            limit = int(query.get("limit", ["50"])[0])
            offset = int(query.get("offset", ["0"])[0])
        except ValueError:
            return 400, {"error": "limit and offset must be integers", "code": 400}
        if self.on_list is not None:
            self.on_list(email, offset)
        now = self.clock()
        with self.lock:
            self.requests[(medium, email)] += 1
            if not email:
                if len(self.accounts) > 1:
                    return 400, {"error": "Parameter email is required when multiple accounts configured",
                                 "code": 400}
                email = next(iter(self.accounts), "")
            if email not in self.accounts:
                return 400, {"error": f"Account {email} not found", "code": 400}
            if not 1 <= limit <= MAX_LIMIT or offset < 0:
                return 400, {"error": f"limit must be 1..{MAX_LIMIT} and offset >= 0", "code": 400}
            # Newest first, by creation (then by arrival, for images made in the same instant).
            live = sorted((img for img in reversed(self.accounts[email]) if not img.deleted and img.medium == medium),
                          key=lambda img: -img.created_at)
            page = live[offset:offset + limit]
            if self.short_pages and len(page) == limit and limit > 1:
                page = page[:-1]
            answer: dict[str, Any] = {"data": [img.to_json(now) for img in page], "next_offset": offset + limit}
            if self.total_error is not None:
                answer["total"] = max(0, len(live) + self.total_error)
            return 200, answer

    def _get(self, image_id: str, medium: str = "images") -> tuple[int, Any]:
        with self.lock:
            self.requests[(medium[:-1], "")] += 1
            image = self.images.get(image_id)
            now = self.clock()
            if medium == "videos":
                # 404 while in progress and once deleted, alike: the client cannot tell them apart.
                if image is None or image.deleted or not image.finished_at(now):
                    return 404, {"error": "Not found", "code": 404}
                return 200, image.to_json(now)
            if image is None or image.deleted:
                return 404, {"error": "The original image has been deleted", "code": 404}
            return 200, image.to_json(now)


def seed_demo(state: SimState, accounts: int = 2) -> None:
    """Accounts with some history and images that keep moving through their statuses."""
    lifecycle = [(1.0, 9), (2.5, 10), (4.0, 1)]
    for n in range(accounts):
        email = f"artist{n + 1}@example.com"
        state.add_history(email, 3)
        state.add_image(email, 5, steps=lifecycle)
    first = next(iter(state.accounts))
    state.add_image(first, 5, steps=[(1.5, 9), (3.0, 7)])
    state.add_image(first, 5, steps=[(2.0, 9), (3.5, 8)])
    state.add_history(first, 2, medium="videos")
    state.add_video(first, 5, steps=[(1.0, 10), (4.5, 1)])
