"""A sample event of any event type, for checking templates and previewing messages. Pure.

Built from the type alone (``image.completed``, and whatever types the code adds: ``video.stalled``…),
so a check that walks ``EVENT_TYPES`` covers every type without a list of its own.
"""

from __future__ import annotations

from typing import Any

from notifier.state.events import Event, event_id, format_timestamp
from notifier.upstream.statuses import FINAL_NAMES, KNOWN_STATUSES, Status

NOW = 1_773_059_698.12


def sample_event(event_type: str, now: float = NOW) -> Event:
    kind, _, status = event_type.partition(".")
    name = status.upper() or "UNKNOWN"
    codes = {known: code for code, (known, _) in KNOWN_STATUSES.items()}
    item_id = f"user:1234-pixverse:artist@example.com-{kind}:11223344"
    item: dict[str, Any] = {
        f"{kind}_id": item_id, f"{kind}_status": codes.get(name), "model": "qwen-image",
        "prompt": "A lighthouse on a cliff at dusk, warm light in the windows, oil painting",
        "quality": "720p", "aspect_ratio": "16:9", "seed": 123456, "output_width": 1280, "output_height": 720,
        "created_at": "2026-03-09T12:34:56Z",
    }
    data: dict[str, Any] = {
        f"{kind}_id": item_id, "email": "artist@example.com", "status": name, "status_code": codes.get(name),
        "final": name in FINAL_NAMES or name == "DELETED", "previous_status": "GENERATING",
    }
    if kind != "image":
        data["image_id"] = item_id  # what every sink shows as the item's id
    if name == "COMPLETED":
        url = f"https://media.pixverse.ai/{kind}/11223344.webp"
        data[f"{kind}_url"] = item[f"{kind}_url"] = url
        data.setdefault("image_url", url)
    data[kind] = item
    status_ = Status(name=name, code=codes.get(name), final=bool(data["final"]))
    return Event(id=event_id(item_id, status_), type=event_type, timestamp=format_timestamp(now), data=data)
