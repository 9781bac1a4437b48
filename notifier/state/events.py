"""Events: what a status change looks like on the wire. Pure: no I/O.

The payload follows the Standard Webhooks shape ``{"type", "timestamp",
"data"}``. The id is derived from the transition: the image, the previous and
the new status, and how many events the image had before (``seq``). Seeing the
same transition again (a poll retried after a crash, two pollers racing) gives
the same id, so receivers deduplicate on it; a transition that really happens
again (GENERATING -> PROCESSING twice) gets a new one. Delivery job ids are
built from it, so a new job never overwrites a pending one.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from notifier.bounds import bound_image
from notifier.state.keys import DEFAULT_SOURCE
from notifier.upstream.statuses import DELETED, KNOWN_NAMES, UNKNOWN, Status

EVENT_TYPES: frozenset[str] = frozenset(
    f"image.{name.lower()}" for name in (*KNOWN_NAMES, DELETED, UNKNOWN)
)
_EMAIL_IN_ID = re.compile(r"pixverse:(?P<email>[^\s]+?)-image:")


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    type: str
    timestamp: str
    data: dict[str, Any]

    def payload(self) -> dict[str, Any]:
        return {"type": self.type, "timestamp": self.timestamp, "data": self.data}


def event_type(status: Status) -> str:
    return f"image.{status.name.lower()}" if status.known else "image.unknown"


def event_id(image_id: str, status: Status, *, previous: Status | None = None, seq: int = 0) -> str:
    before = previous.key if previous is not None else "-"
    digest = hashlib.sha256(f"{image_id}\n{before}\n{status.key}\n{seq}".encode()).hexdigest()
    return f"evt_{digest[:32]}"


def format_timestamp(now: float) -> str:
    return datetime.fromtimestamp(now, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def email_of(image: dict[str, Any], account: str | None) -> str | None:
    """The account's email: the one polled, else the one the image id embeds."""
    if account:
        return account
    match = _EMAIL_IN_ID.search(str(image.get("image_id", "")))
    return match.group("email") if match else None


def build_event(
    *,
    image: dict[str, Any],
    account: str | None,
    status: Status,
    previous: Status | None,
    now: float,
    seq: int = 0,
    source: str = DEFAULT_SOURCE,
) -> Event:
    image_id = str(image["image_id"])
    data: dict[str, Any] = {
        "image_id": image_id,
        "email": email_of(image, account),
        "source": source,
        "status": status.name,
        "status_code": status.code,
        "final": status.final,
        "previous_status": previous.name if previous else None,
    }
    # Every delivery job copies the image, and the failed registry keeps it for weeks: bounded.
    bounded = bound_image(image)
    url = bounded.get("image_url")
    if isinstance(url, str) and url:
        data["image_url"] = url
    data["image"] = bounded
    return Event(id=event_id(image_id, status, previous=previous, seq=seq), type=event_type(status),
                 timestamp=format_timestamp(now), data=data)
