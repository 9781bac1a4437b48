"""Print the README's event samples: one payload per event type, built by the real code.

``tests/test_readme.py`` checks that the README holds exactly this output, so the samples cannot drift
from what receivers get. Run: ``.venv/bin/python scripts/event_catalogue.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from notifier.state.events import build_event
from notifier.upstream.statuses import deleted, resolve

IMAGE_ID = "user:1234-pixverse:artist@example.com-image:11223344"
NOW = 1_773_059_698.12
# (code, previous code) per sample; None codes are the deleted case.
SAMPLES: list[tuple[int | None, int | None]] = [(5, None), (9, 5), (10, 9), (1, 10), (7, 9), (8, 9), (None, 10),
                                                (6, 9)]


def image(code: int) -> dict[str, Any]:
    body: dict[str, Any] = {"image_id": IMAGE_ID, "image_status": code, "model": "qwen-image",
                            "prompt": "a lighthouse at dusk, oil painting", "…": "every other upstream field"}
    if code == 1:
        body["image_url"] = "https://media.pixverse.ai/image/11223344.webp"
    return body


def catalogue() -> str:
    parts = []
    for code, previous in SAMPLES:
        img = image(code) if code is not None else {"image_id": IMAGE_ID}
        status = resolve(img) if code is not None else deleted()
        prev = resolve({"image_status": previous}) if previous is not None else None
        event = build_event(image=img, account="artist@example.com", status=status, previous=prev, now=NOW)
        body = json.dumps(event.payload(), ensure_ascii=False, indent=2)
        parts.append(f"`{event.type}` (`webhook-id: {event.id}`):\n\n```json\n{body}\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    print(catalogue(), end="")
