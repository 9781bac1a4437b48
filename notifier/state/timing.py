"""How long an item queued and generated, for final events and the generation metrics. Pure.

Three instants, each from the upstream when it gives one, else from what the polls saw:

- created: the item's ``created_at``; else when a poll first saw it QUEUED (it cannot have been
  created much earlier); else unknown.
- generation started: ``queue_data.processing_start_time``; else when a poll first saw it in a
  generating status (GENERATING, PROCESSING); else unknown (e.g. first seen already final).
- finished: the final item's ``updated_at`` (its last change upstream); else the poll that saw it final.

The upstream's timestamps win over the polls' because a poll sees a change up to one poll interval late.
``queued_s`` = started - created, ``generating_s`` = finished - started, ``total_s`` = finished - created;
each is null when one of its two instants is unknown or the two are out of order (clock skew).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

GENERATING_NAMES = frozenset({"GENERATING", "PROCESSING"})


def parse_time(raw: Any) -> float | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _span(start: float | None, end: float | None) -> float | None:
    if start is None or end is None or end < start:
        return None
    return round(end - start, 3)


def timing(
    item: dict[str, Any], *, now: float, queued_seen_at: float | None, generating_seen_at: float | None
) -> dict[str, float | None]:
    """``timing`` of a final event. ``queued_seen_at``: when a poll first saw the item QUEUED (None if it
    never did); ``generating_seen_at``: when one first saw it generating."""
    created = parse_time(item.get("created_at"))
    if created is None:
        created = queued_seen_at
    queue = item.get("queue_data")
    started = parse_time(queue.get("processing_start_time")) if isinstance(queue, dict) else None
    if started is None:
        started = generating_seen_at
    finished = parse_time(item.get("updated_at"))
    if finished is None or (created is not None and finished < created):
        finished = now
    return {"queued_s": _span(created, started), "generating_s": _span(started, finished),
            "total_s": _span(created, finished)}
