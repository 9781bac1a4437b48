"""What the attempt log records of one delivery attempt. Pure: plain data in, plain data out.

An attempt is recorded where its outcome is known (the delivery jobs call
:meth:`~notifier.delivery.attempt_log.AttemptLog.record` once per job); what it says is built here.
Events of other media (``video.*`` events with a ``video_id``) are recorded alike: the item id is the
first of ``item_id``, ``image_id``, ``video_id`` the payload has, the medium is the type's first word.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from notifier.delivery.policy import detected_at as timestamp_s
from notifier.errors import DeliveryError

OUTCOMES = ("delivered", "retrying", "failed")
"""``retrying``: this try failed and another is scheduled; ``failed``: no further try (until a replay)."""
ITEM_ID_FIELDS = ("item_id", "image_id", "video_id")


@dataclass(slots=True)
class Attempt:
    """One try, as recorded. Not frozen: a frozen dataclass sets each of its 15 fields through
    ``object.__setattr__``, which tripled its construction time (5.9 against 2.2 us, once per delivery)."""

    event_id: str
    item_id: str | None
    medium: str
    event_type: str
    account: str | None
    source: str | None
    sink: str
    at: float
    """When the answer (or the failure) came, epoch seconds."""
    outcome: str
    status: int | None
    """The HTTP status answered (None: no answer)."""
    latency_ms: float | None
    error_class: str | None
    error: str | None
    """Redacted, one line, at most 300 characters."""
    next_try_at: float | None
    detected_at: float
    """When its event was detected (its payload's ``timestamp``; else ``at``): the log's index orders by it."""

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it deep-copies, and this runs once per delivery.
        return {name: getattr(self, name) for name in _FIELDS}


_FIELDS = tuple(f.name for f in fields(Attempt))


def item_of(payload: dict[str, Any]) -> tuple[str | None, str]:
    """(item id, medium) of an event's payload: ``image.completed`` with an ``image_id`` is an image."""
    data = payload.get("data")
    item = None
    if isinstance(data, dict):
        for name in ITEM_ID_FIELDS:
            if data.get(name):
                item = data[name]
                break
    medium = str(payload.get("type", "")).split(".", 1)[0] or "unknown"
    return (str(item) if item is not None else None), medium


def detected_at(payload: dict[str, Any], fallback: float) -> float:
    """When an event was detected: its payload's ``timestamp``, else ``fallback``."""
    parsed = timestamp_s(str(payload.get("timestamp", "")))
    return fallback if parsed is None else parsed


def error_class(error: DeliveryError | None) -> str | None:
    """A short, stable name for what went wrong, to filter and count on."""
    if error is None:
        return None
    status = error.status_code
    if status is None:
        text = str(error)
        if "timed out" in text:
            return "timeout"
        if "could not connect" in text:
            return "connection"
        return "refused_locally"  # egress policy, a request that could not be built, a missing sink
    if status == 429:
        return "rate_limited"
    if 300 <= status < 400:
        return "redirect"
    if status >= 500:
        return "server_error"
    return "client_error"


def build_attempt(
    *,
    event_id: str,
    payload: dict[str, Any],
    sink: str,
    now: float,
    status: int | None = None,
    latency_s: float | None = None,
    error: DeliveryError | None = None,
    next_try_s: float | None = None,
    redact: Any = None,
) -> Attempt:
    """The record of one try: delivered when ``error`` is None, else retrying (``next_try_s`` set) or failed.

    ``redact`` masks secrets in the error's text (a :class:`~notifier.runtime.redact.Redactor`'s
    ``one_line``); without it the text is only cut to one line.
    """
    item, medium = item_of(payload)
    data = payload.get("data")
    message = None
    if error is not None:
        text = str(error)
        message = (redact(text) if redact is not None else " ".join(text.split()))[:300]
        status = error.status_code if status is None else status
    outcome = "delivered" if error is None else ("retrying" if next_try_s is not None else "failed")
    account = data.get("email") if isinstance(data, dict) else None
    source = data.get("source") if isinstance(data, dict) else None
    at = round(now, 3)
    return Attempt(
        event_id=event_id,
        item_id=item,
        medium=medium,
        event_type=str(payload.get("type", "")),
        account=str(account) if account is not None else None,
        source=str(source) if source is not None else None,
        sink=sink,
        at=at,
        outcome=outcome,
        status=status,
        latency_ms=round(latency_s * 1000, 1) if latency_s is not None else None,
        error_class=error_class(error),
        error=message,
        next_try_at=round(now + next_try_s, 3) if next_try_s is not None else None,
        detected_at=detected_at(payload, at),
    )


def number_attempts(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each record with its attempt number: its rank among the event's attempts to the same sink."""
    seen: dict[str, int] = {}
    numbered = []
    for record in records:
        sink = str(record.get("sink"))
        seen[sink] = seen.get(sink, 0) + 1
        numbered.append({**record, "attempt": seen[sink]})
    return numbered
