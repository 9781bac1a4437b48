"""Events: what a status change looks like on the wire. Pure: no I/O.

The payload follows the Standard Webhooks shape ``{"type", "timestamp",
"data"}``. The id is derived from the transition: the image, the previous and
the new status, and how many events the image had before (``seq``). Seeing the
same transition again (a poll retried after a crash, two pollers racing) gives
the same id, so receivers deduplicate on it; a transition that really happens
again (GENERATING -> PROCESSING twice) gets a new one. Delivery job ids are
built from it, so a new job never overwrites a pending one.

Videos are events of the same shape with ``video`` in every name (``video.completed``, ``video_id``,
``video_url``, ``video``); their ids are built the same way from the ``video_id``, which never equals an
``image_id``. Two more kinds are not status changes: ``*.stalled`` (once per item, not final after
``NOTIFIER_STALL_AFTER_S``) and ``*.expired`` (tracking stopped at ``NOTIFIER_IMAGE_MAX_AGE_S``). Final
events carry ``timing`` (:mod:`notifier.state.timing`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from notifier.bounds import bound_image
from notifier.state.keys import DEFAULT_SOURCE
from notifier.upstream.media import IMAGES, MEDIA, Medium
from notifier.upstream.statuses import DELETED, UNKNOWN, Status

STALLED = "stalled"
EXPIRED = "expired"
KINDS: tuple[str, ...] = (STALLED, EXPIRED)
"""Events that are not a status change: the item's status stays what it was."""


def medium_names(medium: Medium) -> frozenset[str]:
    """Status names that have their own event type for this medium."""
    return frozenset(name for name, _ in medium.statuses.values()) | {DELETED}


def types_of(medium: Medium) -> frozenset[str]:
    return frozenset(f"{medium.noun}.{name.lower()}" for name in (*medium_names(medium), UNKNOWN, *
                                                                 (k.upper() for k in KINDS)))


EVENT_TYPES: frozenset[str] = frozenset().union(*(types_of(m) for m in MEDIA.values()))
IMAGE_EVENT_TYPES: frozenset[str] = types_of(IMAGES)
_EMAIL_IN_ID = re.compile(r"pixverse:(?P<email>[^\s]+?)-(?:image|video):")


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    type: str
    timestamp: str
    data: dict[str, Any]

    @property
    def item_id(self) -> str | None:
        """The image's or the video's id."""
        item_id = self.data.get("image_id") or self.data.get("video_id")
        return None if item_id is None else str(item_id)

    def payload(self) -> dict[str, Any]:
        return {"type": self.type, "timestamp": self.timestamp, "data": self.data}


def event_type(status: Status, medium: Medium = IMAGES, kind: str | None = None) -> str:
    if kind is not None:
        return f"{medium.noun}.{kind}"
    return f"{medium.noun}.{status.name.lower()}" if status.name in medium_names(medium) else f"{medium.noun}.unknown"


def event_id(image_id: str, status: Status, *, previous: Status | None = None, seq: int = 0,
             kind: str | None = None) -> str:
    before = previous.key if previous is not None else "-"
    # A status change's id is unchanged from before stalled/expired existed; those add their kind.
    text = f"{image_id}\n{before}\n{status.key}\n{seq}" + (f"\n{kind}" if kind is not None else "")
    digest = hashlib.sha256(text.encode()).hexdigest()
    return f"evt_{digest[:32]}"


def format_timestamp(now: float) -> str:
    return datetime.fromtimestamp(now, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def email_of(image: dict[str, Any], account: str | None) -> str | None:
    """The account's email: the one polled, else the one the image id embeds."""
    if account:
        return account
    match = _EMAIL_IN_ID.search(str(image.get("image_id") or image.get("video_id") or ""))
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
    medium: Medium = IMAGES,
    kind: str | None = None,
    timing: dict[str, float | None] | None = None,
    age_s: float | None = None,
) -> Event:
    """``image`` is the item as received (a video for :data:`~notifier.upstream.media.VIDEOS`); ``kind``
    is None for a status change, else :data:`STALLED` or :data:`EXPIRED` (``age_s``: how long it has been
    in progress)."""
    noun = medium.noun
    image_id = str(image[medium.id_field])
    data: dict[str, Any] = {
        f"{noun}_id": image_id,
        "email": email_of(image, account),
        "source": source,
        "status": status.name,
        "status_code": status.code,
        "final": status.final,
        "previous_status": previous.name if previous else None,
    }
    if kind is not None:
        data["in_progress_s"] = None if age_s is None else round(age_s, 3)
    if timing is not None:
        data["timing"] = timing
    # Every delivery job copies the image, and the failed registry keeps it for weeks: bounded.
    bounded = bound_image(image)
    url = bounded.get(medium.url_field)
    if isinstance(url, str) and url:
        data[f"{noun}_url"] = url
    thumbnail = next((bounded[f] for f in medium.thumbnail_fields if isinstance(bounded.get(f), str)
                      and bounded[f].startswith(("https://", "http://"))), None)
    if thumbnail is not None:
        data["thumbnail_url"] = thumbnail
    data[noun] = bounded
    return Event(id=event_id(image_id, status, previous=previous, seq=seq, kind=kind),
                 type=event_type(status, medium, kind), timestamp=format_timestamp(now), data=data)
