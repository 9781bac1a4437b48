"""What one poll of one account found, and the small pure rules the scan uses. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from notifier.errors import UpstreamNotFound
from notifier.state.events import Event
from notifier.state.tracker import Observation
from notifier.state.transitions import Mode, created_at


@dataclass(slots=True)
class ScanResult:
    account: str
    mode: Mode
    requests: int = 0
    pages: int = 0
    seen: int = 0
    events: list[Event] = field(default_factory=list)
    lookups: int = 0
    skipped_items: int = 0
    active: int = 0
    """Images seen in progress (not final) in this poll."""
    remaining_s: list[float | None] = field(default_factory=list)
    """Per active image, the upstream's estimate of the seconds left (None when it gave none)."""
    capped: bool = False
    """The poll reached its page cap with more to read: the next one resumes at a cursor."""


@dataclass(frozen=True, slots=True)
class ScanLimits:
    page_size: int
    max_pages: int
    max_lookups: int
    max_age_s: float


def is_deletion(error: UpstreamNotFound) -> bool:
    """A lookup's 404 means the image is gone only when the upstream says so; "Configuration not
    found" and other 404s are not deletions. Pure."""
    return "deleted" in error.detail.lower()


def note_active(result: ScanResult, observations: list[Observation], now: float) -> None:
    for obs in observations:
        if not obs.status.final:
            result.active += 1
            result.remaining_s.append(remaining_s(obs.image, now))


def remaining_s(image: dict[str, Any], now: float) -> float | None:
    """Seconds the upstream expects the image still needs, from ``queue_data``; None when unknown."""
    queue = image.get("queue_data")
    if not isinstance(queue, dict):
        return None
    estimate, started = queue.get("estimated_gen_time"), queue.get("processing_start_time")
    if not isinstance(estimate, int | float) or isinstance(estimate, bool) or not isinstance(started, str):
        return None
    begun = created_at({"created_at": started})
    return None if begun is None else begun + float(estimate) - now
