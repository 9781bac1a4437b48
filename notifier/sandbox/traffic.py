"""Traffic for the simulated upstream: new images and videos on every account, now and then, that move to an end.

``notifier simulate`` runs one, so that a ``notifier run`` pointed at the simulator keeps seeing
changes however late it starts. It drives a :class:`~notifier.sandbox.sim_state.SimState` through
``add_image`` only, on the state's clock, and reports each image's statuses as the upstream will
show them (the notifier sees those it polls in time: a short QUEUED may pass between two polls).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from notifier.sandbox.sim_state import SimState
from notifier.upstream.media import MEDIA
from notifier.upstream.statuses import KNOWN_STATUSES

QUEUED, GENERATING, PROCESSING, COMPLETED, MODERATED, FAILED = 5, 9, 10, 1, 7, 8
OUTCOMES = ((COMPLETED, 0.7), (MODERATED, 0.15), (FAILED, 0.15))
"""How new images end, and how often."""
VIDEO_SHARE = 0.3
"""How many of the new items are videos (QUEUED → GENERATING (10) → an outcome, a little slower)."""


@dataclass(frozen=True)
class Pace:
    """Seconds between two new images of one account, drawn anew each time between ``low`` and ``high``."""

    low: float
    high: float

    @classmethod
    def parse(cls, text: str) -> Pace:
        """``"15"``, ``"10-20"``, or ``"0"`` (no new images)."""
        low, _, high = text.partition("-")
        try:
            pace = cls(float(low), float(high or low))
        except ValueError:
            raise ValueError(f"expected seconds like 15 or a range like 10-20, not {text!r}") from None
        if not 0 <= pace.low <= pace.high or (pace.low == 0 < pace.high):
            raise ValueError(f"expected 0, or seconds above 0 with the smaller first, not {text!r}")
        return pace

    @property
    def off(self) -> bool:
        return self.high == 0

    def describe(self) -> str:
        span = f"{self.low:g}" if self.low == self.high else f"{self.low:g}-{self.high:g}"
        return f"every {span} s"

    def draw(self, rng: random.Random) -> float:
        return rng.uniform(self.low, self.high)


def plan(rng: random.Random) -> list[tuple[float, int]]:
    """The steps of a new image after QUEUED, in seconds from its start: about 5 to 12 s in all."""
    outcome = rng.choices([code for code, _ in OUTCOMES], weights=[share for _, share in OUTCOMES])[0]
    generating = rng.uniform(1.0, 3.0)
    if outcome != COMPLETED:
        return [(generating, GENERATING), (generating + rng.uniform(2.0, 5.0), outcome)]
    processing = generating + rng.uniform(2.0, 5.0)
    return [(generating, GENERATING), (processing, PROCESSING), (processing + rng.uniform(1.0, 3.0), COMPLETED)]


def plan_video(rng: random.Random) -> list[tuple[float, int]]:
    """The steps of a new video after QUEUED: about 4 to 13 s in all."""
    outcome = rng.choices([code for code, _ in OUTCOMES], weights=[share for _, share in OUTCOMES])[0]
    generating = rng.uniform(1.0, 3.0)
    return [(generating, 10), (generating + rng.uniform(3.0, 10.0), outcome)]


def name(code: int, medium: str = "images") -> str:
    return MEDIA[medium].statuses.get(code, KNOWN_STATUSES[code])[0]


@dataclass
class _Moving:
    account: str
    image_id: str
    steps: list[tuple[float, int]]
    """(time on the state's clock, code) still to come."""
    status: int = QUEUED
    medium: str = "images"


@dataclass
class Traffic:
    """A new image on each account at ``pace``; ``say`` gets a line per new image and status change."""

    state: SimState
    accounts: list[str]
    pace: Pace
    rng: random.Random = field(default_factory=random.Random)
    say: Callable[[str], None] | None = None
    made: int = field(default=0, init=False)
    """Images made so far."""
    _next: dict[str, float] = field(default_factory=dict, init=False)
    _moving: list[_Moving] = field(default_factory=list, init=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)

    def step(self) -> None:
        """Make the images that are due, report the changes that happened; call it often."""
        now = self.state.clock()
        if not self.pace.off:
            for account in self.accounts:
                # The first image of each account comes within one interval, the accounts out of step.
                due = self._next.setdefault(account, now + self.rng.uniform(0, self.pace.high))
                if now >= due:
                    self._new_image(account, now)
                    self._next[account] = due + self.pace.draw(self.rng)
        for image in list(self._moving):
            while image.steps and image.steps[0][0] <= now:
                _, code = image.steps.pop(0)
                self._report(now, image, f"{name(image.status, image.medium)} → {name(code, image.medium)}")
                image.status = code
            if not image.steps:
                self._moving.remove(image)

    def _new_image(self, account: str, now: float) -> None:
        medium = "videos" if self.rng.random() < VIDEO_SHARE else "images"
        steps = plan_video(self.rng) if medium == "videos" else plan(self.rng)
        image_id = self.state.add_image(account, QUEUED, steps=steps, medium=medium)
        self.made += 1
        moving = _Moving(account, image_id, [(now + after, code) for after, code in steps], medium=medium)
        self._moving.append(moving)
        self._report(now, moving, f"new → {name(QUEUED)}",
                     f"(then {', '.join(name(c, medium) for _, c in steps)})")

    def _report(self, now: float, image: _Moving, change: str, note: str = "") -> None:
        if self.say is None:
            return
        stamp = datetime.fromtimestamp(now).strftime("%H:%M:%S")
        short = image.image_id.rsplit("-", 1)[-1]
        self.say(f"{stamp}  {image.account:<20} {short:<20} {change:<24} {note}".rstrip())

    def start(self, tick_s: float = 0.2) -> Traffic:
        def loop() -> None:
            while not self._stop.wait(tick_s):
                self.step()

        self.step()
        self._thread = threading.Thread(target=loop, name="sim-traffic", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
