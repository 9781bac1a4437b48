"""Print the README's event samples: one payload per event type, built by the real code.

``tests/test_readme.py`` checks that the README holds exactly this output, so the samples cannot drift
from what receivers get, and that every type of ``notifier.state.events.EVENT_TYPES`` has a sample.
``sample_events()`` gives the same events to whoever needs one of each type (template checks).
Run: ``.venv/bin/python scripts/event_catalogue.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from notifier.state.events import EXPIRED, STALLED, Event, build_event
from notifier.state.timing import timing
from notifier.upstream.media import IMAGES, VIDEOS, Medium
from notifier.upstream.statuses import deleted, resolve

IMAGE_ID = "user:1234-pixverse:artist@example.com-image:11223344"
VIDEO_ID = "user:1234-pixverse:artist@example.com-video:55667788"
NOW = 1_773_059_698.12
# (code, previous code, kind) per sample; None codes are the deleted case.
SAMPLES: dict[str, list[tuple[int | None, int | None, str | None]]] = {
    "images": [(5, None, None), (9, 5, None), (10, 9, None), (1, 10, None), (7, 9, None), (8, 9, None),
               (None, 10, None), (6, 9, None), (9, None, STALLED), (10, None, EXPIRED)],
    "videos": [(5, None, None), (10, 5, None), (1, 10, None), (7, 10, None), (8, 10, None), (None, 10, None),
               (6, 10, None), (10, None, STALLED), (5, None, EXPIRED)],
}


def item(medium: Medium, code: int) -> dict[str, Any]:
    if medium is VIDEOS:
        body: dict[str, Any] = {"video_id": VIDEO_ID, "video_status": code, "model": "v5",
                                "prompt": "a lighthouse at dusk, waves rolling in", "duration": 5,
                                "created_at": "2026-03-09T12:32:10Z", "updated_at": "2026-03-09T12:34:50Z",
                                "…": "every other upstream field"}
        if code == 1:
            body["url"] = "https://media.pixverse.ai/video/55667788.mp4"
            body["first_frame"] = "https://media.pixverse.ai/video/55667788-first.jpg"
        return body
    body = {"image_id": IMAGE_ID, "image_status": code, "model": "qwen-image",
            "prompt": "a lighthouse at dusk, oil painting", "created_at": "2026-03-09T12:34:20Z",
            "updated_at": "2026-03-09T12:34:52Z", "…": "every other upstream field"}
    if code == 1:
        body["image_url"] = "https://media.pixverse.ai/image/11223344.webp"
    return body


def sample_events() -> list[Event]:
    """One event of every type, as receivers get it."""
    events = []
    for medium in (IMAGES, VIDEOS):
        for code, previous, kind in SAMPLES[medium.name]:
            body = item(medium, code) if code is not None else {medium.id_field: VIDEO_ID if medium is VIDEOS
                                                                   else IMAGE_ID}
            status = resolve(body, medium) if code is not None else deleted()
            prev = resolve({medium.status_field: previous}, medium) if previous is not None else None
            spans = timing(body, now=NOW, queued_seen_at=NOW - 40, generating_seen_at=NOW - 25) \
                if status.final and kind is None else None
            age = {STALLED: 912.4, EXPIRED: 86_401.0}.get(kind or "")
            events.append(build_event(image=body, account="artist@example.com", status=status, previous=prev,
                                      now=NOW, seq=1 if kind else 0, medium=medium, kind=kind, timing=spans,
                                      age_s=age))
    return events


def catalogue() -> str:
    parts = []
    for event in sample_events():
        body = json.dumps(event.payload(), ensure_ascii=False, indent=2)
        parts.append(f"`{event.type}` (`webhook-id: {event.id}`):\n\n```json\n{body}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    print(catalogue(), end="")
